import CronqCore
import CronqRuntime
import CronqWeb
import Foundation
import Logging

/// `cronq web`'s numbers: the jobs page of a 10,000-job configuration rendered server-side (target: under
/// 300 ms), how fast the history follower folds events, and how fast the live tail turns events into
/// Server-Sent Events lines (target: keeps up with 1,000 events/s). No broker: the dashboard's reads are
/// folded in directly, as the follower would.
enum WebBench {
    static func run() {
        print("== cronq web: jobs page with 10,000 jobs (release, medians of 15) ==")
        var toml = """
            [amqp]
            url = "amqp://guest:guest@127.0.0.1:1/%2F"
            [backends.default]
            base_url = "http://127.0.0.1:9"
            token = "bench-token"

            """
        let zones = ["UTC", "Europe/London", "America/New_York", "Asia/Tokyo"]
        for i in 0..<10_000 {
            toml +=
                "[[jobs]]\nname = \"job-\(i)\"\nschedule = \"\(i % 60) \(i % 24) * * *\"\ntimezone = \"\(zones[i % 4])\"\npath = \"/cron/\(i)\"\n"
        }
        let config: CronqConfig
        do {
            config = try ConfigLoader(environment: [:]).parse(toml, path: "bench.toml")
        } catch {
            print("config: \(error)")
            return
        }
        let now: Int64 = 1_796_000_000
        // 50 runs per job (the sparkline's length): a fire and an outcome each, one in ten dead.
        var events: [OutcomeEvent] = []
        events.reserveCapacity(1_000_000)
        for run in 0..<50 {
            let at = now - Int64(50 - run) * 600
            for i in 0..<10_000 {
                let id = "job-\(i)@\(at)"
                events.append(OutcomeEvent(event: "fired", job: "job-\(i)", messageID: id, at: at))
                events.append(
                    OutcomeEvent(
                        event: (i + run) % 10 == 0 ? "dead" : "succeeded", job: "job-\(i)", messageID: id, attempt: 1,
                        status: (i + run) % 10 == 0 ? 500 : 200, durationMs: 40, error: nil, at: at + 1))
            }
        }
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        for pageSize in [50, 10_000] {
            guard let d = try? Dashboard(config: config, readOnly: false, logger: logger, pageSize: pageSize) else {
                print("dashboard: could not start")
                return
            }
            let foldStart = Date()
            d.load(history: events)
            let foldSeconds = Date().timeIntervalSince(foldStart)
            if pageSize == 50 {
                print(
                    String(
                        format: "history fold: %d events in %.2f s = %.0f events/s", events.count, foldSeconds,
                        Double(events.count) / foldSeconds))
            }
            var times: [Double] = []
            var bytes = 0
            for round in 0..<15 {
                let start = Date()
                let html = d.renderJobsPage(page: 1 + round % 3, now: now)
                times.append(Date().timeIntervalSince(start) * 1000)
                bytes = html.utf8.count
            }
            print(
                String(
                    format: "page of %5d rows: median %.1f ms, %d KiB of HTML%@", min(pageSize, 10_000), median(times),
                    bytes / 1024,
                    pageSize == 50 ? "   (target < 300 ms; the page the dashboard serves)" : "   (unpaged, for scale)"))
        }
        sse()
    }

    /// Events through the live tail's formatting (one JSON line each), on one core.
    static func sse() {
        let e = OutcomeEvent(
            event: "succeeded", job: "ee-recent", messageID: "ee-recent@2026-12-01T10:00:00Z", attempt: 1, status: 200,
            durationMs: 42, at: 1_796_000_000)
        var rounds: [Double] = []
        for _ in 0..<5 {
            let n = 50_000
            let start = threadCPUSeconds()
            var total = 0
            for _ in 0..<n { total &+= LiveLine.format(e).utf8.count }
            rounds.append(Double(n) / (threadCPUSeconds() - start))
            if total == 0 { print("") }
        }
        print(
            String(
                format: "live tail: %.0f events/s formatted as SSE lines on one core (target ≥ 1,000/s)", median(rounds)
            ))
    }
}
