import CronqCore
import CronqCrypto
import Foundation

/// A browser's session, carried whole in a signed cookie: no server-side store, so several `cronq web`
/// processes with the same token (behind one proxy) and a restarted one accept the same sessions.
struct WebSession: Sendable, Equatable {
    /// Random per session; the CSRF token is derived from it, and a login issues a new one (no fixation).
    var nonce: String
    /// Unix seconds after which the cookie is refused.
    var expires: Int64
    /// Logged in with the token (or no token is configured).
    var authenticated: Bool
}

/// Signs and checks session cookies and derives CSRF tokens, with HMAC-SHA256.
///
/// The key is derived from the `[web]` token, so that changing the token logs every browser out; without
/// a token (a loopback dashboard) it is random per process, and sessions exist only to carry CSRF tokens.
struct SessionSigner: Sendable {
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`).
    private let key: [UInt8]
    /// Whether a token is configured: sessions then start anonymous and need a login.
    let requiresLogin: Bool
    private let token: Secret?
    let lifetime: Int64

    init(token: Secret?, lifetime: Duration) {
        self.token = token
        requiresLogin = token != nil
        self.lifetime = lifetime.totalSeconds
        if let token {
            key = SHA256Digest.hash(Array(("cronq-web-session\u{0}" + token.reveal()).utf8))
        } else {
            key = SecureRandom.bytes(32)
        }
    }

    /// A new session: authenticated when no login is needed.
    func fresh(now: Int64, authenticated: Bool = false) -> WebSession {
        let bytes = Data(SecureRandom.bytes(16))
        return WebSession(
            nonce: Self.base64URL(bytes), expires: now + lifetime, authenticated: authenticated || !requiresLogin)
    }

    /// `v1.<nonce>.<expires>.<a|n>.<mac>`
    func cookieValue(_ s: WebSession) -> String {
        let payload = "v1.\(s.nonce).\(s.expires).\(s.authenticated ? "a" : "n")"
        return payload + "." + mac(payload)
    }

    /// The session a cookie carries, if its signature holds and it has not expired.
    func verify(_ value: String, now: Int64) -> WebSession? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let expires = Int64(parts[2]), expires > now,
            parts[3] == "a" || parts[3] == "n"
        else { return nil }
        let payload = parts[0...3].joined(separator: ".")
        guard Self.constantTimeEqual(mac(payload), String(parts[4])) else { return nil }
        return WebSession(nonce: String(parts[1]), expires: expires, authenticated: parts[3] == "a" || !requiresLogin)
    }

    /// The token every state-changing request of this session must carry (`_csrf`).
    func csrf(_ s: WebSession) -> String { mac("csrf.\(s.nonce)") }

    /// Whether `given` is the configured token (compared through HMACs: no timing difference by prefix).
    func checkToken(_ given: String) -> Bool {
        guard let token else { return true }
        return Self.constantTimeEqual(mac("login." + given), mac("login." + token.reveal()))
    }

    private func mac(_ text: String) -> String {
        Self.base64URL(Data(HMACSHA256.code(key: key, message: Array(text.utf8))))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    static func base64URL(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
