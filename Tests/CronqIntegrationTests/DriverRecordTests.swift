import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import InMemoryLogging
import Logging
import Metrics
import MetricsTestKit
import Synchronization
import Testing

/// The drivers in process, against the real broker and backend: what they log is read as typed entries
/// from swift-log's in-memory handler (level, message, metadata), and what they count from swift-metrics'
/// test backend, not from log text. The process tests (`WorkerTests`, `TickerTests`, the chaos runs)
/// prove the binaries' wiring; these prove that a record becomes the documented line and series.
@Suite("Drivers' records", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct DriverRecordTests {
    /// swift-metrics can be bootstrapped once per process: every test here shares this backend, and
    /// reads only series labelled with its own job names.
    static let metrics: TestMetrics = {
        let m = TestMetrics()
        MetricsSystem.bootstrap(m)
        return m
    }()

    /// Runs `body` on a thread of its own (the drivers block) and gives a way to wait for its end.
    final class Running: Sendable {
        let done = Atomic<Bool>(false)
        init(_ body: @escaping @Sendable () -> Void) {
            Thread.detachNewThread { [self] in
                body()
                done.store(true, ordering: .sequentiallyConsistent)
            }
        }
        func waitForEnd(_ timeout: TimeInterval) -> Bool {
            waitFor(timeout) { done.load(ordering: .sequentiallyConsistent) ? true : nil } ?? false
        }
    }

    @Test("worker: outcomes are info entries with their fields; counters, statuses and durations are series")
    func worker() throws {
        let metrics = Self.metrics
        let h = try WorkerHarness(
            extraJobs: "[[jobs]]\nname = \"drv-w\"\nschedule = \"@daily\"\npath = \"/cron/ok\"\n")
        defer { h.stop() }
        let log = InMemoryLogHandler()
        let loop = WorkerLoop(
            options: WorkerOptions(config: try h.config(), concurrency: 4),
            logger: Logger(label: "cronq-worker") { _ in log })
        let running = Running { loop.run() }
        try h.publish(
            (0..<3).map { h.message(job: "drv-w", path: "/cron/ok", id: "drv-w-\($0)") } + [
                h.message(job: "drv-w", path: "/status/404", id: "drv-w-dead")
            ])
        func outcomes() -> [InMemoryLogHandler.Entry] {
            log.entries.filter { $0.message == "outcome" && $0.metadata["job"] == "drv-w" }
        }
        #expect(h.eventually(20) { outcomes().count == 4 })
        loop.requestStop()
        #expect(running.waitForEnd(20), "the driver returns after a stop")

        let succeeded = outcomes().filter { $0.metadata["outcome"] == "success" }
        #expect(succeeded.count == 3 && succeeded.allSatisfy { $0.level == .info })
        #expect(
            Set(succeeded.compactMap { $0.metadata["message_id"]?.description }) == ["drv-w-0", "drv-w-1", "drv-w-2"])
        #expect(succeeded.allSatisfy { $0.metadata["status"] == "200" && $0.metadata["attempt"] == "1" })
        let dead = try #require(outcomes().first { $0.metadata["outcome"] == "dead" })
        #expect(dead.level == .warning && dead.metadata["reason"] == "http_404" && dead.metadata["status"] == "404")
        #expect(log.entries.contains { $0.message == "connected" && $0.level == .info })
        #expect(log.entries.contains { $0.message == "worker stopped" && $0.metadata["succeeded"] == "3" })
        #expect(!log.entries.contains { "\($0.message) \($0.metadata)".contains(h.token) }, "the token is never logged")

        let job = [("job", "drv-w")]
        #expect(metrics.counterTotal(label: "cronq_worker_jobs_total", dimensions: job + [("outcome", "success")]) == 3)
        #expect(metrics.counterTotal(label: "cronq_worker_jobs_total", dimensions: job + [("outcome", "dead")]) == 1)
        #expect(
            metrics.counterTotal(label: "cronq_worker_dead_letters_total", dimensions: [("reason", "http_404")]) >= 1)
        #expect(try metrics.expectTimer("cronq_worker_request_duration_seconds").values.count >= 4)
        #expect(try metrics.expectGauge("cronq_worker_connected").lastValue == 0, "disconnected after the stop")
    }

    @Test("ticker: fires are info entries with job, instant and id; the fire counter and the leader gauge move")
    func ticker() throws {
        let metrics = Self.metrics
        let h = try TickerHarness(jobs: [("drv-t", "* * * * * *", "none")])
        defer { h.stop() }
        let log = InMemoryLogHandler()
        let config = try ConfigLoader().load(path: h.configPath)
        let loop = TickerLoop(
            config: config, configPath: h.configPath, logger: Logger(label: "cronq-ticker") { _ in log })
        let running = Running { loop.run() }
        func fired() -> [InMemoryLogHandler.Entry] { log.entries.filter { $0.message == "fired" } }
        #expect(h.eventually(20) { fired().count >= 2 })
        #expect(
            h.eventually(5) { (try? metrics.expectGauge("cronq_ticker_leader").lastValue) == 1 }, "leading")
        loop.requestStop()
        #expect(running.waitForEnd(20))

        let entries = fired()
        #expect(entries.allSatisfy { $0.level == .info && $0.metadata["job"] == "drv-t" })
        for e in entries {
            let at = try #require(e.metadata["scheduled_at"]?.description)
            #expect(e.metadata["message_id"]?.description == "drv-t@\(at)", "the id is job@instant")
        }
        #expect(log.entries.contains { $0.message == "leadership acquired" && $0.level == .notice })
        #expect(log.entries.contains { $0.message == "leadership released" })
        let counted = metrics.counterTotal(label: "cronq_ticker_fires_total", dimensions: [("job", "drv-t")])
        #expect(counted == Int64(entries.count), "one count per logged fire")
        #expect(try metrics.expectTimer("cronq_ticker_fire_lateness_seconds").values.count >= entries.count)
        #expect(try metrics.expectGauge("cronq_ticker_leader").lastValue == 0, "released on stop")
    }
}
