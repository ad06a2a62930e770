import CronqHTTP
import CronqTestSupport
import Foundation
import Testing

/// The libcurl layer against a real HTTP server on loopback (`scripts/backend.py`).
@Suite("HTTP client", .serialized)
struct HTTPClientTests {
    let backend: ChildProcess

    init() throws {
        backend = try startBackend()
    }

    var base: String { "http://127.0.0.1:\(backend.port)" }

    func perform(_ requests: [HTTPRequest]) async throws -> [Result<HTTPResponse, HTTPError>] {
        try await onThread { HTTPClient().perform(requests) }
    }

    func one(_ r: HTTPRequest) async throws -> Result<HTTPResponse, HTTPError> {
        try await perform([r])[0]
    }

    @Test("2xx, 4xx and 5xx statuses come back as responses", arguments: [200, 204, 401, 404, 422, 500, 503])
    func statuses(code: Int) async throws {
        let r = try await one(HTTPRequest(method: "POST", url: "\(base)/status/\(code)"))
        let response = try r.get()
        #expect(response.status == code)
    }

    @Test("method, headers and body reach the server")
    func echo() async throws {
        let body = Array(#"{"a":1}"#.utf8)
        let r = try await one(
            HTTPRequest(
                method: "PUT", url: "\(base)/echo", headers: [("X-Cronq-Job", "every5min"), ("Idempotency-Key", "k1")],
                body: body))
        let response = try r.get()
        #expect(response.status == 200)
        let echo = try JSONSerialization.jsonObject(with: Data(response.bodyExcerpt)) as! [String: Any]
        #expect(echo["method"] as? String == "PUT")
        #expect(echo["body"] as? String == #"{"a":1}"#)
        let headers = echo["headers"] as! [String: String]
        #expect(headers["X-Cronq-Job"] == "every5min")
        #expect(headers["Idempotency-Key"] == "k1")
        #expect(headers["Expect"] == nil)
    }

    @Test("a POST without body sends Content-Length 0")
    func emptyPost() async throws {
        let response = try await one(HTTPRequest(method: "POST", url: "\(base)/echo")).get()
        let echo = try JSONSerialization.jsonObject(with: Data(response.bodyExcerpt)) as! [String: Any]
        #expect(echo["method"] as? String == "POST")
        let headers = echo["headers"] as! [String: String]
        #expect(headers["Content-Length"] == "0")
        // Nothing to describe: libcurl's default for a POST (a form-encoded type) would be a false claim.
        #expect(headers["Content-Type"] == nil, "\(headers)")
    }

    @Test("a caller's Content-Type is sent whatever its case; none is invented for a body without one")
    func contentType() async throws {
        let body = Array("a=1".utf8)
        let typed = try await perform([
            HTTPRequest(method: "POST", url: "\(base)/echo", headers: [("content-type", "text/plain")], body: body),
            HTTPRequest(method: "PATCH", url: "\(base)/echo", body: body),
        ])
        let seen = try typed.map {
            let echo = try JSONSerialization.jsonObject(with: Data(try $0.get().bodyExcerpt)) as! [String: Any]
            return (echo["headers"] as! [String: String]).first { $0.key.lowercased() == "content-type" }?.value
        }
        #expect(seen == ["text/plain", nil])
    }

    @Test("Retry-After is surfaced, in seconds and as an HTTP-date")
    func retryAfter() async throws {
        let a = try await one(HTTPRequest(method: "POST", url: "\(base)/retry-after/120")).get()
        #expect(a.status == 503)
        #expect(a.retryAfter == "120")
        let date = "Wed, 21 Oct 2026 07:28:00 GMT"
        let escaped = date.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let b = try await one(HTTPRequest(method: "POST", url: "\(base)/retry-after/\(escaped)")).get()
        #expect(b.retryAfter == date)
    }

    @Test("a redirect is not followed")
    func redirect() async throws {
        let r = try await one(HTTPRequest(method: "POST", url: "\(base)/redirect")).get()
        #expect(r.status == 302)
        #expect(r.location == "/status/200")
    }

    @Test("a slow server times out with a typed error")
    func timeout() async throws {
        let start = ContinuousClock.now
        let r = try await one(HTTPRequest(method: "POST", url: "\(base)/slow/3000", timeout: .milliseconds(300)))
        guard case .failure(let e) = r else { Issue.record("expected a timeout, got \(r)"); return }
        #expect(e.code == .timeout)
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test("connection refused is a typed error")
    func refused() async throws {
        // Bind a port and close it, so nothing listens there.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        let r = try await one(HTTPRequest(method: "POST", url: "http://127.0.0.1:\(port)/x"))
        guard case .failure(let e) = r else { Issue.record("expected refused, got \(r)"); return }
        #expect(e.code == .connectRefused)
    }

    @Test("a non-HTTP scheme is refused before anything is sent")
    func badScheme() async throws {
        let r = try await one(HTTPRequest(method: "GET", url: "file:///etc/passwd"))
        guard case .failure(let e) = r else { Issue.record("expected invalid request"); return }
        #expect(e.code == .invalidRequest)
    }

    @Test("a header value with a line break is refused (no header injection)")
    func headerInjection() async throws {
        let r = try await one(HTTPRequest(method: "GET", url: "\(base)/echo", headers: [("X-A", "1\r\nX-B: 2")]))
        guard case .failure(let e) = r else { Issue.record("expected invalid request"); return }
        #expect(e.code == .invalidRequest)
    }

    @Test("a header name with a colon or a line break is refused (no header injection)")
    func headerNames() async throws {
        for name in ["X-A: y", "X-A\r\nX-B", "X\nB"] {
            let r = try await one(HTTPRequest(method: "GET", url: "\(base)/echo", headers: [(name, "1")]))
            guard case .failure(let e) = r else {
                Issue.record("expected invalid request for \(Array(name.utf8))")
                continue
            }
            #expect(e.code == .invalidRequest)
            #expect(e.description.contains("contains a line break or colon"))
        }
    }

    @Test("100 concurrent requests all complete on one multi handle")
    func concurrent() async throws {
        let requests = (0..<100).map { i in
            HTTPRequest(method: "POST", url: "\(base)/slow/\(50 + i % 5)")
        }
        let start = ContinuousClock.now
        let results = try await perform(requests)
        let elapsed = ContinuousClock.now - start
        #expect(results.count == 100)
        #expect(results.allSatisfy { (try? $0.get().status) == 200 })
        // Serially this would take at least 5 s; concurrency makes it far shorter.
        #expect(elapsed < .seconds(4))
    }

    @Test("connections are kept across bursts: waves of requests that end together reuse the same connections")
    func keepsConnections() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cronq-http-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("backend.log").path
        let logged = try startBackend(log: log)
        defer { logged.stop() }
        let results = try await onThread { [port = logged.port] () -> [Result<HTTPResponse, HTTPError>] in
            let client = HTTPClient(keepConnections: 24)
            var all: [Result<HTTPResponse, HTTPError>] = []
            for _ in 0..<4 {
                all += client.perform(
                    (0..<24).map { _ in HTTPRequest(method: "POST", url: "http://127.0.0.1:\(port)/slow/100") })
            }
            return all
        }
        #expect(results.count == 96 && results.allSatisfy { (try? $0.get().status) == 200 })
        let peers = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["peer"] as? Int
        }
        #expect(peers.count == 96)
        #expect(Set(peers).count <= 24, "\(Set(peers).count) connections for 4 waves of 24 requests")
    }

    @Test(
        "a reused handle carries nothing over: each request's method, body, headers and timeout are its own, whatever came before"
    )
    func reusedHandles() async throws {
        let sequence: [HTTPRequest] = [
            HTTPRequest(method: "PUT", url: "\(base)/echo", headers: [("X-A", "1")], body: Array("one".utf8)),
            HTTPRequest(method: "PUT", url: "\(base)/echo", headers: [("X-B", "2")], body: Array("second".utf8)),
            HTTPRequest(method: "GET", url: "\(base)/echo"),
            HTTPRequest(method: "POST", url: "\(base)/echo", body: Array("third".utf8)),
            HTTPRequest(method: "POST", url: "\(base)/echo"),
            HTTPRequest(method: "POST", url: "\(base)/slow/2000", timeout: .milliseconds(200)),
            HTTPRequest(method: "POST", url: "\(base)/slow/300", timeout: .seconds(5)),
            HTTPRequest(method: "GET", url: "\(base)/echo", headers: [("X-C", "3")]),
            // Refused half-way through setting the handle up; the next request must not inherit any of it.
            HTTPRequest(method: "GET", url: "\(base)/echo", headers: [("X-D", "4"), ("X-Bad", "1\r\nX-Forged: 1")]),
            HTTPRequest(method: "GET", url: "\(base)/echo", headers: [("X-E", "5")]),
            HTTPRequest(method: "DELETE", url: "\(base)/echo", body: []),
        ]
        // One request at a time on one client: every request after the first takes the previous one's handle.
        let results = try await onThread { () -> [Result<HTTPResponse, HTTPError>] in
            let client = HTTPClient()
            return sequence.map { client.perform([$0])[0] }
        }
        func echo(_ i: Int) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(results[i].get().bodyExcerpt)) as! [String: Any]
        }
        func headers(_ i: Int) throws -> [String: String] { try echo(i)["headers"] as! [String: String] }
        #expect(try echo(0)["method"] as? String == "PUT" && echo(0)["body"] as? String == "one")
        #expect(try headers(0)["X-A"] == "1")
        #expect(try echo(1)["method"] as? String == "PUT" && echo(1)["body"] as? String == "second")
        #expect(try headers(1)["X-B"] == "2" && headers(1)["X-A"] == nil)
        #expect(try echo(2)["method"] as? String == "GET" && (echo(2)["body"] as? String ?? "").isEmpty)
        #expect(try headers(2)["X-B"] == nil && headers(2)["Content-Length"] == nil)
        #expect(try echo(3)["method"] as? String == "POST" && echo(3)["body"] as? String == "third")
        #expect(try echo(4)["method"] as? String == "POST" && headers(4)["Content-Length"] == "0")
        #expect(throws: HTTPError.self) { try results[5].get() }
        #expect((try? results[6].get().status) == 200, "the next request has its own, longer timeout")
        #expect(try echo(7)["method"] as? String == "GET" && headers(7)["X-C"] == "3")
        #expect(throws: HTTPError.self) { try results[8].get() }
        #expect(try echo(9)["method"] as? String == "GET" && headers(9)["X-E"] == "5")
        #expect(try headers(9)["X-C"] == nil && headers(9)["X-D"] == nil && headers(9)["X-Forged"] == nil)
        #expect(try echo(10)["method"] as? String == "DELETE")
    }

    @Test("the body excerpt is capped, the size is counted")
    func excerptCap() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 10_000)
        let r = try await one(HTTPRequest(method: "POST", url: "\(base)/echo", body: big)).get()
        #expect(r.bodyExcerpt.count == HTTPClient.bodyExcerptLimit)
        #expect(r.bodyBytes > 10_000)
    }

    @Test("TLS verification is on: a plain-HTTP server behind https fails with a TLS error")
    func tlsAgainstPlainServer() async throws {
        let r = try await one(
            HTTPRequest(method: "GET", url: "https://127.0.0.1:\(backend.port)/status/200", timeout: .seconds(5)))
        guard case .failure(let e) = r else { Issue.record("expected a TLS failure"); return }
        #expect(e.code == .tls || e.code == .reset)
    }
}
