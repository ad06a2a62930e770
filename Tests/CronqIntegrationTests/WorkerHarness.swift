import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation

/// A private cronq deployment for one test: a unique prefix on the test broker, a test backend with a
/// token and a request log, a config file, and `cronq-worker` processes. Everything is removed by ``stop()``.
final class WorkerHarness: @unchecked Sendable {
    let prefix = uniqueName("wt")
    let token = "tok-\(UUID().uuidString)"
    let dir: URL
    let backend: ChildProcess
    var workers: [ChildProcess] = []
    let configPath: String
    let backendLog: String
    var names: Topology.Names { .init(prefix: prefix) }

    let brokerURL: String

    init(
        brokerURL: String = TestBroker.url!, backoff: [String] = ["1s", "2s"], maxAttempts: Int = 3,
        timeout: String = "5s",
        extraConfig: String = "", extraJobs: String = "", amqpExtra: String = "", backendExtra: String = ""
    ) throws {
        self.brokerURL = brokerURL
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        backendLog = dir.appendingPathComponent("backend.log").path
        backend = try startBackend(token: token, log: backendLog)
        configPath = dir.appendingPathComponent("cronq.toml").path
        try """
        [amqp]
        url = "\(brokerURL)"
        prefix = "\(prefix)"
        \(amqpExtra)
        [backends.default]
        base_url = "http://127.0.0.1:\(backend.port)"
        token = "${WT_TOKEN}"
        timeout = "\(timeout)"
        \(backendExtra)
        [retry]
        max_attempts = \(maxAttempts)
        backoff = [\(backoff.map { "\"\($0)\"" }.joined(separator: ", "))]
        [worker]
        grace = "10s"
        \(extraConfig)
        [[jobs]]
        name = "probe"
        schedule = "@daily"
        path = "/cron/ee-recent"
        \(extraJobs)
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        // Declare the topology before anything is published.
        let config = try self.config()
        try onThreadSync { [brokerURL] in
            let c = try AMQPConnection(url: AMQPURL(brokerURL))
            try TopologyDeclarer(connection: c).apply(Topology(config: config))
        }
    }

    func config() throws -> CronqConfig {
        try ConfigLoader(environment: ["WT_TOKEN": token]).load(path: configPath)
    }

    @discardableResult
    func startWorker(concurrency: Int = 16, extra: [String] = []) throws -> ChildProcess {
        _ = FileManager.default.createFile(atPath: logPath(workers.count), contents: nil)
        let log = FileHandle(forWritingAtPath: logPath(workers.count))!
        var env = ProcessInfo.processInfo.environment
        env["WT_TOKEN"] = token
        let w = try ChildProcess(
            Repo.root + "/.build/debug/cronq-worker",
            ["--config", configPath, "--concurrency", "\(concurrency)"] + extra,
            environment: env, waitForListening: false, stderr: log)
        workers.append(w)
        return w
    }

    func logPath(_ i: Int) -> String { dir.appendingPathComponent("worker-\(i).log").path }

    /// Every line every worker logged so far.
    func workerLogs() -> String {
        (0..<workers.count).map { (try? String(contentsOfFile: logPath($0), encoding: .utf8)) ?? "" }.joined()
    }

    /// The backend's request log, one dictionary per request.
    func requests() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: backendLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func message(
        job: String = "probe", path: String, scheduledAt: String = "2026-11-28T10:05:00Z", maxAttempts: Int = 3,
        backoff: [String] = ["1s", "2s"], timeoutMs: Int = 5000, id: String? = nil
    ) -> AMQPMessage {
        let m = JobMessage(
            job: job, scheduledAt: scheduledAt, backend: "default",
            request: .init(method: "POST", path: path, headers: [:], body: nil, timeoutMs: timeoutMs),
            retry: .init(maxAttempts: maxAttempts, backoff: backoff, maxDurationS: 3600))
        return raw(m.encoded(), id: id ?? m.messageID)
    }

    func raw(_ body: [UInt8], id: String, headers: AMQPTable? = nil) -> AMQPMessage {
        AMQPMessage(
            body: body,
            properties: AMQPProperties(
                contentType: "application/json", headers: headers, deliveryMode: 2, messageID: id,
                timestamp: 1_800_000_000,
                type: "cronq.job", appID: "cronq-test"))
    }

    /// Publishes to the jobs exchange with confirms, as the test's user or as `url`'s; fails the test
    /// setup if any is not confirmed.
    func publish(_ messages: [AMQPMessage], queue: String = "default", as url: String? = nil) throws {
        let exchange = names.jobsExchange
        try onThreadSync { [url = url ?? brokerURL] in
            let c = try AMQPConnection(url: AMQPURL(url))
            let ch = try c.openChannel()
            try ch.enableConfirms()
            for chunk in stride(from: 0, to: messages.count, by: 1000) {
                let batch = messages[chunk..<min(chunk + 1000, messages.count)].map {
                    OutgoingMessage(exchange: exchange, routingKey: queue, message: $0)
                }
                let results = try ch.publishAndConfirm(Array(batch), timeout: .seconds(60))
                guard results.allSatisfy({ $0 == .confirmed }) else {
                    throw TestSupportError("publish not confirmed: \(results)")
                }
            }
        }
    }

    /// Ready-message count of a queue (passive declare: exact, no lag).
    func count(_ queue: String) throws -> UInt32 {
        try onThreadSync { [brokerURL] in
            try AMQPConnection(url: AMQPURL(brokerURL)).openChannel().inspectQueue(queue).messageCount
        }
    }

    /// Takes every message in a queue (acking them): for inspecting dead letters.
    func drain(_ queue: String) throws -> [AMQPDelivery] {
        try onThreadSync { [brokerURL] in
            let ch = try AMQPConnection(url: AMQPURL(brokerURL)).openChannel()
            var out: [AMQPDelivery] = []
            while let d = try ch.get(queue: queue, noAck: true) { out.append(d) }
            return out
        }
    }

    /// Polls `condition` until true or `timeout`; returns whether it became true.
    func eventually(_ timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try condition()
    }

    func stop() {
        for w in workers { w.stop() }
        let guardQueues = ((try? config()).map(GuardQueues.names) ?? [])
        backend.stop()
        let t = Topology(
            config: (try? config()) ?? (try! ConfigLoader(environment: ["WT_TOKEN": "x"]).load(path: configPath)))
        try? onThreadSync { [brokerURL] in
            let ch = try AMQPConnection(url: AMQPURL(brokerURL)).openChannel()
            for q in t.queues { _ = try? ch.deleteQueue(q.name) }
            for q in guardQueues { _ = try? ch.deleteQueue(q) }
            for x in t.exchanges { try? ch.deleteExchange(x.name) }
        }
        try? FileManager.default.removeItem(at: dir)
    }
}

/// Runs blocking AMQP work on a fresh thread and waits for it (tests' synchronous helpers).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// - Parameter stackSize: for work that needs a deep stack (encoding messages nested thousands deep).
func onThreadSync<T>(stackSize: Int? = nil, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let t = Thread {
        box.result = Result { try body() }
        done.signal()
    }
    if let stackSize { t.stackSize = stackSize }
    t.start()
    done.wait()
    return try box.result!.get()
}
