import CronqAMQP
import CronqTestSupport
import Foundation
import Testing

/// `amqps://` against a RabbitMQ node with a TLS listener, certificates generated here (a CA and a
/// server certificate it signs): verification is always on, so the broker is trusted only through
/// `cacertfile`.
@Suite("AMQP over TLS", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct AMQPTLSTests {
    static func openssl(_ args: [String]) throws {
        let status = try spawnAndWait(
            "/usr/bin/openssl", args, environment: ProcessInfo.processInfo.environment, output: "/dev/null")
        guard status == 0 else { throw TestSupportError("openssl \(args.first ?? "") failed (\(status))") }
    }

    /// ca.pem, server.pem (for 127.0.0.1 and localhost, signed by the CA), server.key, and other-ca.pem.
    static func certificates(in dir: URL) throws {
        let p = { (name: String) in dir.appendingPathComponent(name).path }
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cronq-test-ca",
            "-keyout", p("ca.key"), "-out", p("ca.pem"),
        ])
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cronq-other-ca",
            "-keyout", p("other-ca.key"), "-out", p("other-ca.pem"),
        ])
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p("server.key"), "-out",
            p("server.csr"),
        ])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: p("san.ext"), atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", p("san.ext"), "-out", p("server.pem"),
        ])
        // The broker runs as the rabbitmq user: rabbitmq.sh copies these into its own folder.
        for f in ["ca.pem", "server.pem", "server.key"] { chmod(p(f), 0o644) }
    }

    @Test(
        "amqps with the CA: connect, publish with a confirm, read it back; without it, with another CA or by IP: a TLS error"
    )
    func amqps() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-amqps-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.certificates(in: dir)
        let tlsPort = 5691
        let broker = try ChaosBroker(
            name: "cronq-tls", port: 5690,
            extraEnvironment: [
                "CRONQ_RMQ_TLS_PORT": "\(tlsPort)", "CRONQ_RMQ_TLS_DIR": dir.path,
            ])
        defer { broker.stop() }
        let ca = dir.appendingPathComponent("ca.pem").path
        // rabbitmq-c 0.11 matches the host against DNS names only (not IP addresses): amqps URLs name a host.
        let good = "amqps://guest:guest@localhost:\(tlsPort)/%2F?cacertfile=\(ca)"
        try await onThread {
            let c = try AMQPConnection(url: AMQPURL(good), name: "cronq-tls-test")
            let ch = try c.openChannel()
            let q = uniqueName("tls")
            try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum")])
            try ch.enableConfirms()
            let r = try ch.publishAndConfirm([
                OutgoingMessage(exchange: "", routingKey: q, message: AMQPMessage(body: Array("over tls".utf8)))
            ])
            guard r.first == .confirmed else { throw TestSupportError("not confirmed over TLS: \(r)") }
            let d = try ch.get(queue: q, noAck: true)
            guard d.map({ String(decoding: $0.message.body, as: UTF8.self) }) == "over tls" else {
                throw TestSupportError("message not read back")
            }
            _ = try ch.deleteQueue(q)
            c.close()
        }
        for (url, why) in [
            ("amqps://guest:guest@localhost:\(tlsPort)/%2F", "the system CAs do not know a private CA"),
            (
                "amqps://guest:guest@localhost:\(tlsPort)/%2F?cacertfile=\(dir.appendingPathComponent("other-ca.pem").path)",
                "another CA"
            ),
            (
                "amqps://guest:guest@127.0.0.1:\(tlsPort)/%2F?cacertfile=\(ca)",
                "an IP address is not a name the library can verify"
            ),
        ] {
            let e = await #expect(throws: AMQPError.self, "\(why)") {
                try await onThread { try AMQPConnection(url: AMQPURL(url)).close() }
            }
            #expect(e?.code == .tls, "\(why): \(String(describing: e))")
        }
    }
}
