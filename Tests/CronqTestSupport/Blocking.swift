import Foundation

/// Runs blocking work (rabbitmq-c, libcurl) on a thread of its own, never on Swift's cooperative
/// pool: the AMQP and HTTP handles are created, used and destroyed on that one thread.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let t = Thread {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
        t.stackSize = 1 << 20
        t.start()
    }
}

/// The broker `make test` starts. Integration tests are enabled only when it is configured, and under
/// `make test` it always is: there a missing broker fails the tests, it never skips them.
public enum TestBroker {
    public static let url: String? = ProcessInfo.processInfo.environment["CRONQ_TEST_AMQP_URL"]
    public static let node: String? = ProcessInfo.processInfo.environment["CRONQ_TEST_RABBITMQ_NODE"]
    public static var isConfigured: Bool { url != nil }
    public static var hostPort: String {
        guard let url, let at = url.firstIndex(of: "@") else { return "127.0.0.1:5682" }
        let rest = url[url.index(after: at)...]
        return String(rest.prefix { $0 != "/" })
    }

    /// Runs `rabbitmqctl -n <node> args…` and returns its stdout.
    @discardableResult
    public static func ctl(_ args: [String]) throws -> String {
        guard let node else { throw TestSupportError("CRONQ_TEST_RABBITMQ_NODE is not set") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/rabbitmqctl")
        p.arguments = ["-n", node] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestSupportError("rabbitmqctl \(args.joined(separator: " ")) exited \(p.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension TestBroker {
    /// Makes the broker close the connection whose `connection_name` is `name` (320 CONNECTION_FORCED),
    /// leaving every other test's connections alone.
    public static func closeConnection(named name: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let out = try ctl(["list_connections", "pid", "client_properties"])
            if let line = out.split(separator: "\n").first(where: { $0.contains(name) }),
                let pid = line.split(separator: "\t").first
            {
                try ctl(["close_connection", String(pid), "closed by a cronq test"])
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw TestSupportError("no connection named \(name)")
    }
}

/// A name no other test uses, for queues and exchanges.
public func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}
