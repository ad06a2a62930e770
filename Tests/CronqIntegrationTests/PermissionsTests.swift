import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// The least-privilege RabbitMQ setup of the README, with users created here: the ticker may only
/// publish jobs and events and use its lock and state queues; a worker may only consume work queues
/// and publish retries, dead letters and events. Neither may configure anything: an operator applies
/// the topology, and the services only check that it is there.
@Suite(
    "RabbitMQ permissions", .serialized,
    .enabled(if: TestBroker.isConfigured && TestBroker.node != nil, "run under `make test`"))
struct PermissionsTests {
    /// The README's permission set for a prefix: (configure, write, read) per role.
    static func permissions(prefix: String) -> (ticker: [String], worker: [String]) {
        let p = NSRegularExpression.escapedPattern(for: prefix)
        return (
            ticker: [
                "^$", "^\(p)\\.(jobs|events)$|^amq\\.default$", "^\(p)\\.ticker\\.(state|control|leader)$",
            ],
            worker: ["^$", "^\(p)\\.(retry|dead|events)$", "^\(p)\\.jobs\\..*$"]
        )
    }

    func url(user: String, password: String) -> String {
        TestBroker.url!.replacingOccurrences(of: "guest:guest@", with: "\(user):\(password)@")
    }

    @Test("ticker and worker run as least-privilege users; what they may not do is refused")
    func leastPrivilege() throws {
        let prefix = uniqueName("perm")
        let perms = Self.permissions(prefix: prefix)
        let tickerUser = "\(prefix)-ticker", workerUser = "\(prefix)-worker",
            password = "pw-\(UUID().uuidString.prefix(8))"
        for (user, p) in [(tickerUser, perms.ticker), (workerUser, perms.worker)] {
            _ = try TestBroker.ctl(["add_user", user, password])
            _ = try TestBroker.ctl(["set_permissions", "-p", "/", user] + p)
        }
        defer { for u in [tickerUser, workerUser] { _ = try? TestBroker.ctl(["delete_user", u]) } }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let backendLog = dir.appendingPathComponent("backend.log").path
        let backend = try startBackend(token: "perm-token", log: backendLog)
        defer { backend.stop() }
        let config = dir.appendingPathComponent("cronq.toml").path
        try """
        [amqp]
        url = "${AMQP_URL}"
        prefix = "\(prefix)"
        [backends.default]
        base_url = "http://127.0.0.1:\(backend.port)"
        token = "perm-token"
        [retry]
        max_attempts = 2
        backoff = ["1s"]
        [[jobs]]
        name = "ok"
        schedule = "* * * * * *"
        path = "/cron/ok"
        [[jobs]]
        name = "failing"
        schedule = "*/2 * * * * *"
        path = "/status/503"
        """.write(toFile: config, atomically: true, encoding: .utf8)

        // The operator (an administrator) applies the topology.
        var env = ProcessInfo.processInfo.environment
        env["AMQP_URL"] = TestBroker.url!
        let apply = try runCommand("cronq", ["topology", "apply", "--config", config], environment: env)
        #expect(apply.status == 0, "\(apply.stderr)")
        defer {
            let t = Topology(config: try! ConfigLoader(environment: ["AMQP_URL": TestBroker.url!]).load(path: config))
            try? onThreadSync {
                let ch = try AMQPConnection(url: AMQPURL(TestBroker.url!)).openChannel()
                for q in t.queues { _ = try? ch.deleteQueue(q.name) }
                for x in t.exchanges { try? ch.deleteExchange(x.name) }
            }
        }

        env["AMQP_URL"] = url(user: tickerUser, password: password)
        let tickerLog = dir.appendingPathComponent("ticker.log").path
        _ = FileManager.default.createFile(atPath: tickerLog, contents: nil)
        let ticker = try ChildProcess(
            Repo.root + "/.build/debug/cronq-ticker", ["--config", config], environment: env,
            waitForListening: false, stderr: FileHandle(forWritingAtPath: tickerLog)!)
        defer { ticker.stop() }
        env["AMQP_URL"] = url(user: workerUser, password: password)
        let workerLog = dir.appendingPathComponent("worker.log").path
        _ = FileManager.default.createFile(atPath: workerLog, contents: nil)
        let worker = try ChildProcess(
            Repo.root + "/.build/debug/cronq-worker", ["--config", config], environment: env,
            waitForListening: false, stderr: FileHandle(forWritingAtPath: workerLog)!)
        defer { worker.stop() }

        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        func deadCount() -> UInt32 {
            (try? onThreadSync {
                try AMQPConnection(url: AMQPURL(TestBroker.url!)).openChannel().inspectQueue("\(prefix).dead")
                    .messageCount
            }) ?? 0
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !(read(backendLog).contains("/cron/ok") && deadCount() > 0) {
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(
            read(backendLog).contains("\"/cron/ok\""),
            "fires reached the backend through the least-privilege ticker and worker")
        #expect(deadCount() > 0, "the worker could publish a retry and then a dead letter (503, 2 attempts)")
        #expect(read(tickerLog).contains("leadership acquired"), "\(read(tickerLog).suffix(800))")
        #expect(read(tickerLog).contains("msg=fired"))
        #expect(
            !read(tickerLog).contains("ACCESS_REFUSED") && !read(workerLog).contains("ACCESS_REFUSED"),
            "refused declares are verified quietly: \(read(workerLog).suffix(800))")

        // What each role may not do.
        let tickerURL = url(user: tickerUser, password: password), workerURL = url(user: workerUser, password: password)
        func refused(_ url: String, _ body: @escaping @Sendable (AMQPChannel) throws -> Void) -> Int? {
            do {
                try onThreadSync {
                    let c = try AMQPConnection(url: AMQPURL(url))
                    try body(try c.openChannel())
                }
                return nil
            } catch let e as AMQPError {
                return e.replyCode.map(Int.init)
            } catch {
                return -1
            }
        }
        #expect(
            refused(tickerURL) { _ = try $0.consume(queue: "\(prefix).jobs.default") } == 403,
            "the ticker may not consume work")
        #expect(
            refused(tickerURL) { _ = try $0.declareQueue("\(prefix).extra") } == 403, "the ticker may not create queues"
        )
        #expect(
            refused(workerURL) { _ = try $0.get(queue: "\(prefix).ticker.state") } == 403,
            "a worker may not read the checkpoint")
        #expect(refused(workerURL) { try $0.deleteQueue("\(prefix).dead") } == 403, "a worker may not delete queues")
        #expect(
            refused(workerURL) { ch in
                try ch.enableConfirms()
                let r = try ch.publishAndConfirm(
                    [
                        OutgoingMessage(
                            exchange: "\(prefix).jobs", routingKey: "default",
                            message: AMQPMessage(body: Array("{}".utf8)))
                    ],
                    timeout: .seconds(5))
                if r.first != .confirmed { throw AMQPError(.channelClosed, replyCode: 403, detail: "not confirmed") }
            } == 403, "a worker may not publish jobs")
    }
}
