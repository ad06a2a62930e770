import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// A whole cronq deployment for fault tests: tickers, workers and a test backend on a broker of their
/// own (a `ChaosBroker`, so restarts disturb no other test). Every process can be killed and started
/// again; every log is kept (one file per process start) for the ``Accounting`` check at the end.
final class Deployment: @unchecked Sendable {
    let broker: any BrokerUnderTest
    let prefix = uniqueName("dep")
    let token = "dep-token-\(UUID().uuidString)"
    /// Standard Webhooks form: `whsec_` + base64 of 32 random bytes.
    let signingSecret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    let dir: URL
    let configPath: String
    let backendLog: String
    private(set) var backendPort = 0
    private(set) var backend: ChildProcess?
    private(set) var tickers: [ChildProcess?] = []
    private(set) var workers: [ChildProcess?] = []
    /// When a ticker was SIGKILLed (for the accounting: it may have published fires it never logged).
    private var tickerKills: [Date] = []
    private var logFiles: [String] = []
    private var tickerLogPaths: [String] = []
    private var workerLogPaths: [String] = []
    let jobs: [(name: String, schedule: String, path: String)]
    /// The retry tiers' names, as configured.
    let backoff: [String]
    private let jobExtraByName: [String: String]
    var names: Topology.Names { .init(prefix: prefix) }

    /// - Parameter jobs: `(name, 6-field schedule, path)`; every job catches up `all` missed fires.
    /// - Parameter jobExtra: more TOML lines for some jobs, by name (e.g. `overlap = "skip"`).
    /// - Parameter backendExtra: more keys of `[backends.default]` (limits, breaker).
    /// - Parameter extra: more TOML at the end (`[[notify]]` sinks); `BACKEND` is replaced by the backend's URL.
    init(
        broker: any BrokerUnderTest, jobs: [(name: String, schedule: String, path: String)], maxAttempts: Int = 5,
        backoff: [String] = ["1s", "2s"], timeout: String = "3s", jobExtra: [String: String] = [:], extra: String = "",
        backendExtra: String = ""
    ) throws {
        self.broker = broker
        self.jobs = jobs
        self.backoff = backoff
        self.jobExtraByName = jobExtra
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        backendLog = dir.appendingPathComponent("backend.log").path
        configPath = dir.appendingPathComponent("cronq.toml").path
        try startBackend()
        var text = """
            [amqp]
            urls = "${DEP_AMQP_URLS}"
            management_url = "${DEP_MGMT_URL:-}"
            prefix = "\(prefix)"
            [backends.default]
            base_url = "http://127.0.0.1:\(backendPort)"
            token = "${DEP_TOKEN}"
            signing_secret = "${DEP_SIGNING}"
            timeout = "\(timeout)"
            connect_timeout = "1s"
            \(backendExtra)
            [retry]
            max_attempts = \(maxAttempts)
            backoff = [\(backoff.map { "\"\($0)\"" }.joined(separator: ", "))]
            max_duration = "1h"
            [ticker]
            lock_retry = "1s"
            catch_up_window = "1h"
            max_catch_up = 1000
            [worker]
            grace = "5s"

            """
        for j in jobs {
            text +=
                "[[jobs]]\nname = \"\(j.name)\"\nschedule = \"\(j.schedule)\"\npath = \"\(j.path)\"\ncatch_up = \"all\"\n"
            if let extra = jobExtra[j.name] { text += extra + "\n" }
        }
        text += extra.replacingOccurrences(of: "BACKEND", with: "http://127.0.0.1:\(backendPort)")
        do {
            try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        } catch {
            stopBackend()  // nothing else will: the caller never got the deployment to stop
            throw error
        }
    }

    /// The config as the deployment's processes read it, with `url` as the one endpoint (for the test's own
    /// connections). A config that does not load is a test failure, not a silent skip: the clean-up and the
    /// dead-lettering check depend on it.
    func loadedConfig(url: String) -> CronqConfig? {
        do {
            return try ConfigLoader(
                environment: ["DEP_TOKEN": token, "DEP_SIGNING": signingSecret, "DEP_AMQP_URLS": url]
            ).load(path: configPath)
        } catch {
            Issue.record("the deployment's config does not load: \(error)")
            return nil
        }
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DEP_TOKEN"] = token
        env["DEP_SIGNING"] = signingSecret
        env["DEP_AMQP_URLS"] = broker.processURLs.joined(separator: ",")
        return env
    }

    private func newLog(_ kind: String) -> FileHandle {
        let path = dir.appendingPathComponent("\(kind)-\(logFiles.count).log").path
        logFiles.append(path)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)!
    }

    // MARK: - Processes

    func startBackend() throws {
        let b = try CronqTestSupport.startBackend(token: token, log: backendLog, port: backendPort)
        backend = b
        backendPort = b.port
    }

    func stopBackend() {
        backend?.stop()
        backend = nil
    }

    @discardableResult
    func startTicker(replacing i: Int? = nil) throws -> Int {
        let t = try ChildProcess(
            Repo.root + "/.build/debug/cronq-ticker", ["--config", configPath], environment: environment,
            waitForListening: false, stderr: newLog("ticker"))
        return Self.place(t, log: logFiles.last!, in: &tickers, logs: &tickerLogPaths, replacing: i)
    }

    /// Puts a started process in slot `i` (a restart) or a new slot, with its log; returns the slot.
    private static func place(
        _ p: ChildProcess, log: String, in slots: inout [ChildProcess?], logs: inout [String], replacing i: Int?
    ) -> Int {
        guard let i else {
            slots.append(p)
            logs.append(log)
            return slots.count - 1
        }
        slots[i] = p
        logs[i] = log
        return i
    }

    @discardableResult
    func startWorker(replacing i: Int? = nil, concurrency: Int = 16, amqpURL: String? = nil) throws -> Int {
        var env = environment
        if let amqpURL { env["DEP_AMQP_URLS"] = amqpURL }
        let w = try ChildProcess(
            Repo.root + "/.build/debug/cronq-worker", ["--config", configPath, "--concurrency", "\(concurrency)"],
            environment: env, waitForListening: false, stderr: newLog("worker"))
        return Self.place(w, log: logFiles.last!, in: &workers, logs: &workerLogPaths, replacing: i)
    }

    /// The log of the process that ran in worker slot `i` before it was last replaced or stopped.
    func workerLogPath(_ i: Int) -> String { workerLogPaths[i] }

    func kill(_ p: ChildProcess?) {
        guard let p else { return }
        if tickers.contains(where: { $0 === p }) { tickerKills.append(Date()) }
        p.signal(SIGKILL)
        p.process.waitUntilExit()
    }

    /// What the ticker in slot `i` has logged so far.
    func tickerLog(_ i: Int) -> String { (try? String(contentsOfFile: tickerLogPaths[i], encoding: .utf8)) ?? "" }

    /// The slot of the ticker that leads now (the last leadership line of its log says acquired), if any.
    func leaderIndex() -> Int? {
        for (i, t) in tickers.enumerated() where t?.process.isRunning == true {
            guard let text = try? String(contentsOfFile: tickerLogPaths[i], encoding: .utf8),
                let acquired = text.range(of: "leadership acquired", options: .backwards)
            else { continue }
            if let lost = text.range(of: "leadership lost", options: .backwards), lost.lowerBound > acquired.lowerBound
            {
                continue
            }
            return i
        }
        return nil
    }

    // MARK: - Observing

    func logs(_ kind: String) -> String {
        logFiles.filter { $0.contains("/\(kind)-") }.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
            .joined(separator: "\n")
    }

    /// The backend's request log, one dictionary per request (times `t0` and `t`, status, path …).
    func backendRequestLog() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: backendLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func backendRequests() -> [Accounting.Request] {
        guard let text = try? String(contentsOfFile: backendLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = o["idempotency_key"] as? String, let status = o["status"] as? Int
            else { return nil }
            return Accounting.Request(id: id, status: status)
        }
    }

    /// A queue bound to every event (`#`), declared before the processes start, so a test can read
    /// every event the run published.
    var eventsQueue: String { "\(prefix).test-events" }

    func captureEvents() throws {
        try onThreadSync { [url = broker.url, names, eventsQueue] in
            let c = try AMQPConnection(url: AMQPURL(url))
            let ch = try c.openChannel()
            try ch.declareExchange(names.eventsExchange, kind: .topic)
            try ch.declareQueue(eventsQueue, arguments: ["x-queue-type": .string("quorum")])
            try ch.bindQueue(eventsQueue, exchange: names.eventsExchange, routingKey: "#")
        }
    }

    /// Every byte the run exposed to operators: logs of every process, every event, every dead letter
    /// (headers, properties and body), and what `cronq status` and `cronq dead list` print.
    func everythingObservable() throws -> [(place: String, text: String)] {
        var out: [(String, String)] = [("ticker logs", logs("ticker")), ("worker logs", logs("worker"))]
        out.append(("backend request log", (try? String(contentsOfFile: backendLog, encoding: .utf8)) ?? ""))
        let (events, dead) = try onThreadSync { [url = broker.url, eventsQueue, names] in
            let c = try AMQPConnection(url: AMQPURL(url))
            let ch = try c.openChannel()
            var events: [String] = []
            while let d = try ch.get(queue: eventsQueue, noAck: true) {
                events.append(String(decoding: d.message.body, as: UTF8.self))
            }
            var dead: [String] = []
            while let d = try ch.get(queue: names.deadQueue, noAck: false) {
                dead.append("\(d.message.properties)" + String(decoding: d.message.body, as: UTF8.self))
            }
            c.close()
            return (events, dead)
        }
        out.append(("events (\(events.count))", events.joined(separator: "\n")))
        out.append(("dead letters (\(dead.count))", dead.joined(separator: "\n")))
        for args in [
            ["status", "--config", configPath], ["dead", "list", "--config", configPath],
            ["dead", "list", "--json", "--config", configPath],
        ] {
            let r = try runCommand("cronq", args, environment: environment)
            out.append(("cronq \(args.prefix(2).joined(separator: " "))", r.stdout + r.stderr))
        }
        return out
    }

    var workQueues: [String] {
        var q = Set(["default"])
        for (name, extra) in jobExtraByName where extra.contains("\"serial\"") {
            q.insert(CronqConfig.serialQueuePrefix + name)
        }
        return q.sorted().map(names.workQueue)
    }
    var retryQueues: [String] { backoff.map(names.retryQueue) }

    /// Message ids in a queue, read without taking them: consumed unacked, then the connection closes
    /// (a consumer, not basic.get, which single-active-consumer queues refuse).
    func ids(in queue: String) throws -> [String] {
        let n = Int(try count(queue))
        guard n > 0 else { return [] }
        return try onThreadSync { [url = broker.url] in
            let c = try AMQPConnection(url: AMQPURL(url))
            let ch = try c.openChannel()
            try ch.setPrefetch(UInt16(clamping: n))
            try ch.consume(queue: queue)
            var out: [String] = []
            while out.count < n, case .delivery(let d)? = try c.nextEvent(timeout: .seconds(5)) {
                out.append(d.message.properties.messageID ?? "-")
            }
            c.close()
            return out
        }
    }

    func count(_ queue: String) throws -> UInt32 {
        try onThreadSync { [url = broker.url] in
            try AMQPConnection(url: AMQPURL(url)).openChannel().inspectQueue(queue).messageCount
        }
    }

    /// Waits until every fire has an outcome. Ready counts alone cannot tell (a delivery a worker holds
    /// is unacked, not ready), so once the queues look empty the workers stop gracefully — finishing
    /// and recording what they hold, returning the rest — and if anything came back they start again.
    func settle(timeout: TimeInterval = 120) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let concurrency = 16
        func empty() -> Bool { ((try? (workQueues + retryQueues).map(count).reduce(0, +)) ?? 1) == 0 }
        while Date() < deadline {
            if empty() {
                for w in workers { w?.signal(SIGTERM) }
                for w in workers { w?.process.waitUntilExit() }
                if empty() && !deadLettering() { return true }
                for i in workers.indices { try startWorker(replacing: i, concurrency: concurrency) }
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return false
    }

    /// Whether a retry tier still holds messages it dead-lettered that the broker has not yet put back in a
    /// work queue (`messages_dlx`: in no queue's ready count). After a broker restart a quorum queue may
    /// recover before its dead-letter exchange is known; its dead-letter worker then tries again only every
    /// `dead_letter_worker_publisher_confirm_timeout` (scripts/rabbitmq.sh sets 5 s; 180 s by default).
    /// The management API's figures are up to 5 s old, so it is asked after waiting that long.
    func deadLettering() -> Bool {
        guard let management = broker.management else { return false }
        Thread.sleep(forTimeInterval: 6)
        let url = broker.url
        guard var config = loadedConfig(url: url) else { return false }
        config.amqp.managementURL = management
        let held = try? onThreadSync { [config] in
            let status = try QueueStatus.collect(connection: AMQPConnection(url: AMQPURL(url)), config: config, now: 0)
            return status.rows.filter { $0.kind == "retry" }.map { $0.deadLettering ?? 0 }.reduce(0, +)
        }
        return (held ?? 0) > 0
    }

    func accounting() throws -> Accounting {
        Accounting(
            tickerLogs: logs("ticker"), workerLogs: logs("worker"), requests: backendRequests(),
            retrying: try retryQueues.flatMap(ids), dead: try ids(in: names.deadQueue),
            pending: try workQueues.flatMap(ids), tickerKills: tickerKills)
    }

    /// Fire instants per job from the tickers' logs, to check that catch-up left no gap (every-second jobs).
    func firedInstants() -> [String: [Int64]] {
        var out: [String: Set<Int64>] = [:]
        for line in logs("ticker").split(separator: "\n") where line.contains("msg=fired ") {
            guard let id = Accounting.field("message_id", in: line), let at = id.split(separator: "@").last,
                let t = Timestamp.parse(String(at))
            else { continue }
            out[String(id.split(separator: "@").first!), default: []].insert(t)
        }
        return out.mapValues { $0.sorted() }
    }

    /// Fires the schedules call for between each job's first and last logged fire that were never
    /// fired: what catch-up failed to fill (with `catch_up = "all"` it must be zero).
    func gaps() -> Int {
        let fired = firedInstants()
        var missing = 0
        for j in jobs {
            guard let xs = fired[j.name], let first = xs.first, let last = xs.last,
                let schedule = try? CronSchedule(j.schedule, timeZone: "UTC")
            else { continue }
            var expected = 1
            var t = first
            while let n = schedule.next(after: t), n <= last {
                expected += 1
                t = n
            }
            missing += expected - xs.count
        }
        return missing
    }

    /// Resident memory (MiB) and open descriptors of a process.
    static func usage(_ pid: Int32) -> (rssMiB: Double, fds: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let kb =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first
            .flatMap { Double($0) } ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return (kb / 1024, fds)
    }

    func stop() {
        for t in tickers { t?.stop() }
        for w in workers { w?.stop() }
        stopBackend()
        // Its queues go with it (a node that is down may keep some: nothing else is checked here).
        let url = broker.url
        if let config = loadedConfig(url: url) {
            try? onThreadSync { [config] in
                let t = Topology(config: config)
                let ch = try AMQPConnection(url: AMQPURL(url)).openChannel()
                for q in t.queues { _ = try? ch.deleteQueue(q.name) }
                for q in GuardQueues.names(config) { _ = try? ch.deleteQueue(q) }
                for x in t.exchanges { try? ch.deleteExchange(x.name) }
            }
        }
        if ProcessInfo.processInfo.environment["CRONQ_KEEP_LOGS"] == nil {
            try? FileManager.default.removeItem(at: dir)
        }
    }
}

extension Deployment {
    /// The end of every fault run: stop the tickers, let the workers finish, then the accounting checker
    /// must balance — every confirmed fire succeeded, is retrying or is dead; nothing unfired reached the
    /// backend; every duplicate is explained; catch-up left no fire out. Prints the figures under `label`.
    func stopAndAccount(_ label: String) throws -> Accounting {
        for t in tickers { t?.signal(SIGTERM) }
        for t in tickers { t?.process.waitUntilExit() }
        let quiet = try settle()
        let a = try accounting()
        print("\(label): \(a), gaps \(gaps()), quiet \(quiet)")
        #expect(quiet, "work and retry queues drained")
        #expect(a.lost.isEmpty, "lost: \(a.lost.sorted().prefix(5))")
        #expect(a.unknown.isEmpty)
        #expect(a.conflicting.isEmpty)
        #expect(
            a.unexplainedDuplicates.isEmpty,
            "duplicates without a redelivery, re-fire or re-publish: \(a.unexplainedDuplicates.prefix(5))")
        #expect(a.balancesAtRest)
        #expect(gaps() == 0, "catch_up all filled every missed second")
        #expect(a.fired.count > 0 && a.succeeded.count > 0)
        return a
    }
}

/// Polls `f` every 0.1 s until it gives a value, or until `timeout` has passed (then tries once more).
func waitFor<T>(_ timeout: TimeInterval, _ f: () -> T?) -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let v = f() { return v }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return f()
}

/// Polls `f` until it holds or `timeout` has passed.
func waitFor(_ timeout: TimeInterval, _ f: () -> Bool) -> Bool {
    waitFor(timeout) { f() ? true : nil } ?? false
}
