import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// Headless Chromium (`scripts/cdp.py`, the DevTools protocol) drives `cronq web` against a running
/// stack: the test broker, a ticker, a worker, the test backend. What an operator does, checked in the
/// page the browser rendered (scripts run, the CSP in force), with screenshots of each page kept under
/// `run/dashboard/`.
@Suite("Dashboard in a browser", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct DashboardBrowserTests {
    static let token = "browser-test-token-0123456789"

    @Test(
        "log in, see the jobs fill, watch the live tail, run a job now, pause one and see it skipped, replay a dead letter and see it succeed"
    )
    func operatorSession() throws {
        let d = try Deployment(
            broker: SharedBroker(),
            jobs: [("tick", "* * * * * *", "/cron/tick"), ("flaky", "0 0 1 1 *", "/flaky/web/1")], maxAttempts: 1,
            extra: "[web]\ntoken = \"\(Self.token)\"\n")
        defer { d.stop() }
        try d.startTicker()
        try d.startWorker()
        let webLog = d.dir.appendingPathComponent("web.log").path
        _ = FileManager.default.createFile(atPath: webLog, contents: nil)
        var env = d.environment
        env["DEP_MGMT_URL"] = ProcessInfo.processInfo.environment["CRONQ_TEST_MANAGEMENT_URL"] ?? ""
        let web = try ChildProcess(
            Repo.root + "/.build/debug/cronq", ["web", "--config", d.configPath, "--listen", "127.0.0.1:0"],
            environment: env, waitForListening: false, stderr: FileHandle(forWritingAtPath: webLog)!)
        defer { web.stop() }
        let base = try #require(
            waitFor(20) { () -> String? in
                let text = (try? String(contentsOfFile: webLog, encoding: .utf8)) ?? ""
                guard let r = text.range(of: #"address=http://127\.0\.0\.1:\d+/"#, options: .regularExpression) else {
                    return nil
                }
                return String(text[r].dropFirst("address=".count).dropLast())
            }, "cronq web did not report its address")
        let b = try CDPBrowser()
        defer { b.quit() }

        // Log in: the pages redirect to the login form until then.
        try b.goto(base + "/jobs")
        #expect(try b.eval("location.pathname") as? String == "/login")
        try b.shot("login")
        try b.navigate(
            "document.querySelector('#token').value = '\(Self.token)'; document.querySelector('#login').click()")
        #expect(try b.eval("location.pathname") as? String == "/jobs")

        // The jobs table fills as the history stream brings tick's runs (a page is server-rendered: reload).
        #expect(
            b.until(60, reload: true) {
                (try? b.eval("document.querySelectorAll('tr[data-job=tick] .spark i.s-ok').length") as? Int ?? 0) ?? 0
                    >= 3
            }, "tick's sparkline never showed 3 successes")
        try b.shot("jobs")

        // The live tail receives events over Server-Sent Events, and keeps at most 500 rows.
        try b.goto(base + "/live?job=tick")
        #expect(
            b.until(30) {
                ((try? b.eval("Number(document.getElementById('live').dataset.seen || 0)")) as? Int ?? 0) >= 2
            },
            "the live tail received nothing")
        #expect(try b.eval("document.querySelector('#live tbody tr td:nth-child(3)').textContent") as? String == "tick")
        try b.shot("live")
        // 2,000 events at 1,000 a second: the page sees them all and keeps 500 rows.
        let before = (try b.eval("Number(document.getElementById('live').dataset.seen)") as? Int) ?? 0
        try Self.publishEvents(d, job: "tick", count: 2000, perSecond: 1000)
        #expect(
            b.until(30) {
                ((try? b.eval("Number(document.getElementById('live').dataset.seen)")) as? Int ?? 0) >= before + 2000
            },
            "the live tail fell behind: \(((try? b.eval("document.getElementById('live').dataset.seen")) as? String) ?? "?")"
        )
        #expect(try b.eval("document.querySelectorAll('#live tbody tr').length") as? Int == 500)

        // Run now: flaky fails its one attempt (503 the first time) and is dead-lettered.
        try b.goto(base + "/jobs")
        try b.navigate("document.querySelector('tr[data-job=flaky] button.run').click()")
        #expect(
            (try b.eval("document.getElementById('message').textContent") as? String)?.contains(
                "Published flaky@manual-") == true)
        try b.goto(base + "/dead")
        #expect(
            b.until(60, reload: true) {
                (try? b.eval("document.querySelectorAll('#dead tbody tr').length") as? Int) == 1
            },
            "no dead letter for flaky")
        try b.shot("dead")

        // Pause tick with a reason: the leader skips its fires, and its page shows them as skipped.
        try b.goto(base + "/jobs")
        try b.navigate(
            "const f = document.querySelector('tr[data-job=tick] form.pause'); f.querySelector('[name=reason]').value = 'browser test'; f.querySelector('button').click()"
        )
        try b.goto(base + "/jobs")
        #expect(
            b.until(30, reload: true) {
                ((try? b.eval("document.querySelector('tr[data-job=tick] .state').textContent")) as? String)?.contains(
                    "paused browser test") == true
            }, "tick not shown paused")
        try b.goto(base + "/jobs/tick")
        #expect(
            b.until(30, reload: true) {
                ((try? b.eval("document.getElementById('history').textContent")) as? String)?.contains("skipped")
                    == true
            }, "no skipped fire in tick's history")
        try b.shot("job")

        // Replay the dead letter: a dry-run count first, then the replay, and flaky succeeds.
        try b.goto(base + "/dead")
        try b.navigate("document.querySelector('#dead tbody a').click()")
        try b.shot("dead-letter")
        try b.navigate("document.getElementById('replay-one').click()")
        #expect(
            (try b.eval("document.getElementById('dry-run').textContent") as? String)?.hasPrefix("1 dead letter")
                == true)
        try b.navigate("document.getElementById('confirm').click()")
        #expect(try b.eval("location.pathname") as? String == "/dead")
        // The replay runs in the background; the dead-letter page shows it finished.
        #expect(
            b.until(60, reload: true) {
                ((try? b.eval("document.querySelector('.op')?.textContent ?? ''")) as? String)?.contains("1 of 1 done")
                    == true
            },
            "the replay did not finish: \(((try? b.eval("document.querySelector('.op')?.textContent ?? 'no operation shown'")) as? String) ?? "?")"
        )
        try b.goto(base + "/jobs/flaky")
        #expect(
            b.until(60, reload: true) {
                ((try? b.eval("document.getElementById('history').textContent")) as? String)?.contains("succeeded")
                    == true
            }, "the replayed flaky did not succeed")
        #expect(d.backendRequestLog().filter { $0["path"] as? String == "/flaky/web/1" }.count == 2)

        // Queues and workers: the topology's queues; the ticker, leading, and the worker.
        try b.goto(base + "/queues")
        #expect(
            (try b.eval("document.getElementById('queues').textContent") as? String)?.contains(d.names.deadQueue)
                == true)
        try b.shot("queues")
        try b.goto(base + "/workers")
        let clients = try b.eval("document.getElementById('clients').textContent") as? String ?? ""
        #expect(clients.contains("cronq-ticker/") && clients.contains("leader"), "\(clients)")
        #expect(clients.contains("cronq-worker/") && clients.contains(d.names.workQueue("default")), "\(clients)")
        try b.shot("workers")
    }
}

extension DashboardBrowserTests {
    /// Publishes synthetic `succeeded` events of `job` to the events exchange, 100 to a message (as a worker
    /// batches them), paced to `perSecond`.
    static func publishEvents(_ d: Deployment, job: String, count: Int, perSecond: Int) throws {
        let c = try AMQPConnection(url: AMQPURL(TestBroker.url!), name: "browser-test events")
        defer { c.close() }
        let ch = try c.openChannel()
        try ch.enableConfirms()
        let start = Date()
        for batch in stride(from: 0, to: count, by: 100) {
            let now = Int64(Date().timeIntervalSince1970)
            let lines = (batch..<min(count, batch + 100)).map { i in
                #"{"event":"succeeded","job":"\#(job)","message_id":"\#(job)@synthetic-\#(i)","attempt":1,"status":200,"duration_ms":1,"at":"\#(Timestamp.iso(now))"}"#
            }
            _ = try ch.publishAndConfirm([
                OutgoingMessage(
                    exchange: d.names.eventsExchange, routingKey: "job.\(job).succeeded",
                    message: AMQPMessage(
                        body: Array(lines.joined(separator: "\n").utf8),
                        properties: AMQPProperties(contentType: "application/x-ndjson")))
            ])
            let due = start.addingTimeInterval(Double(batch + 100) / Double(perSecond))
            if due > Date() { Thread.sleep(until: due) }
        }
    }
}

/// `scripts/cdp.py` as an object: one JSON command per line in, one answer per line out.
final class CDPBrowser {
    private let process: ChildProcess
    static let shots = Repo.root + "/run/dashboard"

    init() throws {
        process = try ChildProcess(
            "/usr/bin/env", ["python3", Repo.script("cdp.py")], waitForListening: false, stdin: true)
        let ready = process.readLine()
        guard ready.contains("\"ready\": true") else { throw TestSupportError("chromium did not start: \(ready)") }
    }

    @discardableResult
    private func send(_ command: [String: Any]) throws -> Any? {
        let line = String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)
        process.writeLine(line)
        let answer = process.readLine()
        guard let o = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] else {
            throw TestSupportError("cdp.py answered '\(answer)'")
        }
        guard o["ok"] as? Bool == true else { throw TestSupportError("\(command["op"]!): \(o["error"] ?? "?")") }
        return o["value"]
    }

    func goto(_ url: String) throws { try send(["op": "goto", "url": url]) }

    /// Runs `js` (a click that submits a form or follows a link) and waits for the next page to load: a
    /// mark left on the old page tells the two apart, however slow the server is.
    func navigate(_ js: String) throws {
        try eval("window.__cronqOldPage = true; \(js); 0")
        guard
            until(
                60,
                {
                    (try? self.eval("window.__cronqOldPage === undefined && document.readyState === 'complete'"))
                        as? Bool == true
                })
        else { throw TestSupportError("no new page after: \(js)") }
    }

    @discardableResult
    func eval(_ js: String) throws -> Any? { try send(["op": "eval", "js": js]) }

    func shot(_ name: String) throws { try send(["op": "shot", "path": "\(Self.shots)/\(name).png"]) }

    /// Polls `check` (reloading the page first when `reload`) until it holds or `timeout` passes.
    func until(_ timeout: TimeInterval, reload: Bool = false, _ check: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if check() { return true }
            Thread.sleep(forTimeInterval: 0.5)
            if reload { try? navigate("location.reload()") }
        }
        return check()
    }

    func quit() {
        process.writeLine(#"{"op": "quit"}"#)
        process.stop()
    }
}
