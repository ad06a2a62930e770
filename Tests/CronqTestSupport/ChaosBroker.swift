import Foundation

/// A second private RabbitMQ node for fault tests that restart or stop the broker, so the shared test
/// broker keeps serving every other test. Started and stopped with `scripts/rabbitmq.sh` (own data
/// dir, own ports, loopback only).
public final class ChaosBroker: @unchecked Sendable {
    public let node: String
    public let port: Int
    let env: [String: String]

    /// - Parameter extraEnvironment: more settings for `scripts/rabbitmq.sh` (e.g. its TLS listener).
    public init(name: String = "cronq-chaos", port: Int = 5684, extraEnvironment: [String: String] = [:]) throws {
        node = "\(name)@localhost"
        self.port = port
        var e = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
        e["CRONQ_RMQ_NODE"] = node
        e["CRONQ_RMQ_PORT"] = "\(port)"
        e["CRONQ_RMQ_MGMT_PORT"] = "\(port + 10000)"
        e["CRONQ_RMQ_DIST_PORT"] = "\(port + 20000)"
        env = e
        try script("up")
    }

    public var url: String { "amqp://guest:guest@127.0.0.1:\(port)/%2F?heartbeat=2" }

    @discardableResult
    func script(_ verb: String) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-\(node)-\(verb).log").path
        let status = try spawnAndWait(Repo.script("rabbitmq.sh"), [verb], environment: env, output: log)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestSupportError("rabbitmq.sh \(verb) failed: \(text)") }
        return text
    }

    public func ctl(_ args: [String]) throws {
        let status = try spawnAndWait(
            "/usr/sbin/rabbitmqctl", ["-n", node] + args, environment: env, output: "/dev/null")
        guard status == 0 else { throw TestSupportError("rabbitmqctl \(args) failed") }
    }

    /// Stops the RabbitMQ application (every connection drops), waits, and starts it again.
    /// Durable quorum queues and their messages survive, as in a real broker restart.
    public func restart(down seconds: Double = 2) throws {
        try ctl(["stop_app"])
        Thread.sleep(forTimeInterval: seconds)
        try ctl(["start_app"])
        try ctl(["await_startup"])
    }

    public func stop() { _ = try? script("down") }

    deinit { stop() }
}

/// posix_spawn + waitpid: a child run to completion without Foundation's `Process`, whose exit
/// monitoring can stall when called from a test suite's initializer. Output goes to a file (never a
/// pipe: daemons the child starts could hold a pipe open forever).
public func spawnAndWait(_ path: String, _ args: [String], environment: [String: String], output: String) throws
    -> Int32
{
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard rc == 0 else { throw TestSupportError("cannot start \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
