import CronqHTTP
import CronqTestSupport
import Foundation
import Testing

/// TLS verification is always on: a backend with a self-signed certificate is refused unless its CA
/// is configured (`ca_file`), and a certificate for another name is refused even then.
@Suite("HTTP client TLS", .serialized)
struct TLSTests {
    /// A self-signed certificate for 127.0.0.1 (IP SAN only), made with openssl in a temporary folder.
    static func selfSigned(_ dir: URL, name: String) throws -> (cert: String, key: String) {
        let cert = dir.appendingPathComponent("\(name).pem").path, key = dir.appendingPathComponent("\(name).key").path
        let r = try runTool(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cronq-test-\(name)",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
            ])
        guard r == 0 else { throw TestSupportError("openssl req failed (\(r))") }
        return (cert, key)
    }

    static func runTool(_ path: String, _ args: [String]) throws -> Int32 {
        try spawnAndWait(path, args, environment: ProcessInfo.processInfo.environment, output: "/dev/null")
    }

    @Test("self-signed backend: refused without its CA, accepted with it, refused for another name or another CA")
    func selfSignedBackend() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-tls-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try Self.selfSigned(dir, name: "server")
        let other = try Self.selfSigned(dir, name: "other")
        let backend = try startBackend(tls: server)
        defer { backend.stop() }
        let url = "https://127.0.0.1:\(backend.port)/status/204"
        func call(_ url: String, ca: String?) async throws -> Result<HTTPResponse, HTTPError> {
            try await onThread {
                HTTPClient().perform([HTTPRequest(method: "POST", url: url, timeout: .seconds(10), caFile: ca)])[0]
            }
        }

        let noCA = try await call(url, ca: nil)
        guard case .failure(let e) = noCA else {
            Issue.record("a self-signed certificate was accepted without its CA"); return
        }
        #expect(e.code == .tls, "\(e)")
        #expect(try await call(url, ca: server.cert).get().status == 204)
        let wrongCA = try await call(url, ca: other.cert)
        guard case .failure(let e2) = wrongCA else { Issue.record("accepted with another CA"); return }
        #expect(e2.code == .tls)
        let wrongName = try await call("https://localhost:\(backend.port)/status/204", ca: server.cert)
        guard case .failure(let e3) = wrongName else {
            Issue.record("accepted for a name the certificate does not carry"); return
        }
        #expect(e3.code == .tls, "\(e3)")
    }
}
