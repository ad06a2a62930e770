import Foundation

/// What a deployment under test connects to: one node, or a cluster.
public protocol BrokerUnderTest: AnyObject, Sendable {
    /// For the test's own connections: an endpoint that is up now.
    var url: String { get }
    /// What cronq's processes are given (`[amqp] urls`).
    var processURLs: [String] { get }
    /// Its management API, when it has one (for what passive declares cannot count).
    var management: String? { get }
}

/// The broker `make test` started, shared by every test (each deployment has its own prefix).
public final class SharedBroker: BrokerUnderTest {
    public init() {}
    public var url: String { TestBroker.url ?? "amqp://guest:guest@127.0.0.1:5682/%2F" }
    public var processURLs: [String] { [url] }
    public var management: String? { ProcessInfo.processInfo.environment["CRONQ_TEST_MANAGEMENT_URL"] }
}

extension ChaosBroker: BrokerUnderTest {
    public var processURLs: [String] { [url] }
    public var management: String? { "http://guest:guest@127.0.0.1:\(port + 10000)" }
}

/// A private three-node RabbitMQ cluster (`scripts/cluster.sh`), started by the test that needs it and
/// stopped by ``stop()``. Nodes are numbered 1-3; a node can be SIGKILLed and started again.
public final class TestCluster: BrokerUnderTest, @unchecked Sendable {
    public let basePort: Int
    private let lock = NSLock()
    private var killed: Set<Int> = []

    public init(basePort: Int = 5721) throws {
        self.basePort = basePort
        try script(["up"])
    }

    public func port(of node: Int) -> Int { basePort + node - 1 }

    /// The node (1-3) listening on `port`, if any.
    public func node(ofPort port: Int) -> Int? { (1...3).first { self.port(of: $0) == port } }

    func endpoint(_ node: Int) -> String { "amqp://guest:guest@127.0.0.1:\(port(of: node))/%2F?heartbeat=2" }

    public var processURLs: [String] { (1...3).map(endpoint) }

    /// A node that is up now (the first not killed).
    var liveNode: Int {
        lock.lock()
        defer { lock.unlock() }
        return (1...3).first { !killed.contains($0) } ?? 1
    }

    public var url: String { endpoint(liveNode) }

    /// The management API of a node that is up now.
    public var managementURL: String { "http://guest:guest@127.0.0.1:\(port(of: liveNode) + 10000)" }
    public var management: String? { managementURL }

    /// SIGKILL, as a crashed host: no goodbye to clients or peers.
    public func kill(_ node: Int) throws {
        try script(["kill", "\(node)"])
        mark(node, down: true)
    }

    /// Starts a killed node again; it rejoins the cluster with its data.
    public func start(_ node: Int) throws {
        try script(["start", "\(node)"])
        mark(node, down: false)
    }

    /// Cuts a node off from the other two (`cluster.sh partition`): under `pause_minority` it pauses and
    /// closes its clients' connections; the majority goes on. Clients on loopback still reach every node.
    public func partition(_ node: Int) throws {
        try script(["partition", "\(node)"])
        mark(node, down: true)
    }

    /// Ends ``partition(_:)``: the node reconnects and, no longer in a minority, starts serving again.
    public func heal(_ node: Int) throws {
        try script(["heal", "\(node)"])
        mark(node, down: false)
    }

    /// Keeps ``url`` and ``managementURL`` on nodes that serve.
    private func mark(_ node: Int, down: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if down { killed.insert(node) } else { killed.remove(node) }
    }

    /// Whether every node runs RabbitMQ and sees the other two (from node `asking`'s view).
    public func allRunning(asking node: Int) -> Bool {
        guard let text = try? ctl(node, ["eval", "length(rabbit_nodes:all_running())."]) else { return false }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == "3"
    }

    /// `rabbitmqctl` against one node.
    public func ctl(_ node: Int, _ args: [String]) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-ctl-\(UUID().uuidString).log")
            .path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let status = try spawnAndWait(
            "/usr/sbin/rabbitmqctl", ["-n", "cronq-c\(node)@localhost"] + args,
            environment: ProcessInfo.processInfo.environment,
            output: out)
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestSupportError("rabbitmqctl \(args) on node \(node) failed: \(text)") }
        return text
    }

    public func stop() { _ = try? script(["down"]) }

    @discardableResult
    func script(_ args: [String]) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cluster-\(args.joined(separator: "-")).log"
        ).path
        var env = ProcessInfo.processInfo.environment
        env["CRONQ_CLUSTER_PORT"] = "\(basePort)"
        let status = try spawnAndWait(Repo.script("cluster.sh"), args, environment: env, output: log)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestSupportError("cluster.sh \(args.joined(separator: " ")) failed: \(text)") }
        return text
    }
}
