import CSystemMemory
import CronqCore
import Foundation

// cronq-bench: the numbers the issues ask for, measured in one run; medians of several rounds.
// Usage: cronq-bench [cron|worker|nginx|guard|ticker|cluster|web] or cronq-bench memprobe CONFIG (RSS across config loads)   (default: everything; the worker part needs CRONQ_BENCH_AMQP_URL)

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// CPU time of this thread, so other processes on the 2-core machine do not skew the rate.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func benchCron() {
    print("== cron next() calls per second (one core, release) ==")
    let cases: [(String, String)] = [
        ("*/5 * * * *", "UTC"), ("6 2 * * *", "UTC"), ("0 9 * * MON-FRI", "UTC"), ("0 0 L * *", "UTC"),
        ("0 0 * * 5#3", "UTC"), ("*/10 * * * * *", "UTC"), ("30 1 * * *", "Europe/London"),
        ("*/5 * * * *", "Europe/London"),
    ]
    print(
        "expression".padding(toLength: 22, withPad: " ", startingAt: 0)
            + "zone".padding(toLength: 15, withPad: " ", startingAt: 0)
            + "calls/s (median of 5)   ns/call")
    var utcRates: [Double] = []
    var dstRates: [Double] = []
    for (expr, zone) in cases {
        let s = try! CronSchedule(expr, timeZone: zone)
        var rounds: [Double] = []
        for _ in 0..<5 {
            var t: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z: walks through both DST changes
            let n = 200_000
            let start = threadCPUSeconds()
            for _ in 0..<n {
                t = s.next(after: t)!
                if t > 1_893_456_000 { t = 1_767_225_600 }  // stay in 2026-2029
            }
            rounds.append(Double(n) / (threadCPUSeconds() - start))
        }
        let m = median(rounds)
        if zone == "UTC" { utcRates.append(m) } else { dstRates.append(m) }
        print(
            expr.padding(toLength: 22, withPad: " ", startingAt: 0)
                + zone.padding(toLength: 15, withPad: " ", startingAt: 0)
                + String(format: "%12.0f            %6.0f", m, 1e9 / m))
    }
    print(
        String(
            format: "slowest UTC: %.0f/s (target ≥ 1,000,000)   slowest DST zone: %.0f/s (target ≥ 300,000)",
            utcRates.min()!, dstRates.min()!))
    print("parsed expression size: \(MemoryLayout<CronExpression>.size) bytes (+ its source string)")
}

let what = CommandLine.arguments.dropFirst().first ?? "all"
if what == "cron" || what == "all" { benchCron() }
if what == "worker" || what == "all" { WorkerBench.run() }
if what == "nginx", let url = ProcessInfo.processInfo.environment["CRONQ_BENCH_AMQP_URL"] {
    do {
        try WorkerBench.nginx(url, count: Int(ProcessInfo.processInfo.environment["CRONQ_BENCH_N"] ?? "") ?? 20_000)
    } catch {
        print("nginx bench failed: \(error)")
    }
}
if what == "guard" || what == "all" { GuardBench.run() }
if what == "ticker" || what == "all" { TickerBench.run() }
if what == "cluster" || what == "all" { WorkerBench.runCluster() }
if what == "web" || what == "all" { WebBench.run() }

if what == "memprobe", CommandLine.arguments.count > 2 {
    func rss() -> String {
        String(
            format: "RSS %.1f MiB, heap in use %.1f MiB", TickerBench.currentRSS(getpid()),
            Double(cronq_heap_in_use()) / 1_048_576)
    }
    print(
        "start \(rss()); a config job takes \(MemoryLayout<CronqConfig.Job>.stride) bytes inline, a planner job \(MemoryLayout<FirePlanner.Job>.stride)"
    )
    do {
        let c = try ConfigLoader(allowMissingVariables: true).load(path: CommandLine.arguments[2])
        print("loaded \(c.jobs.count) jobs: \(rss())")
        let jobs = c.jobs.map(FirePlanner.Job.init)
        print("planner jobs: \(rss()) \(jobs.count)")
    }
    print("after scope: \(rss())")
    cronq_release_free_memory()
    print("after trim: \(rss())")
    _ = try? ConfigLoader(allowMissingVariables: true).load(path: CommandLine.arguments[2])
    cronq_release_free_memory()
    print("after a second load: \(rss())")
}
