import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// Faults against a whole deployment (two tickers, three workers, a backend failing 5% of calls), on a
/// broker of its own; the accounting checker must balance at the end: every confirmed fire succeeded,
/// is retrying or is dead, the backend saw nothing unfired, every duplicate is explained, and catch-up
/// left no fire out. Run by `make chaos` (and so by `make test`), after the main suite, so that its load
/// does not skew the timing tests.
@Suite(
    "Chaos", .serialized,
    .enabled(
        if: TestBroker.isConfigured && ProcessInfo.processInfo.environment["CRONQ_CHAOS"] != nil,
        "run by `make chaos` / `make test`"))
struct ChaosTests {
    static func jobs(_ n: Int) -> [(name: String, schedule: String, path: String)] {
        (0..<n).map { ("c\($0)", "* * * * * *", "/random-fail/5") }
    }

    @Test("broker restarted twice, then stopped for 30 s; leader ticker SIGKILLed; both tickers restarted together")
    func brokerAndTickers() throws {
        let broker = try ChaosBroker(name: "cronq-chaos2", port: 5686)
        defer { broker.stop() }
        let d = try Deployment(broker: broker, jobs: Self.jobs(10))
        defer { d.stop() }
        try d.startTicker()
        try d.startTicker()
        for _ in 0..<3 { try d.startWorker() }
        Thread.sleep(forTimeInterval: 4)
        try broker.restart(down: 2)
        Thread.sleep(forTimeInterval: 4)
        try broker.restart(down: 2)
        Thread.sleep(forTimeInterval: 4)
        let leader = try #require(waitFor(20) { d.leaderIndex() }, "a leader after the restarts")
        d.kill(d.tickers[leader])
        Thread.sleep(forTimeInterval: 3)
        try d.startTicker(replacing: leader)
        Thread.sleep(forTimeInterval: 3)
        for i in d.tickers.indices { d.kill(d.tickers[i]) }
        Thread.sleep(forTimeInterval: 2)
        for i in d.tickers.indices { try d.startTicker(replacing: i) }
        Thread.sleep(forTimeInterval: 3)
        try broker.restart(down: 30)
        Thread.sleep(forTimeInterval: 6)
        let a = try d.stopAndAccount("chaos[broker x2 + 30 s down + tickers]")
        #expect(d.logs("worker").contains("broker connection lost") || d.logs("worker").contains("cannot connect"))
        #expect(a.fired.count >= 10 * 40, "about a minute of fires for 10 jobs, caught up across the outages")
    }

    @Test(
        "a worker SIGKILLed every 3 s for a minute; the backend down for 20 s; jobs timing out, failing with 500 and with 503 + Retry-After"
    )
    func workersAndBackend() throws {
        let broker = try ChaosBroker(name: "cronq-chaos2", port: 5686)
        defer { broker.stop() }
        var jobs = Self.jobs(8)
        // beyond the 3 s timeout every time: retried, then dead
        jobs.append(("slowpoke", "*/5 * * * * *", "/slow/4000"))
        jobs.append(("unauth", "*/5 * * * * *", "/status/401"))  // the 401 path: dead at once
        jobs.append(("broken", "*/5 * * * * *", "/status/500"))  // 500 forever: retried, then dead (exhausted)
        jobs.append(("busy", "*/5 * * * * *", "/retry-after/1"))  // 503 with Retry-After: 1 s tier, then dead
        let d = try Deployment(broker: broker, jobs: jobs, maxAttempts: 3)
        defer { d.stop() }
        try d.captureEvents()
        try d.startTicker()
        for _ in 0..<3 { try d.startWorker(concurrency: 8) }
        let start = Date()
        var kills = 0
        var backendDownAt: Date? = nil
        while Date().timeIntervalSince(start) < 60 {
            Thread.sleep(forTimeInterval: 3)
            let i = kills % d.workers.count
            d.kill(d.workers[i])
            kills += 1
            try d.startWorker(replacing: i, concurrency: 8)
            if backendDownAt == nil && Date().timeIntervalSince(start) > 15 {
                d.stopBackend()
                backendDownAt = Date()
            } else if let at = backendDownAt, d.backend == nil, Date().timeIntervalSince(at) >= 20 {
                try d.startBackend()
            }
        }
        if d.backend == nil { try d.startBackend() }
        let a = try d.stopAndAccount("chaos[worker kills x\(kills) + backend down 20 s]")
        #expect(kills >= 15)
        #expect(
            a.dead.contains { $0.hasPrefix("slowpoke@") }, "the request that always times out ends dead (exhausted)")
        #expect(a.retrying.isEmpty && a.pending.isEmpty)
        #expect(d.logs("worker").contains("redelivered message"), "killed workers' deliveries came back")
        #expect(a.dead.contains { $0.hasPrefix("unauth@") })
        #expect(a.dead.contains { $0.hasPrefix("broken@") } && a.dead.contains { $0.hasPrefix("busy@") })
        #expect(d.logs("worker").contains("job=busy") && d.logs("worker").contains("delay=1s"))

        // Security: neither the token nor the signing secret appears anywhere an operator can look.
        var scanned = 0
        for (place, text) in try d.everythingObservable() {
            scanned += text.utf8.count
            #expect(!text.contains(d.token), "the token leaked into \(place)")
            #expect(!text.contains(d.signingSecret), "the signing secret leaked into \(place)")
        }
        #expect(scanned > 100_000, "a run's worth of logs, events and dead letters was scanned")
        print("chaos: scanned \(scanned) bytes of logs, events, dead letters and CLI output: 0 secrets")
    }

    @Test("a disk alarm on the broker: publishers are blocked, say so, and resume; nothing is lost")
    func diskAlarm() throws {
        let broker = try ChaosBroker(name: "cronq-chaos2", port: 5686)
        defer { broker.stop() }
        let d = try Deployment(broker: broker, jobs: Self.jobs(6))
        defer { d.stop() }
        try d.startTicker()
        for _ in 0..<2 { try d.startWorker() }
        Thread.sleep(forTimeInterval: 4)
        try broker.ctl(["set_disk_free_limit", "1000000GB"])
        Thread.sleep(forTimeInterval: 8)
        try broker.ctl(["set_disk_free_limit", "50MB"])
        Thread.sleep(forTimeInterval: 6)
        let a = try d.stopAndAccount("chaos[disk alarm]")
        // A publish already waiting for its confirm when the alarm starts holds the notice until it
        // returns (up to the 30 s confirm wait), so the order is checked, not the moment.
        let log = d.logs("ticker")
        let blocked = log.range(of: "broker blocked publishing"),
            unblocked = log.range(of: "broker unblocked publishing")
        #expect(blocked != nil, "the ticker logged the alarm")
        #expect(unblocked != nil && blocked.map { $0.lowerBound < unblocked!.lowerBound } == true, "and its end")
        #expect(a.caughtUp > 0, "fires due during the alarm were caught up afterwards")
    }

    @Test("a network cut between a worker and the broker: heartbeats notice, the worker reconnects, nothing is lost")
    func networkCut() throws {
        let broker = try ChaosBroker(name: "cronq-chaos2", port: 5686)
        defer { broker.stop() }
        let d = try Deployment(broker: broker, jobs: Self.jobs(6))
        defer { d.stop() }
        let proxy = try startProxy(to: "127.0.0.1:\(broker.port)")
        defer {
            proxy.signal(SIGCONT)
            proxy.stop()
        }
        try d.startTicker()
        try d.startWorker()
        let cut = try d.startWorker(
            amqpURL: "amqp://guest:guest@127.0.0.1:\(proxy.port)/%2F?heartbeat=2&connection_timeout=2000")
        Thread.sleep(forTimeInterval: 5)
        proxy.signal(SIGSTOP)  // packets stop both ways; both TCP connections stay open
        Thread.sleep(forTimeInterval: 12)
        proxy.signal(SIGCONT)
        Thread.sleep(forTimeInterval: 8)
        let log = (try? String(contentsOfFile: d.workerLogPath(cut), encoding: .utf8)) ?? ""
        let a = try d.stopAndAccount("chaos[network cut]")
        #expect(log.contains("broker connection lost"), "the cut was noticed: \(log.suffix(600))")
        #expect(
            log.components(separatedBy: "msg=connected").count >= 3, "and the worker connected again through the proxy")
        #expect(a.succeeded.count == a.fired.count)
    }
}
