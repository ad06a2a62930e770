import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// `cronq-worker` as a real process, against the test broker and a real HTTP backend on loopback.
@Suite("cronq-worker", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct WorkerTests {
    func attempts(_ h: WorkerHarness, _ id: String) -> [String] {
        h.requests().filter { $0["idempotency_key"] as? String == id }.compactMap { $0["attempt"] as? String }
    }

    @Test("2xx: the backend is called once with the token and cronq's headers; the message is acked")
    func success() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try h.startWorker()
        try h.publish([h.message(path: "/cron/ee-recent")])
        #expect(h.eventually { h.requests().count == 1 })
        let r = h.requests()[0]
        #expect(r["status"] as? Int == 200, "the backend accepted the Bearer token")
        #expect(r["idempotency_key"] as? String == "probe@2026-11-28T10:05:00Z")
        #expect(r["job"] as? String == "probe")
        #expect(r["attempt"] as? String == "1")
        #expect(
            h.eventually {
                (try? h.count(h.names.workQueue("default"))) == 0 && h.workerLogs().contains("outcome=success")
            })
        #expect(try h.count(h.names.deadQueue) == 0)
        #expect(!h.workerLogs().contains(h.token), "the token never appears in logs")
    }

    @Test("503 twice: retried through the 1s and 2s tiers, back through the DLX, succeeds on attempt 3")
    func retryThenSucceed() throws {
        let h = try WorkerHarness(backoff: ["1s", "2s"], maxAttempts: 5)
        defer { h.stop() }
        try h.startWorker()
        let key = UUID().uuidString
        let m = h.message(path: "/flaky/\(key)/2", maxAttempts: 5)
        try h.publish([m])
        let id = m.properties.messageID!
        #expect(h.eventually(30) { attempts(h, id) == ["1", "2", "3"] }, "attempts seen: \(attempts(h, id))")
        #expect(h.eventually { h.workerLogs().contains("outcome=success") })
        let logs = h.workerLogs()
        #expect(logs.contains("outcome=retry") && logs.contains("delay=1s") && logs.contains("delay=2s"))
        #expect(try h.count(h.names.deadQueue) == 0)
        #expect(try h.count(h.names.retryQueue("1s")) == 0 && h.count(h.names.retryQueue("2s")) == 0)
    }

    @Test("404 is dead at once with http_404; the dead letter keeps body and properties and carries every header")
    func permanent() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try h.startWorker()
        let m = h.message(path: "/status/404")
        try h.publish([m])
        #expect(h.eventually { (try? h.count(h.names.deadQueue)) == 1 })
        let dead = try h.drain(h.names.deadQueue)
        let d = try #require(dead.first)
        #expect(d.message.body == m.body)
        let p = d.message.properties
        #expect(
            p.messageID == m.properties.messageID && p.contentType == "application/json" && p.type == "cronq.job"
                && p.appID == "cronq-test")
        let headers = try #require(p.headers)
        #expect(headers["cronq-dead-reason"]?.stringValue == "http_404")
        #expect(headers["cronq-dead-status"]?.intValue == 404)
        #expect(headers["cronq-dead-error"]?.stringValue == "HTTP 404")
        #expect(headers["cronq-dead-at"]?.stringValue.flatMap(Timestamp.parse) != nil)
        #expect(headers["cronq-attempt"]?.intValue == 1)
        #expect(headers["cronq-queue"]?.stringValue == h.names.workQueue("default"))
        // The quorum dead queue itself adds x-delivery-count when it hands the message out; nothing
        // from the message's earlier life (x-death, x-first-death-*) may be there.
        #expect(!headers.keys.contains { $0.hasPrefix("x-") && $0 != "x-delivery-count" }, "\(headers.keys)")
        #expect(h.requests().count == 1, "no retry for a permanent failure")
        let everything = "\(headers)" + String(decoding: d.message.body, as: UTF8.self) + h.workerLogs()
        #expect(!everything.contains(h.token))
    }

    @Test("a timeout and a refused connection are retryable")
    func transport() throws {
        let h = try WorkerHarness(backoff: ["1s"], maxAttempts: 2, timeout: "1s")
        defer { h.stop() }
        try h.startWorker()
        try h.publish([h.message(path: "/slow/3000", maxAttempts: 2, backoff: ["1s"], timeoutMs: 500, id: "slow-1")])
        #expect(h.eventually(20) { h.workerLogs().contains("outcome=retry") && h.workerLogs().contains("timed out") })
        #expect(h.eventually(20) { (try? h.count(h.names.deadQueue)) == 1 })
        let d = try #require(try h.drain(h.names.deadQueue).first)
        #expect(d.message.properties.headers?["cronq-dead-reason"]?.stringValue == "exhausted")
        #expect(d.message.properties.headers?["cronq-dead-error"]?.stringValue?.contains("timed out") == true)
    }

    @Test("malformed messages of every kind are dead-lettered `malformed`; the worker keeps working")
    func malformed() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try h.startWorker()
        func variant(_ edit: (inout [String: Any]) -> Void) -> [UInt8] {
            var obj = try! JSONSerialization.jsonObject(with: Data(h.message(path: "/cron/x").body)) as! [String: Any]
            edit(&obj)
            return Array(try! JSONSerialization.data(withJSONObject: obj))
        }
        let bodies: [(String, [UInt8])] = [
            ("not-json", Array("this is not json".utf8)),
            ("wrong-v", variant { $0["v"] = 2 }),
            (
                "no-path",
                variant {
                    var r = $0["request"] as! [String: Any]; r["path"] = nil; $0["request"] = r
                }
            ),
            (
                "absolute-url",
                variant {
                    var r = $0["request"] as! [String: Any]; r["path"] = "http://evil.example/x"; $0["request"] = r
                }
            ),
            (
                "authority",
                variant {
                    var r = $0["request"] as! [String: Any]; r["path"] = "//evil.example/x"; $0["request"] = r
                }
            ),
            ("unknown-backend", variant { $0["backend"] = "nowhere" }),
            ("huge", Array(repeating: UInt8(ascii: "x"), count: 10 << 20)),
            ("empty", []),
        ]
        try h.publish(bodies.map { h.raw($0.1, id: $0.0) })
        try h.publish([h.message(path: "/cron/ee-recent", id: "good-after")])
        #expect(h.eventually(30) { (try? h.count(h.names.deadQueue)) == UInt32(bodies.count) })
        let dead = try h.drain(h.names.deadQueue)
        #expect(Set(dead.compactMap(\.message.properties.messageID)) == Set(bodies.map(\.0)))
        #expect(
            dead.filter { $0.message.properties.messageID != "huge" }
                .allSatisfy { $0.message.properties.headers?["cronq-dead-reason"]?.stringValue == "malformed" })
        // Over 1 MiB the worker does not copy the body: it rejects the delivery and the broker dead-letters it whole.
        let huge = dead.first { $0.message.properties.messageID == "huge" }
        #expect(huge?.message.body.count == 10 << 20, "the original body is kept")
        guard case .array(let deaths)? = huge?.message.properties.headers?["x-death"],
            case .table(let first)? = deaths.first
        else {
            Issue.record("the huge message was not dead-lettered by the broker")
            return
        }
        #expect(first["reason"]?.stringValue == "rejected")
        #expect(h.workerLogs().contains("over the 1048576-byte limit"))
        #expect(h.eventually { h.requests().contains { $0["idempotency_key"] as? String == "good-after" } })
        #expect(
            !h.requests().contains { ($0["path"] as? String)?.contains("evil") == true },
            "no request left for a bad path")
    }

    @Test("three workers share 3,000 jobs: every message id is processed, none lost")
    func threeWorkers() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        for _ in 0..<3 { try h.startWorker(concurrency: 32) }
        let messages = (0..<3000).map { h.message(path: "/cron/ee-recent", id: "m-\($0)") }
        try h.publish(messages)
        #expect(
            h.eventually(120) {
                (try? h.count(h.names.workQueue("default"))) == 0
                    && Set(h.requests().compactMap { $0["idempotency_key"] as? String }).count == 3000
            })
        let seen = h.requests().compactMap { $0["idempotency_key"] as? String }
        #expect(Set(seen) == Set(messages.map { $0.properties.messageID! }))
        let duplicates = seen.count - Set(seen).count
        #expect(duplicates == 0, "no redelivery happened, so no duplicates")
        #expect(try h.count(h.names.deadQueue) == 0)
        // All three took part.
        let logs = (0..<3).map { (try? String(contentsOfFile: h.logPath($0), encoding: .utf8)) ?? "" }
        #expect(
            h.eventually {
                (0..<3).allSatisfy {
                    ((try? String(contentsOfFile: h.logPath($0), encoding: .utf8)) ?? "").contains("outcome=success")
                }
            }, "\(logs.map(\.count))")
    }

    @Test("SIGTERM with slow requests in flight: they complete and are acked within the grace period; exit 0")
    func gracefulStop() throws {
        let h = try WorkerHarness(timeout: "10s")
        defer { h.stop() }
        let w = try h.startWorker(extra: ["--grace", "10s"])
        try h.publish((0..<4).map { h.message(path: "/slow/1500", id: "slow-\($0)") })
        #expect(h.eventually { h.workerLogs().contains("connected") })
        Thread.sleep(forTimeInterval: 0.5)
        w.signal(SIGTERM)
        w.process.waitUntilExit()
        #expect(w.process.terminationStatus == 0)
        #expect(h.requests().count == 4)
        #expect(try h.count(h.names.workQueue("default")) == 0, "all four were acked before exit")
        #expect(h.workerLogs().contains("worker stopped"))
    }

    @Test("--prefetch above --concurrency: the extra deliveries wait unstarted, and a stop returns them untouched")
    func prefetchBeyondConcurrency() throws {
        let h = try WorkerHarness(timeout: "10s")
        defer { h.stop() }
        let w = try h.startWorker(extra: ["--concurrency", "2", "--prefetch", "6", "--grace", "10s"])
        try h.publish((0..<8).map { h.message(path: "/slow/1500", id: "held-\($0)") })
        #expect(h.eventually { h.workerLogs().contains("connected") })
        // Six delivered (two running, four waiting in the worker), two still ready in the queue.
        #expect(h.eventually { (try? h.count(h.names.workQueue("default"))) == 2 })
        Thread.sleep(forTimeInterval: 0.5)
        w.signal(SIGTERM)
        w.process.waitUntilExit()
        #expect(w.process.terminationStatus == 0)
        // The backend logs a call when it answers: the two that ran, finished within the grace.
        #expect(h.requests().count == 2, "only --concurrency requests started; the waiting four were never called")
        #expect(
            h.eventually { (try? h.count(h.names.workQueue("default"))) == 6 },
            "the four waiting went back to the queue beside the two never delivered")
    }

    @Test("SIGKILL with requests in flight: those messages are redelivered to another worker")
    func killedWorker() throws {
        let h = try WorkerHarness(timeout: "10s")
        defer { h.stop() }
        let first = try h.startWorker()
        try h.publish((0..<3).map { h.message(path: "/slow/3000", id: "k-\($0)") })
        #expect(h.eventually { h.requests().isEmpty && h.workerLogs().contains("connected") })
        Thread.sleep(forTimeInterval: 1.0)
        first.signal(SIGKILL)
        first.process.waitUntilExit()
        try h.startWorker()
        #expect(
            h.eventually(30) {
                Set(h.requests().compactMap { $0["idempotency_key"] as? String }) == ["k-0", "k-1", "k-2"]
                    && (try? h.count(h.names.workQueue("default"))) == 0
            })
        #expect(h.eventually { h.workerLogs().contains("redelivered message") })
    }

    @Test("Retry-After longer than the tier picks the tier that covers it")
    func retryAfter() throws {
        let h = try WorkerHarness(backoff: ["1s", "3s"], maxAttempts: 3)
        defer { h.stop() }
        try h.startWorker()
        try h.publish([h.message(path: "/retry-after/2", maxAttempts: 3, backoff: ["1s", "3s"], id: "ra-1")])
        #expect(h.eventually { h.workerLogs().contains("outcome=retry") })
        let line = h.workerLogs().split(separator: "\n").first { $0.contains("outcome=retry") } ?? ""
        #expect(line.contains("delay=3s") && line.contains("status=503"), "\(line)")
    }

    @Test("the broker closing the worker's connections mid-run: it reconnects and nothing is missing")
    func reconnect() throws {
        let h = try WorkerHarness(timeout: "10s")
        defer { h.stop() }
        let w = try h.startWorker(concurrency: 8)
        let ids = (0..<200).map { "rc-\($0)" }
        try h.publish(ids.map { h.message(path: "/slow/150", id: $0) })
        #expect(h.eventually { h.requests().count >= 20 })
        try TestBroker.closeConnection(named: "cronq-worker/\(w.pid) consume")
        #expect(
            h.eventually(90) {
                Set(h.requests().compactMap { $0["idempotency_key"] as? String }) == Set(ids)
                    && (try? h.count(h.names.workQueue("default"))) == 0
            })
        #expect(try h.count(h.names.deadQueue) == 0)
        let logs = h.workerLogs()
        #expect(logs.contains("broker connection lost"))
        #expect(logs.components(separatedBy: "msg=connected").count >= 3, "connected twice:\n\(logs)")
        let seen = h.requests().compactMap { $0["idempotency_key"] as? String }
        // Duplicates are allowed only for messages whose delivery died with the connection.
        #expect(seen.count - Set(seen).count <= 8)
    }

    @Test("a bad config is refused with the problems listed, exit 1")
    func badConfig() throws {
        let r = try runCommand("cronq-worker", ["--config", "/nonexistent/cronq.toml"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot read the file"))
        let u = try runCommand("cronq-worker", ["--concurrency", "0"])
        #expect(u.status == 64)
    }
}
