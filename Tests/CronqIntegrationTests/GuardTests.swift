import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// `max_in_flight` and `rate` across several `cronq-worker` processes, measured by the backend: every
/// request's arrival (`t0`) and end (`t`) is in its log.
@Suite("backend limits", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct GuardTests {
    /// The most requests the backend had in flight at once (abandoned ones, logged 499, left out).
    static func maxConcurrent(_ requests: [[String: Any]]) -> Int {
        var edges: [(Double, Int)] = []
        for r in requests where r["status"] as? Int != 499 {
            guard let t0 = r["t0"] as? Double, let t = r["t"] as? Double else { continue }
            edges.append((t0, 1))
            edges.append((t, -1))
        }
        // Ends sort before starts at the same instant: a request that starts as another ends is not overlap.
        edges.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var now = 0
        var most = 0
        for (_, d) in edges {
            now += d
            most = max(most, now)
        }
        return most
    }

    @Test("max_in_flight = 2: 3 workers, 300 jobs, the backend never sees more than 2 at once; each job runs once")
    func maxInFlight() throws {
        let h = try WorkerHarness(backendExtra: "max_in_flight = 2")
        defer { h.stop() }
        for _ in 0..<3 { try h.startWorker(concurrency: 8) }
        let messages = (0..<300).map { i in
            h.message(
                path: "/slow/10",
                scheduledAt: "2026-11-28T10:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60))Z")
        }
        try h.publish(messages)
        #expect(h.eventually(120) { h.requests().count >= 300 }, "requests: \(h.requests().count)")
        let requests = h.requests()
        #expect(requests.count == 300)
        #expect(Set(requests.compactMap { $0["idempotency_key"] as? String }).count == 300)
        let most = Self.maxConcurrent(requests)
        #expect(most <= 2, "the backend saw \(most) requests at once")
        #expect(most == 2, "two permits were used at once at some point")
        // Every worker got a turn: a permit goes back after 16 calls in a row.
        let logs = (0..<3).map { (try? String(contentsOfFile: h.logPath($0), encoding: .utf8)) ?? "" }
        #expect(logs.allSatisfy { $0.contains("outcome=success") }, "every worker called the backend")
        #expect(h.eventually { (try? h.count(h.names.workQueue("default"))) == 0 })
        // Idle workers keep their permits for a moment (BackendGuard.idleHold), then give them back.
        #expect(
            h.eventually(5) { (try? h.count(h.names.permitQueue("default", 2))) == 2 },
            "both permits are back in their queue")
    }

    @Test("a worker SIGKILLed while it holds both permits: its connection gives them back, the others go on")
    func killedHolder() throws {
        let h = try WorkerHarness(backendExtra: "max_in_flight = 2")
        defer { h.stop() }
        let first = try h.startWorker(concurrency: 4)
        // Long calls, so that the first worker certainly holds both permits when it is killed.
        try h.publish((0..<2).map { i in h.message(path: "/slow/3000", scheduledAt: "2026-11-28T09:00:0\(i)Z") })
        #expect(h.eventually { h.workerLogs().contains("connected") })
        Thread.sleep(forTimeInterval: 1)
        for _ in 0..<2 { try h.startWorker(concurrency: 4) }
        try h.publish(
            (0..<20).map { i in
                h.message(path: "/slow/50", scheduledAt: "2026-11-28T11:00:\(String(format: "%02d", i))Z")
            })
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try h.count(h.names.permitQueue("default", 2)) == 0, "the first worker holds both permits")
        let killedAt = Date().timeIntervalSince1970
        kill(first.pid, SIGKILL)
        #expect(
            h.eventually(30) {
                Set(h.requests().filter { $0["status"] as? Int == 200 }.compactMap { $0["idempotency_key"] as? String })
                    .count == 22
            }, "every job ran to success after the kill")
        let after = h.requests().filter { ($0["t0"] as? Double ?? 0) > killedAt }
        let firstStart = after.compactMap { $0["t0"] as? Double }.min() ?? .infinity
        #expect(firstStart - killedAt < 2, "the others called within 2 s of the kill (\(firstStart - killedAt) s)")
        #expect(Self.maxConcurrent(after) <= 2)
    }

    @Test("rate = 10/s, burst = 10: 3 workers over 10 s make 100 ± 10 calls, no second more than 10")
    func rate() throws {
        let h = try WorkerHarness(backendExtra: "rate = \"10/s\"\nburst = 10")
        defer { h.stop() }
        for _ in 0..<3 { try h.startWorker(concurrency: 8) }
        try h.publish(
            (0..<200).map { i in
                h.message(
                    path: "/cron/ee-recent",
                    scheduledAt: "2026-11-28T12:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60))Z")
            })
        #expect(h.eventually(40) { h.requests().count >= 130 })
        let starts = h.requests().compactMap { $0["t0"] as? Double }.sorted()
        let first = try #require(starts.first)
        let inTen = starts.filter { $0 < first + 10 }.count
        #expect((90...110).contains(inTen), "calls in the first 10 s: \(inTen)")
        var perSecond: [Int: Int] = [:]
        for t in starts { perSecond[Int(t), default: 0] += 1 }
        #expect(
            perSecond.values.max() ?? 0 <= 10, "calls per second: \(perSecond.sorted { $0.key < $1.key }.map(\.value))")
        // Not asserted on a sliding window: the ring holds each token to one start per second at the
        // worker, but the backend sees arrivals, which a loaded machine delays by varying amounts.
    }

    @Test("rate = 201/s, burst = 4: a ring of 2 tokens worth 2 calls each binds 3 workers to the rate; none lost")
    func rateCredit() throws {
        // Above 200/s, so 2 calls a token; the machine can do more than 201/s, so the ring binds.
        let h = try WorkerHarness(backendExtra: "rate = \"201/s\"\nburst = 4")
        defer { h.stop() }
        let rate = try #require(h.config().backends["default"]?.limits.rate)
        let ring = h.names.tokenQueue("default", rate)
        #expect(ring.hasSuffix(".rate.4x20ms.2calls") && rate.tokens == 2 && rate.maxPerSecond == 200)
        for _ in 0..<3 { try h.startWorker(concurrency: 16) }
        let n = 1000
        try h.publish((0..<n).map { h.message(path: "/cron/ee-recent", id: "credit-\($0)") })
        #expect(h.eventually(60) { h.requests().filter { $0["status"] as? Int == 200 }.count >= n })
        let requests = h.requests()
        #expect(Set(requests.compactMap { $0["idempotency_key"] as? String }).count == n, "each job once")
        let starts = requests.compactMap { $0["t0"] as? Double }.sorted()
        let span = (starts.last ?? 0) - (starts.first ?? 0)
        let perSecond = Double(starts.count - 1) / max(span, 0.001)
        // The ring's bound is on starts at the workers; the backend sees arrivals, a little jittered.
        #expect(perSecond <= 211, "\(Int(perSecond)) calls/s over \(span) s")
        #expect(perSecond >= 60, "the ring keeps cycling (credit that expires unused must not starve it): \(perSecond)")
        var buckets: [Int: Int] = [:]
        for t in starts { buckets[Int(t), default: 0] += 1 }
        print(
            "rate 201/s, ring of 2 tokens × 2 calls: \(Int(perSecond)) calls/s over \(Int(span * 10)) ds, busiest second \(buckets.values.max() ?? 0)"
        )
        #expect(
            buckets.values.max() ?? 0 <= 220, "calls per second: \(buckets.sorted { $0.key < $1.key }.map(\.value))")
        // Every token back from rest once the workers are idle: none lost or doubled by spending them two at a time.
        #expect(h.eventually(10) { (try? h.count(ring)) == 2 }, "tokens ready: \((try? h.count(ring)) ?? 0)")
    }
}

/// The circuit breaker through the real processes: a ticker firing every second, two workers, and a
/// backend that answers 503 for a minute.
@Suite("circuit breaker", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct BreakerTests {
    @Test(
        "backend down 60 s under every-second jobs, max_attempts 3, tiers 2s/5s: no dead letters, a few probes while down, every fire succeeds after"
    )
    func outage() throws {
        let downFrom = Int(Date().timeIntervalSince1970) + 8
        let downUntil = downFrom + 60
        let d = try Deployment(
            broker: SharedBroker(), jobs: [("every", "* * * * * *", "/down-between/\(downFrom)/\(downUntil)")],
            // Short tiers, but not so short that a loaded machine lets the outage's first fire use its three
            // attempts before five failures in a row are counted (about 2 s of an every-second job).
            maxAttempts: 3, backoff: ["2s", "5s"],
            extra: """
                [[notify]]
                kind = "webhook"
                url = "BACKEND/sink/ops"
                events = ["breaker"]

                """,
            backendExtra: "breaker = { failures = 5, cool_down = \"10s\" }")
        defer { d.stop() }
        try d.startTicker()
        try d.startWorker()
        try d.startWorker()
        // Mid-outage, `cronq status` shows the open breaker and alerts.
        Thread.sleep(forTimeInterval: max(0, Double(downFrom + 30) - Date().timeIntervalSince1970))
        let status = try runCommand("cronq", ["status", "--config", d.configPath], environment: d.environment)
        #expect(status.status == 2, "an open breaker is an alert: \(status.stdout) \(status.stderr)")
        #expect(
            status.stdout.contains("breaker: default open") || status.stdout.contains("breaker: default half_open"),
            "\(status.stdout)")
        // Let it run through the outage and 10 s past it.
        Thread.sleep(forTimeInterval: max(0, Double(downUntil + 10) - Date().timeIntervalSince1970))
        let a = try d.stopAndAccount("breaker[backend 503 for 60 s]")
        #expect(a.dead.isEmpty, "nothing dead-lettered: \(a.dead.sorted().prefix(5))")
        #expect(a.fired.count >= 60 && a.succeeded == a.fired, "every fire succeeded once the backend was back")
        let requests = d.backendRequestLog()
        let whileDown = requests.filter { r in
            guard let t0 = r["t0"] as? Double else { return false }
            return t0 >= Double(downFrom) + 1 && t0 < Double(downUntil)
        }
        // Without the breaker: every fire, three attempts each (about 180). With it: the calls that
        // open it (up to 5 per worker), then one probe per cool-down.
        #expect(whileDown.count <= 20, "calls while down: \(whileDown.count)")
        let logs = d.logs("worker")
        #expect(logs.contains("msg=\"breaker open: calls to the backend wait (no attempts used)\""))
        #expect(logs.contains("breaker half-open") && logs.contains("breaker closed"))
        #expect(logs.contains("announced_by="), "one worker heard the other's announcement")
        #expect(logs.contains("backend breaker open: message waits in a retry tier"))
        // One notification when it opened and one when it closed, however many workers announced them.
        let sent = d.backendRequestLog().filter { $0["path"] as? String == "/sink/ops" }.compactMap {
            ($0["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        #expect(sent.map { $0["reason"] as? String ?? "?" } == ["open", "closed"], "\(sent)")
        #expect(sent.allSatisfy { $0["event"] as? String == "breaker" && $0["backend"] as? String == "default" })
    }
}
