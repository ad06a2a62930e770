import CronqCore
import CronqTestSupport
import Foundation
import Testing

@testable import CronqWeb

/// Sessions and CSRF tokens: pure, no broker.
@Suite("Dashboard sessions")
struct SessionSignerTests {
    let signer = SessionSigner(token: Secret("dashboard-token-0123456789"), lifetime: .seconds(3600))

    @Test("a cookie round-trips; a changed byte, an expired one or another token's is refused")
    func cookies() {
        let s = signer.fresh(now: 1000, authenticated: true)
        let value = signer.cookieValue(s)
        #expect(signer.verify(value, now: 1001) == s)
        #expect(signer.verify(value, now: 1000 + 3600) == nil, "expired")
        #expect(signer.verify(value.replacingOccurrences(of: ".a.", with: ".n."), now: 1001) == nil)
        var flipped = Array(value)
        flipped[5] = flipped[5] == "A" ? "B" : "A"
        #expect(signer.verify(String(flipped), now: 1001) == nil)
        let other = SessionSigner(token: Secret("another-token-0123456789"), lifetime: .seconds(3600))
        #expect(other.verify(value, now: 1001) == nil, "a new token logs everyone out")
        #expect(signer.verify("", now: 1) == nil && signer.verify("v1.a.b.c.d", now: 1) == nil)
    }

    @Test("sessions start anonymous with a token, authenticated without one; each has its own CSRF token")
    func anonymousAndCSRF() {
        #expect(!signer.fresh(now: 0).authenticated)
        let open = SessionSigner(token: nil, lifetime: .seconds(60))
        #expect(open.fresh(now: 0).authenticated && !open.requiresLogin)
        let a = signer.fresh(now: 0)
        let b = signer.fresh(now: 0)
        #expect(a.nonce != b.nonce)
        #expect(signer.csrf(a) != signer.csrf(b) && signer.csrf(a) == signer.csrf(a))
    }

    @Test("the token check")
    func token() {
        #expect(signer.checkToken("dashboard-token-0123456789"))
        #expect(!signer.checkToken("dashboard-token-012345678"))
        #expect(!signer.checkToken(""))
    }

    @Test("forms: repeated keys, + and percent escapes")
    func forms() {
        let f = FormBody("id=a%40b&id=c+d&reason=&_csrf=x%2By")
        #expect(f.all("id") == ["a@b", "c d"])
        #expect(f["reason"] == nil && f["_csrf"] == "x+y" && f["missing"] == nil)
    }

    @Test("cronq web refuses a non-loopback listener without a token, naming the fix")
    func nonLoopbackNeedsToken() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("web"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cronq.toml").path
        try """
        [backends.default]
        base_url = "http://127.0.0.1:9"
        token = "t"
        [[jobs]]
        name = "a"
        schedule = "* * * * *"
        path = "/a"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", ["web", "--config", path, "--listen", "0.0.0.0:0"], timeout: 30)
        #expect(r.status == 1)
        #expect(r.stderr.contains("is not loopback and [web] token is not set"), "\(r.stderr)")
    }
}
