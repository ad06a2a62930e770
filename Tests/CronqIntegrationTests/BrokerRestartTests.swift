import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// Broker restarts, on a node of their own (`ChaosBroker`): the worker and the ticker survive them and
/// nothing is lost.
@Suite("Broker restarts", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct BrokerRestartTests {
    @Test("worker: the broker restarts mid-run; every message ends succeeded, nothing missing")
    func workerSurvivesRestart() throws {
        let broker = try ChaosBroker()
        defer { broker.stop() }
        let h = try WorkerHarness(brokerURL: broker.url, timeout: "10s")
        defer { h.stop() }
        try h.startWorker(concurrency: 8)
        let ids = (0..<150).map { "br-\($0)" }
        try h.publish(ids.map { h.message(path: "/slow/100", id: $0) })
        #expect(h.eventually { h.requests().count >= 20 })
        try broker.restart(down: 3)
        #expect(
            h.eventually(90) {
                Set(h.requests().compactMap { $0["idempotency_key"] as? String }) == Set(ids)
                    && (try? h.count(h.names.workQueue("default"))) == 0
            }, "every message reached the backend after the restart")
        #expect(try h.count(h.names.deadQueue) == 0)
        let seen = h.requests().compactMap { $0["idempotency_key"] as? String }
        print(
            "worker restart: \(ids.count) messages, \(seen.count - Set(seen).count) duplicates (redeliveries), 0 lost")
        #expect(
            h.workerLogs().contains("cannot connect to the broker") || h.workerLogs().contains("broker connection lost")
        )
    }

    @Test("ticker: the broker restarts while it runs; it leads again and catch_up all leaves no gap")
    func tickerSurvivesRestart() throws {
        let broker = try ChaosBroker()
        defer { broker.stop() }
        let h = try TickerHarness(brokerURL: broker.url, jobs: [("all", "* * * * * *", "all")])
        defer { h.stop() }
        let t = try h.start()
        #expect(h.eventually { firedCount(h.logs()) >= 3 })
        try broker.restart(down: 3)
        let before = firedCount(h.logs())
        #expect(
            h.eventually(60) {
                h.logs().components(separatedBy: "leadership acquired").count >= 3 && firedCount(h.logs()) >= before + 6
            })
        t.signal(SIGTERM)
        t.process.waitUntilExit()
        let instants = try h.drainFires().map(\.instant).sorted()
        #expect(Set(instants).count == instants.count, "no duplicate fires")
        #expect(instants.last! - instants.first! == Int64(instants.count - 1), "no second lost across the restart")
        print("ticker restart: \(instants.count) fires, 0 missing, 0 duplicated")
    }
}
