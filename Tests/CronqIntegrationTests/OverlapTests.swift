import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// The overlap policies with an endpoint slower than the schedule, three workers: `allow` overlaps,
/// `skip` skips while the previous run is in flight (and records it), `serial` never has two in flight.
@Suite("Overlap policies", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct OverlapTests {
    /// Reply times (Unix seconds, from the backend's log) of the requests for one path.
    func replies(_ d: Deployment, _ path: String) -> [Double] {
        guard let text = try? String(contentsOfFile: d.backendLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line -> Double? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                o["path"] as? String == path
            else { return nil }
            return o["t"] as? Double
        }.sorted()
    }

    /// The shortest gap between two consecutive replies: below the endpoint's duration means two ran at once.
    func minGap(_ xs: [Double]) -> Double { zip(xs.dropFirst(), xs).map { $0 - $1 }.min() ?? .infinity }

    @Test("allow overlaps, skip skips and records it, serial runs one at a time across three workers")
    func policies() throws {
        let broker = try ChaosBroker(name: "cronq-overlap", port: 5694)
        defer { broker.stop() }
        let d = try Deployment(
            broker: broker,
            jobs: [
                ("al", "* * * * * *", "/slow/2500"), ("sk", "* * * * * *", "/slow/2501"),
                ("se", "* * * * * *", "/slow/1502"),
            ],
            jobExtra: ["al": "overlap = \"allow\"", "sk": "overlap = \"skip\"", "se": "overlap = \"serial\""])
        defer { d.stop() }
        try d.captureEvents()
        try d.startTicker()
        for _ in 0..<3 { try d.startWorker() }
        Thread.sleep(forTimeInterval: 14)
        for t in d.tickers { t?.signal(SIGTERM) }
        for t in d.tickers { t?.process.waitUntilExit() }
        #expect(try d.settle())
        let allow = replies(d, "/slow/2500"), skip = replies(d, "/slow/2501"), serial = replies(d, "/slow/1502")
        print(
            String(
                format:
                    "overlap: allow %d runs (min gap %.2f s), skip %d runs (min gap %.2f s), serial %d runs (min gap %.2f s)",
                allow.count, minGap(allow), skip.count, minGap(skip), serial.count, minGap(serial)))
        #expect(minGap(allow) < 2.0, "allow: runs overlap (one a second, each 2.5 s)")
        #expect(allow.count >= 10)
        #expect(minGap(skip) >= 2.4, "skip: never two at once")
        #expect(skip.count >= 3 && skip.count <= 7, "about one run per 2.5 s + the end's round trip: \(skip.count)")
        let log = d.logs("ticker")
        #expect(
            log.contains("msg=skipped") && log.contains("reason=\"overlap: previous run sk@"),
            "skips are logged with the run they waited for")
        #expect(minGap(serial) >= 1.45, "serial: never two at once, across three workers")
        #expect(serial.count >= 12, "serial: nothing is dropped, the fires queue up")
        let a = try d.accounting()
        print("overlap: \(a)")
        #expect(a.lost.isEmpty && a.unknown.isEmpty && a.balancesAtRest)
        #expect(a.fired.filter { $0.hasPrefix("se@") }.count == serial.count, "every serial fire ran once")
        let events = try d.everythingObservable().first { $0.place.hasPrefix("events") }?.text ?? ""
        #expect(
            events.contains("\"event\":\"skipped\"") && events.contains("overlap: previous run"),
            "skips are recorded as events")
    }

    @Test(
        "a SIGHUP that makes a job skip applies at once: the leader starts learning run ends without a leadership change"
    )
    func skipByReload() throws {
        let broker = try ChaosBroker(name: "cronq-overlap", port: 5694)
        defer { broker.stop() }
        let d = try Deployment(broker: broker, jobs: [("sk", "* * * * * *", "/slow/2502")])
        defer { d.stop() }
        let t = try d.startTicker()
        try d.startWorker()
        Thread.sleep(forTimeInterval: 4)
        let text = try String(contentsOfFile: d.configPath, encoding: .utf8)
        try text.replacingOccurrences(
            of: "path = \"/slow/2502\"\n", with: "path = \"/slow/2502\"\noverlap = \"skip\"\n"
        )
        .write(toFile: d.configPath, atomically: true, encoding: .utf8)
        let reloadedAt = Date().timeIntervalSince1970
        d.tickers[t]?.signal(SIGHUP)
        Thread.sleep(forTimeInterval: 13)
        d.tickers[t]?.signal(SIGTERM)
        d.tickers[t]?.process.waitUntilExit()
        #expect(try d.settle())
        let all = replies(d, "/slow/2502")
        // Runs that began before the reload (one a second, 2.5 s each) have all ended 4 s after it.
        let after = all.filter { $0 > reloadedAt + 4 }
        print(
            String(
                format: "skip by reload: %d runs before, %d after (min gap %.2f s)", all.count - after.count,
                after.count, minGap(after)))
        #expect(minGap(all.filter { $0 < reloadedAt + 2 }) < 2.0, "before the reload the runs overlap")
        #expect(after.count >= 2 && minGap(after) >= 2.4, "after it, never two at once")
        #expect(d.logs("ticker").contains("configuration reloaded") && d.logs("ticker").contains("msg=skipped"))
        let a = try d.accounting()
        #expect(a.lost.isEmpty && a.unknown.isEmpty && a.balancesAtRest, "\(a)")
    }

}
