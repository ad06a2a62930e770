import CronqCore
import CronqHTTP
import CronqTestSupport
import Foundation
import Testing

/// `--metrics-address`: /metrics parses as Prometheus text and its counters move during a run.
@Suite("Metrics endpoints", .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct MetricsTests {
    func get(_ url: String) throws -> (Int, String) {
        let r = try onThreadSync {
            HTTPClient().perform([HTTPRequest(method: "GET", url: url, timeout: .seconds(5))])[0]
        }
        let resp = try r.get()
        return (resp.status, String(decoding: resp.bodyExcerpt, as: UTF8.self))
    }

    func getFull(_ url: String) throws -> String {
        // The excerpt is capped: fetch the whole text with curl's own client for parsing.
        let out = NSTemporaryDirectory() + "metrics-\(UUID()).txt"
        _ = try spawnAndWait(
            "/usr/bin/curl", ["-sf", url], environment: ProcessInfo.processInfo.environment, output: out)
        defer { try? FileManager.default.removeItem(atPath: out) }
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }

    /// Samples `name{labels} value`, checking every non-comment line has that shape.
    func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else {
                Issue.record("not a Prometheus sample line: \(line)")
                continue
            }
            out[String(line[..<space])] = v
        }
        return out
    }

    func port(in log: String) -> Int? {
        guard let r = log.range(of: "address=127.0.0.1:") else { return nil }
        return Int(log[r.upperBound...].prefix { $0.isNumber })
    }

    @Test("worker: job counters, HTTP statuses, durations, health")
    func worker() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try h.startWorker(extra: ["--metrics-address", "127.0.0.1:0"])
        #expect(h.eventually { port(in: h.workerLogs()) != nil && h.workerLogs().contains("msg=connected") })
        let base = "http://127.0.0.1:\(port(in: h.workerLogs())!)"
        #expect(try get(base + "/healthz").0 == 200)
        #expect(try get(base + "/nope").0 == 404)
        try h.publish(
            (0..<5).map { h.message(path: "/cron/ok", id: "mt-\($0)") } + [
                h.message(path: "/status/404", id: "mt-dead")
            ])
        #expect(h.eventually { (try? h.count(h.names.deadQueue)) == 1 && h.requests().count == 6 })
        #expect(
            h.eventually {
                (samples((try? getFull(base + "/metrics")) ?? ""))[
                    #"cronq_worker_jobs_total{job="probe",outcome="success"}"#] == 5
            })
        let s = samples(try getFull(base + "/metrics"))
        #expect(s[#"cronq_worker_jobs_total{job="probe",outcome="dead"}"#] == 1)
        #expect(s[#"cronq_worker_dead_letters_total{reason="http_404"}"#] == 1)
        #expect(s[#"cronq_worker_http_responses_total{status="200"}"#] == 5)
        #expect(s[#"cronq_worker_request_duration_seconds_count"#] == 6)
        #expect(s["cronq_worker_connected"] == 1)
    }

    @Test("ticker: fires, lateness histogram, leader gauge")
    func ticker() throws {
        let h = try TickerHarness(jobs: [("m", "* * * * * *", "none")])
        defer { h.stop() }
        let path = h.dir.appendingPathComponent("ticker-m.log").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let t = try ChildProcess(
            Repo.root + "/.build/debug/cronq-ticker", ["--config", h.configPath, "--metrics-address", "127.0.0.1:0"],
            waitForListening: false, stderr: FileHandle(forWritingAtPath: path)!)
        defer { t.stop() }
        func log() -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        #expect(h.eventually { port(in: log()) != nil && firedCount(log()) >= 3 })
        let base = "http://127.0.0.1:\(port(in: log())!)"
        let s = samples(try getFull(base + "/metrics"))
        #expect((s[#"cronq_ticker_fires_total{job="m"}"#] ?? 0) >= 3)
        #expect(s["cronq_ticker_leader"] == 1)
        #expect((s["cronq_ticker_fire_lateness_seconds_count"] ?? 0) >= 3)
        #expect(try get(base + "/healthz").0 == 200)
    }
}
