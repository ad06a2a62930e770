import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// `[[notify]]` and `pause_after_failures` through the real processes: a ticker (the one sender), two
/// workers, the shared broker, and the test backend as the sink (it logs what each sink received).
@Suite("Notifications", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct NotifyTests {
    /// What a sink path received, oldest first: (body as JSON, webhook-signature header).
    func received(_ d: Deployment, _ path: String) -> [(body: [String: Any], signature: String?)] {
        guard let text = try? String(contentsOfFile: d.backendLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                o["path"] as? String == path, let body = o["body"] as? String,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            else { return nil }
            return (json, o["signature"] as? String)
        }
    }

    @Test(
        "dead, failing, paused, silent, recovered: each sent once, by the one leader, to the sinks that want it; a burst is rate-limited; no token"
    )
    func notifications() throws {
        let d = try Deployment(
            broker: SharedBroker(),
            jobs: [
                ("flaky", "* * * * * *", "/status/500"), ("quiet", "0 0 1 1 *", "/cron/quiet"),
                ("burst", "0 0 1 1 *", "/status/404"),
            ],
            maxAttempts: 1,
            jobExtra: ["flaky": "pause_after_failures = 3", "quiet": "alert_after = \"3s\""],
            extra: """
                [[notify]]
                name = "ops"
                kind = "webhook"
                url = "BACKEND/sink/ops"
                signing_secret = "${DEP_SIGNING}"
                events = ["failing", "paused", "silent", "recovered"]
                failing_after = 2
                rate = "100/m"
                [[notify]]
                name = "slack"
                kind = "slack"
                url = "BACKEND/sink/slack"
                events = ["dead"]
                rate = "10/m"

                """)
        defer { d.stop() }
        try d.startTicker()
        try d.startTicker()
        try d.startWorker()
        try d.startWorker()

        // flaky: 500 on its only attempt, every second. failing after 2, paused after 3.
        #expect(waitFor(30) { d.logs("ticker").contains("reason=\"auto: 3 failures\"") }, "\(d.logs("ticker"))")
        // quiet: never fires, alert_after 3 s: silent once.
        #expect(waitFor(15) { received(d, "/sink/ops").contains { $0.body["event"] as? String == "silent" } })
        let cronqEnv = d.environment
        let trigger = try runCommand("cronq", ["trigger", "quiet", "--config", d.configPath], environment: cronqEnv)
        #expect(trigger.status == 0, "\(trigger.stderr)")
        #expect(waitFor(20) { received(d, "/sink/ops").contains { $0.body["event"] as? String == "recovered" } })

        let ops = received(d, "/sink/ops")
        func count(_ event: String, _ job: String) -> Int {
            ops.filter { $0.body["event"] as? String == event && $0.body["job"] as? String == job }.count
        }
        #expect(count("failing", "flaky") == 1 && count("paused", "flaky") == 1, "\(ops.map(\.body))")
        #expect(count("silent", "quiet") == 1 && count("recovered", "quiet") == 1)
        #expect(!ops.contains { $0.body["event"] as? String == "dead" }, "ops does not subscribe to dead")
        #expect(ops.allSatisfy { ($0.signature ?? "").hasPrefix("v1,") }, "the webhook is signed")
        let paused = try #require(ops.first { $0.body["event"] as? String == "paused" }?.body)
        #expect(paused["hint"] as? String == "cronq resume flaky" && paused["v"] as? Int == 1)

        // Slack: one `dead` per dead run of flaky (3 before the pause; a fire already under way when the
        // pause lands may add one), with what a person needs.
        #expect(waitFor(10) { received(d, "/sink/slack").count >= 3 })
        let slack = received(d, "/sink/slack")
        let text = slack.compactMap { $0.body["text"] as? String }
        let flakyDead = text.filter { $0.contains("job flaky is dead (HTTP 500, attempt 1)") }.count
        #expect(flakyDead >= 3 && flakyDead <= 5, "\(text)")
        #expect(waitFor(5) { d.logs("ticker").contains("reason=paused") }, "the paused job's fires are skipped")
        let blocks = "\(slack.first?.body["blocks"] ?? "")"
        #expect(blocks.contains("cronq dead show flaky@"), "the command to run: \(blocks)")

        // A burst of 50 dead letters: the Slack sink's 10/m lets 7 more through; the rest waits for a digest.
        let config = try ConfigLoader(environment: cronqEnv).load(path: d.configPath)
        let job = try #require(config.jobs.first { $0.name == "burst" })
        let messages = (0..<50).map { i -> AMQPMessage in
            let m = JobMessage(job: job, scheduledAt: 1_800_000_000 + Int64(i))
            return AMQPMessage(body: m.encoded(), properties: AMQPProperties(deliveryMode: 2, messageID: m.messageID))
        }
        let exchange = d.names.jobsExchange
        try onThreadSync {
            let c = try AMQPConnection(url: AMQPURL(SharedBroker().url))
            defer { c.close() }
            let ch = try c.openChannel()
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm(
                messages.map { OutgoingMessage(exchange: exchange, routingKey: "default", message: $0) },
                timeout: .seconds(30))
        }
        #expect(waitFor(30) { (try? d.count(d.names.deadQueue)).map { $0 >= 53 } ?? false })
        Thread.sleep(forTimeInterval: 2)
        let afterBurst = received(d, "/sink/slack")
        #expect(afterBurst.count == 10, "the rate limit: 10 a minute, \(afterBurst.count) sent")

        // Nothing anywhere carries the backends' token.
        let log = (try? String(contentsOfFile: d.backendLog, encoding: .utf8)) ?? ""
        let sinkLines = log.split(separator: "\n").filter { $0.contains("\"/sink/") }
        #expect(!sinkLines.isEmpty && !sinkLines.contains { $0.contains(d.token) })
        #expect(d.logs("ticker").contains("msg=notified"))
    }
}
