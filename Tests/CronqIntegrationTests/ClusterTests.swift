import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// cronq on a private three-node RabbitMQ cluster (`scripts/cluster.sh`), every process given all three
/// endpoints: nodes are SIGKILLed under every-second jobs, and the accounting checker must balance.
/// Run by `make test-cluster` (and so by `make test`) after the main suite.
@Suite(
    "Cluster", .serialized,
    .enabled(
        if: TestBroker.isConfigured && ProcessInfo.processInfo.environment["CRONQ_CLUSTER"] != nil,
        "run by `make test-cluster` / `make test`"))
struct ClusterTests {
    /// The node a process's last connection went to, from its log's `endpoint=` (the password is never logged).
    static func node(in log: String, cluster: TestCluster, after marker: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains(marker) }),
            let r = line.range(of: #"endpoint=amqp://[^ ]*127\.0\.0\.1:(\d+)"#, options: .regularExpression)
        else { return nil }
        let port = line[r].split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
        return port.flatMap(cluster.node(ofPort:))
    }

    /// Every-second jobs flowing on the cluster through 2 tickers and 3 workers; returns the deployment,
    /// the leading ticker's slot and the node it is connected to.
    static func flowing(on cluster: TestCluster, jobPrefix: String) throws -> (Deployment, leader: Int, node: Int) {
        let d = try Deployment(
            broker: cluster, jobs: (0..<4).map { ("\(jobPrefix)\($0)", "* * * * * *", "/random-fail/0") })
        do {
            try d.startTicker()
            try d.startTicker()
            for _ in 0..<3 { try d.startWorker() }
            #expect(waitFor(30) { d.leaderIndex() != nil && d.logs("worker").contains("outcome=success") })
            Thread.sleep(forTimeInterval: 3)
            let leader = try #require(d.leaderIndex())
            let node = try #require(
                Self.node(in: d.tickerLog(leader), cluster: cluster, after: "standing by for the leader lock"))
            return (d, leader, node)
        } catch {
            d.stop()
            throw error
        }
    }

    @Test(
        "the leader's node and then a worker's node are SIGKILLed: leadership moves within 15 s, workers move, nothing is lost"
    )
    func nodeLoss() throws {
        let cluster = try TestCluster()
        defer { cluster.stop() }
        // (a) The node the leading ticker is connected to.
        let (d, _, leaderNode) = try Self.flowing(on: cluster, jobPrefix: "k")
        defer { d.stop() }
        let killedAt = Date()
        try cluster.kill(leaderNode)
        let acquiredBefore = d.logs("ticker").components(separatedBy: "leadership acquired").count
        #expect(
            waitFor(15) { d.logs("ticker").components(separatedBy: "leadership acquired").count > acquiredBefore },
            "a ticker leads again within 15 s of the leader's node dying")
        let takeover = Date().timeIntervalSince(killedAt)
        print(
            "cluster: node \(leaderNode) (the leader's) killed; leadership again after \(String(format: "%.1f", takeover)) s"
        )
        // `cronq status` sees the missing replicas (management API of a live node) and says what to do.
        var env = d.environment
        env["DEP_MGMT_URL"] = cluster.managementURL
        #expect(
            waitFor(20) {
                let r = try? runCommand("cronq", ["status", "--config", d.configPath], environment: env)
                return r?.status == 2 && r?.stderr.contains("2 of 3 members online") == true
                    && r?.stderr.contains("rabbitmq-queues grow") == true
            }, "status exits 2 while a replica is down")
        Thread.sleep(forTimeInterval: 2)
        try cluster.start(leaderNode)
        #expect(
            waitFor(30) {
                (try? runCommand("cronq", ["status", "--config", d.configPath], environment: env))?.status == 0
            }, "and 0 once every member is back")
        Thread.sleep(forTimeInterval: 3)

        // (c) The node a worker is connected to (one the leader is not on, when there is one).
        let workerNodes = (0..<d.workers.count).compactMap {
            Self.node(
                in: (try? String(contentsOfFile: d.workerLogPath($0), encoding: .utf8)) ?? "", cluster: cluster,
                after: "msg=connected")
        }
        let leaderNow = d.leaderIndex().flatMap {
            Self.node(in: d.tickerLog($0), cluster: cluster, after: "standing by for the leader lock")
        }
        let workerNode = try #require(workerNodes.first { $0 != leaderNow } ?? workerNodes.first)
        let reconnectsBefore = d.logs("worker").components(separatedBy: "msg=connected").count
        try cluster.kill(workerNode)
        #expect(
            waitFor(15) { d.logs("worker").components(separatedBy: "msg=connected").count > reconnectsBefore },
            "the worker reconnects to another node")
        Thread.sleep(forTimeInterval: 5)
        try cluster.start(workerNode)
        Thread.sleep(forTimeInterval: 5)

        _ = try d.stopAndAccount("cluster[node loss]")
    }

    /// The fires one ticker's log records: scheduled instant (epoch seconds) and lateness at the confirm.
    static func fires(in log: String) -> [(instant: Int64, latenessMs: Int)] {
        log.split(separator: "\n").filter { $0.contains("msg=fired ") }.compactMap { line in
            guard
                let instant = Accounting.field("message_id", in: line)?.split(separator: "@").last.flatMap({
                    Timestamp.parse(String($0))
                }),
                let lateness = Accounting.field("lateness_ms", in: line).flatMap(Int.init)
            else { return nil }
            return (instant, lateness)
        }
    }

    @Test(
        "a partition cuts the leader's node off: under pause_minority it stops firing, one ticker leads on the majority side, nothing is lost"
    )
    func partition() throws {
        let cluster = try TestCluster()
        defer { cluster.stop() }
        let (d, leader, node) = try Self.flowing(on: cluster, jobPrefix: "p")
        defer { d.stop() }
        func acquisitions() -> Int { d.logs("ticker").components(separatedBy: "leadership acquired").count }
        let acquiredBefore = acquisitions()
        let queueLeader = Self.queueLeaderNode(d.names.workQueue("default"), cluster: cluster, asking: node)
        let cutAt = Int64(Date().timeIntervalSince1970)
        try cluster.partition(node)
        #expect(
            waitFor(15) { acquisitions() > acquiredBefore },
            "a ticker on the majority side leads within 15 s of the leader's node being cut off")
        // The majority sees the node go at once and hands the token on; the minority node closes its clients
        // when it pauses, a moment later (its fires meanwhile cannot be confirmed: no quorum there).
        #expect(
            waitFor(10) { d.tickerLog(leader).contains("leadership lost") },
            "the leader on the minority side gave leadership up")
        let takenAt = Int64(Date().timeIntervalSince1970)
        Thread.sleep(forTimeInterval: 15)
        let from = takenAt + 3
        let to = Int64(Date().timeIntervalSince1970) - 2

        try cluster.heal(node)
        #expect(waitFor(60) { cluster.allRunning(asking: node % 3 + 1) }, "the paused node rejoins once healed")
        Thread.sleep(forTimeInterval: 5)
        // Judged once healed, not at the end of the window: on 3.10, when the node cut off led the work
        // queue, the majority side has nacked every publish of the new leader for ~15 s, with the workers
        // idle too (retried each second, confirmed late; docs/decisions.md, "A partition can delay fires
        // by ~15 s").
        // The instants past the takeover are fired by one ticker only: the leader cut off does not go on
        // firing beside the new one. (Either ticker may be that one: both may have been connected to the
        // node cut off, and the old leader may take the token again through another node.)
        let fires = (0..<2).map { Self.fires(in: d.tickerLog($0)).filter { $0.instant >= from && $0.instant <= to } }
        let firing = (0..<2).filter { !fires[$0].isEmpty }
        #expect(firing.count == 1, "the instants \(from)...\(to) were fired by ticker(s) \(firing), not by one")
        let lateMs = fires.joined().map(\.latenessMs).max() ?? 0
        #expect(lateMs < 45_000, "the partition's fires were confirmed at most \(lateMs) ms late")
        let nacked = (0..<2).map { d.tickerLog($0).components(separatedBy: "fire not confirmed").count - 1 }.reduce(
            0, +)
        print(
            "cluster: node \(node) cut off (the work queue's leader on node \(queueLeader.map(String.init) ?? "?")); leadership again \(takenAt - cutAt) s after the cut; instants \(from)...\(to) fired by ticker \(firing), at most \(lateMs) ms late; \(nacked) publishes not confirmed"
        )
        _ = try d.stopAndAccount("cluster[partition]")
    }

    @Test("topology apply warns about queues created with fewer replicas than [amqp] replicas asks for")
    func shortReplicas() throws {
        let cluster = try TestCluster()
        defer { cluster.stop() }
        let d = try Deployment(broker: cluster, jobs: [("r", "0 0 * * *", "/ok")])
        defer { d.stop() }
        let config = try String(contentsOfFile: d.configPath, encoding: .utf8)
        func apply(replicas: Int, management: String?) throws -> CommandResult {
            try config.replacingOccurrences(of: "[amqp]\n", with: "[amqp]\nreplicas = \(replicas)\n")
                .write(toFile: d.configPath, atomically: true, encoding: .utf8)
            var env = d.environment
            env["DEP_MGMT_URL"] = management
            return try runCommand("cronq", ["topology", "apply", "--config", d.configPath], environment: env)
        }
        let first = try apply(replicas: 1, management: nil)
        #expect(first.status == 0, "\(first.stderr)")
        let again = try apply(replicas: 3, management: cluster.managementURL)
        #expect(again.status == 0, "a short queue is a warning, not a failure: \(again.stderr)")
        #expect(again.stderr.contains("queue \(d.names.workQueue("default")) has 1 of the 3 replicas asked for"))
        #expect(again.stderr.contains("queue \(d.names.deadQueue) has 1 of the 3 replicas asked for"))
        #expect(again.stderr.contains("rabbitmq-queues grow <node> all"))
    }

    /// The node that hosts the quorum leader of `queue` (3.10: `rabbitmqctl list_queues name leader`).
    static func queueLeaderNode(_ queue: String, cluster: TestCluster, asking node: Int) -> Int? {
        guard let text = try? cluster.ctl(node, ["list_queues", "name", "leader", "--no-table-headers", "--quiet"]),
            let line = text.split(separator: "\n").first(where: {
                $0.hasPrefix(queue + "\t") || $0.hasPrefix(queue + " ")
            }),
            let r = line.range(of: #"cronq-c(\d)@"#, options: .regularExpression)
        else { return nil }
        return Int(line[r].dropFirst("cronq-c".count).prefix(1))
    }

    @Test(
        "cluster soak: a node killed and restarted every ~20 s in turn, 2 tickers, 3 workers, retries and dead letters flowing"
    )
    func soak() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["CRONQ_CLUSTER_SOAK_SECONDS"] ?? "") ?? 60
        let cluster = try TestCluster()
        defer { cluster.stop() }
        var jobs = (0..<12).map { ("s\($0)", "* * * * * *", "/random-fail/10") }
        jobs.append(("gone", "*/3 * * * * *", "/status/404"))  // dead letters flow too
        let d = try Deployment(broker: cluster, jobs: jobs, maxAttempts: 3)
        defer { d.stop() }
        try d.startTicker()
        try d.startTicker()
        for _ in 0..<3 { try d.startWorker() }
        #expect(waitFor(30) { d.leaderIndex() != nil && d.logs("worker").contains("outcome=success") })
        let start = Date()
        var round = 0
        var killedQueueLeader = false
        while Date().timeIntervalSince(start) < seconds - 12 {
            Thread.sleep(forTimeInterval: 6)
            // First the node that hosts the work queue's quorum leader (case b), then each node in turn.
            var node = round % 3 + 1
            if !killedQueueLeader,
                let leaderNode = Self.queueLeaderNode(
                    d.names.workQueue("default"), cluster: cluster, asking: node % 3 + 1)
            {
                node = leaderNode
                killedQueueLeader = true
            }
            try cluster.kill(node)
            print("cluster soak: node \(node) killed at \(Int(Date().timeIntervalSince(start))) s")
            Thread.sleep(forTimeInterval: 8)
            try cluster.start(node)
            Thread.sleep(forTimeInterval: 6)
            round += 1
        }
        #expect(killedQueueLeader, "the work queue's quorum leader node was among the killed")
        let a = try d.stopAndAccount("cluster soak (\(Int(seconds)) s, \(round) node kills)")
        #expect(round >= 2 && a.dead.count > 0 && a.succeeded.count > 0)
    }
}
