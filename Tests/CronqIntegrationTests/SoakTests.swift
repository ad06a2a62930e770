import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// `make soak` (CRONQ_SOAK_SECONDS, default 600; `make test` runs 60): 200 jobs on second-level
/// schedules, two tickers, three workers, a backend failing 5% of calls at random, one broker restart
/// and one worker SIGKILL in the middle. At the end the accounting checker must balance with zero lost,
/// and no process may have grown its descriptors or memory beyond noise.
@Suite(
    "Soak", .serialized,
    .enabled(
        if: TestBroker.isConfigured && ProcessInfo.processInfo.environment["CRONQ_SOAK_SECONDS"] != nil,
        "run by `make soak` / `make test`"))
struct SoakTests {
    @Test("200 jobs, faults in the middle: every fire accounted for, no leaks")
    func soak() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["CRONQ_SOAK_SECONDS"] ?? "") ?? 600
        let broker = try ChaosBroker(name: "cronq-soak", port: 5688)
        defer { broker.stop() }
        let jobs = (0..<200).map { i in
            ("s\(i)", i % 10 == 0 ? "* * * * * *" : "*/\(2 + i % 4) * * * * *", "/random-fail/5")
        }
        let d = try Deployment(broker: broker, jobs: jobs)
        defer { d.stop() }
        try d.startTicker()
        try d.startTicker()
        for _ in 0..<3 { try d.startWorker() }
        let warmup = min(10, seconds / 6)
        Thread.sleep(forTimeInterval: warmup)
        let procs = { (d.tickers + d.workers).compactMap { $0 } }
        let before = procs().map { ($0.pid, Deployment.usage($0.pid)) }
        let start = Date()
        var restarted = false, killed = false
        while Date().timeIntervalSince(start) < seconds - warmup {
            let t = Date().timeIntervalSince(start)
            if !restarted && t > (seconds - warmup) * 0.4 {
                try broker.restart(down: 3)
                restarted = true
                print("soak: broker restarted at \(Int(t)) s")
            }
            if !killed && t > (seconds - warmup) * 0.6 {
                d.kill(d.workers[0])
                try d.startWorker(replacing: 0)
                killed = true
                print("soak: worker 0 SIGKILLed and restarted at \(Int(t)) s")
            }
            Thread.sleep(forTimeInterval: 1)
        }
        // Same processes as at the start (worker 0 was replaced: compare the others).
        let after = Dictionary(uniqueKeysWithValues: procs().map { ($0.pid, Deployment.usage($0.pid)) })
        var usage: [String] = []
        for (pid, u0) in before {
            guard let u1 = after[pid] else { continue }
            usage.append(
                String(format: "pid %d: RSS %.1f → %.1f MiB, fds %d → %d", pid, u0.rssMiB, u1.rssMiB, u0.fds, u1.fds))
            #expect(u1.fds <= u0.fds + 8, "descriptors grew: \(u0.fds) → \(u1.fds)")
            #expect(u1.rssMiB <= u0.rssMiB * 1.5 + 16, "memory grew: \(u0.rssMiB) → \(u1.rssMiB) MiB")
        }
        for t in d.tickers { t?.signal(SIGTERM) }
        for t in d.tickers { t?.process.waitUntilExit() }
        let quiet = try d.settle()
        let a = try d.accounting()
        print("soak (\(Int(seconds)) s): \(a), gaps \(d.gaps())")
        for line in usage { print("soak: \(line)") }
        #expect(quiet)
        #expect(restarted && killed)
        #expect(a.lost.isEmpty && a.unknown.isEmpty && a.conflicting.isEmpty && a.unexplainedDuplicates.isEmpty)
        #expect(a.balancesAtRest, "\(a)")
        #expect(d.gaps() == 0)
        #expect(a.fired.count > Int(seconds) * 30, "about 75 fires a second")
    }
}
