import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// The run history (issue "Job control and history"): events land in the `<prefix>.history` stream and
/// `cronq history` folds them into runs, read non-destructively from a point in time.
@Suite("Run history", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct HistoryTests {
    func cronq(_ h: WorkerHarness, _ args: [String]) throws -> CommandResult {
        try runCommand("cronq", args + ["--config", h.configPath], environment: ["WT_TOKEN": h.token])
    }

    static func runs(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test("a run's events appear with the right outcome; --since and the job filter narrow them; reading takes nothing")
    func history() throws {
        let h = try WorkerHarness(
            backoff: ["1s"], maxAttempts: 3,
            extraJobs: "[[jobs]]\nname = \"other\"\nschedule = \"@daily\"\npath = \"/cron/other\"\n")
        defer { h.stop() }
        try h.startWorker()
        let key = UUID().uuidString.prefix(8)
        try h.publish([
            h.message(
                job: "probe", path: "/cron/ee-recent", scheduledAt: "2026-11-29T10:00:00Z",
                id: "probe@2026-11-29T10:00:00Z"),
            h.message(
                job: "probe", path: "/flaky/\(key)/1", scheduledAt: "2026-11-29T10:01:00Z", backoff: ["1s"],
                id: "probe@2026-11-29T10:01:00Z"),
            h.message(
                job: "other", path: "/status/404", scheduledAt: "2026-11-29T10:02:00Z", id: "other@2026-11-29T10:02:00Z"
            ),
        ])
        #expect(
            h.eventually(30) { h.workerLogs().components(separatedBy: "msg=outcome").count >= 5 },
            "success, retry, success, dead")
        Thread.sleep(forTimeInterval: 1)

        let all = try cronq(h, ["history", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let runs = Self.runs(all.stdout)
        let byID = Dictionary(runs.map { ($0["message_id"] as! String, $0) }) { a, _ in a }
        #expect(runs.count == 3, "\(all.stdout)")
        #expect(byID["probe@2026-11-29T10:00:00Z"]?["outcome"] as? String == "succeeded")
        let retried = byID["probe@2026-11-29T10:01:00Z"]
        #expect(
            retried?["outcome"] as? String == "succeeded" && retried?["attempts"] as? Int == 2,
            "\(String(describing: retried))")
        let dead = byID["other@2026-11-29T10:02:00Z"]
        #expect(
            dead?["outcome"] as? String == "dead" && dead?["status"] as? Int == 404
                && dead?["reason"] as? String == "http_404")
        #expect(runs.first?["scheduled_at"] as? String == "2026-11-29T10:02:00Z", "newest first")

        let probe = try cronq(h, ["history", "probe", "--json"])
        #expect(
            Self.runs(probe.stdout).count == 2 && Self.runs(probe.stdout).allSatisfy { $0["job"] as? String == "probe" }
        )

        let table = try cronq(h, ["history", "--limit", "1"])
        #expect(
            table.stdout.contains("SCHEDULED_AT") && table.stdout.contains("other")
                && table.stdout.contains("dead (http_404)"))
        #expect(table.stdout.contains("1 run(s) since"))

        Thread.sleep(forTimeInterval: 2)
        let recent = try cronq(h, ["history", "--since", "1s", "--json"])
        #expect(
            recent.status == 0 && Self.runs(recent.stdout).isEmpty,
            "nothing happened in the last second: \(recent.stdout)")
        #expect(
            Self.runs(try cronq(h, ["history", "--json"]).stdout).count == 3, "reading the stream took nothing from it")

        let bad = try cronq(h, ["history", "--since", "yesterday"])
        #expect(bad.status == 64 && bad.stderr.contains("--since 'yesterday' is not a duration"))
    }

    @Test("a backlog drained in a burst: events coalesce into fewer messages, and the history keeps every run")
    func burst() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        let capture = "\(h.names.prefix).test-capture"
        try onThreadSync { [url = h.brokerURL, names = h.names] in
            let ch = try AMQPConnection(url: AMQPURL(url)).openChannel()
            try ch.declareQueue(capture, arguments: [:])
            try ch.bindQueue(capture, exchange: names.eventsExchange, routingKey: "job.#")
        }
        let n = 300
        let base = Timestamp.parse("2026-11-29T11:00:00Z")!
        let ids = (0..<n).map { "probe@\(Timestamp.iso(base + Int64($0)))" }
        try h.publish(
            (0..<n).map {
                h.message(path: "/cron/ee-recent", scheduledAt: Timestamp.iso(base + Int64($0)), id: ids[$0])
            })
        try h.startWorker(concurrency: 64)
        #expect(h.eventually(60) { h.workerLogs().components(separatedBy: "outcome=success").count - 1 >= n })
        Thread.sleep(forTimeInterval: 1)

        let messages = try h.drain(capture)
        let events = messages.flatMap { OutcomeEvent.decodeAll($0.message.body) }
        #expect(
            events.count == n && Set(events.map(\.messageID)) == Set(ids)
                && events.allSatisfy { $0.event == "succeeded" })
        #expect(messages.count < n, "\(messages.count) messages for \(n) events: nothing was coalesced")
        for m in messages {
            let count = OutcomeEvent.decodeAll(m.message.body).count
            #expect(m.message.properties.contentType == (count == 1 ? "application/json" : "application/x-ndjson"))
            #expect(
                m.routingKey == "job.probe.succeeded"
                    && m.message.properties.messageID == OutcomeEvent.decodeAll(m.message.body).first?.messageID)
        }

        let history = try cronq(h, ["history", "probe", "--json", "--limit", "1000"])
        let runs = Self.runs(history.stdout)
        #expect(
            runs.count == n && Set(runs.compactMap { $0["message_id"] as? String }) == Set(ids), "\(runs.count) runs")
        #expect(runs.allSatisfy { $0["outcome"] as? String == "succeeded" })
    }

    @Test("the stream is declared with its retention arguments")
    func retention() throws {
        let h = try WorkerHarness(extraConfig: "", amqpExtra: "")
        defer { h.stop() }
        // Declaring it again with other arguments is refused by the broker: the arguments are what cronq says.
        let refused = try onThreadSync { [url = h.brokerURL, q = h.names.historyStream] () -> UInt16? in
            let ch = try AMQPConnection(url: AMQPURL(url)).openChannel()
            do {
                try ch.declareQueue(
                    q,
                    arguments: [
                        "x-queue-type": .string("stream"), "x-max-age": .string("1D"),
                        "x-max-length-bytes": .int64(1 << 30),
                    ])
                return nil
            } catch let e as AMQPError { return e.replyCode }
        }
        #expect(refused == 406, "x-max-age is 604800s, not 1D")
        let same = try onThreadSync { [url = h.brokerURL, q = h.names.historyStream] () -> Bool in
            let ch = try AMQPConnection(url: AMQPURL(url)).openChannel()
            try ch.declareQueue(
                q,
                arguments: [
                    "x-queue-type": .string("stream"), "x-max-age": .string("604800s"),
                    "x-max-length-bytes": .int64(1 << 30), "x-initial-cluster-size": .int64(3),
                ])
            return true
        }
        #expect(same)
    }

    @Test("status --job: an open breaker alerts only the jobs that call its backend")
    func breakerScoped() throws {
        let h = try WorkerHarness(
            extraConfig: """
                [backends.side]
                base_url = "http://127.0.0.1:9"
                token = "${WT_TOKEN}"
                breaker = { failures = 5, cool_down = "30s" }
                """,
            extraJobs: "[[jobs]]\nname = \"other\"\nschedule = \"@daily\"\npath = \"/cron/other\"\nbackend = \"side\"\n"
        )
        defer { h.stop() }
        let config = try h.config()
        let open = BreakerAnnouncement(
            backend: "side", state: "open", by: "test", at: Int64(Date().timeIntervalSince1970), coolDownMs: 30_000)
        try onThreadSync { [url = h.brokerURL, names = h.names] in
            let c = try AMQPConnection(url: AMQPURL(url))
            defer { c.close() }
            try GuardQueues.prepare(c, config: config)
            let ch = try c.openChannel()
            try ch.enableConfirms()
            let r = try ch.publishAndConfirm([
                OutgoingMessage(
                    exchange: names.eventsExchange, routingKey: open.routingKey,
                    message: AMQPMessage(body: open.body, properties: AMQPProperties(deliveryMode: 2)))
            ])
            #expect(r == [.confirmed])
        }
        let all = try cronq(h, ["status"])
        #expect(all.status == 2 && all.stderr.contains("backend side's circuit breaker is open"), "\(all.stderr)")
        let probe = try cronq(h, ["status", "--job", "probe"])
        #expect(probe.status == 0, "probe calls the default backend: \(probe.stderr)")
        let other = try cronq(h, ["status", "--job", "other"])
        #expect(other.status == 2 && other.stderr.contains("backend side's circuit breaker"), "\(other.stderr)")
    }

    @Test("status --jobs and the silence alert: exit 2 for the job that fails, 0 once it succeeds")
    func silenceAlert() throws {
        let h = try WorkerHarness(
            backoff: ["1s"], maxAttempts: 2,
            extraJobs: "[[jobs]]\nname = \"other\"\nschedule = \"@daily\"\npath = \"/cron/other\"\n")
        defer { h.stop() }
        try h.startWorker()
        try h.publish([
            h.message(job: "probe", path: "/cron/ee-recent", id: "probe@manual-1"),
            h.message(job: "other", path: "/status/404", id: "other@manual-1"),
        ])
        #expect(h.eventually(30) { h.workerLogs().components(separatedBy: "msg=outcome").count >= 3 })
        Thread.sleep(forTimeInterval: 1)

        let failing = try cronq(h, ["status", "--max-silence", "probe=10m", "--max-silence", "other=10m"])
        #expect(failing.status == 2, "\(failing.stdout) \(failing.stderr)")
        #expect(failing.stderr.contains("job other: no success for over 10m: no success on record"))
        #expect(!failing.stderr.contains("job probe"), "probe succeeded a moment ago")
        #expect(failing.stdout.contains("LAST_SUCCESS") && failing.stdout.contains("NEXT_FIRE"))

        let fine = try cronq(h, ["status", "--max-silence", "probe=10m"])
        #expect(fine.status == 0, "\(fine.stderr)")

        // --job scopes the job table and the job alerts: probe's health check is not failed by other.
        let silences = ["--max-silence", "probe=10m", "--max-silence", "other=10m"]
        let scoped = try cronq(h, ["status"] + silences + ["--job", "probe"])
        #expect(scoped.status == 0, "\(scoped.stderr)")
        #expect(scoped.stdout.contains("probe") && !scoped.stdout.contains("other "), "\(scoped.stdout)")
        #expect(try cronq(h, ["status"] + silences + ["--job", "other"]).status == 2)
        let unknown = try cronq(h, ["status", "--job", "nosuchjob"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--job names 'nosuchjob'"), "\(unknown.stderr)")

        let json = try cronq(h, ["status", "--jobs", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let rows = (obj?["jobs"] as? [[String: Any]]) ?? []
        let other = rows.first { $0["job"] as? String == "other" }
        #expect(other?["dead"] as? Int == 1 && other?["succeeded"] as? Int == 0, "\(json.stdout)")
        #expect(rows.first { $0["job"] as? String == "probe" }?["succeeded"] as? Int == 1)
        #expect(obj?["queues"] != nil, "the queue status is still there")

        // Then `other` succeeds (a manual run against a path that works): the alert clears.
        try h.publish([h.message(job: "other", path: "/cron/other", id: "other@manual-2")])
        #expect(h.eventually(20) { (try? cronq(h, ["status", "--max-silence", "other=10m"]).status) == 0 })

        let bad = try cronq(h, ["status", "--max-silence", "nosuchjob=5m"])
        #expect(
            bad.status == 64 && bad.stderr.contains("'nosuchjob', which is not a job"), "\(bad.status) \(bad.stderr)")
        let bad2 = try cronq(h, ["status", "--max-silence", "other"])
        #expect(bad2.status == 64 && bad2.stderr.contains("is not JOB=DURATION"))
    }
}
