import Foundation

/// Issue #17's figures: what the backend guard costs when it does not bind (permits and tokens still
/// change hands on every call), next to the unlimited worker in the same rounds; and whether
/// `max_in_flight = 64` still lets a 50 ms endpoint run 64 at a time.
enum GuardBench {
    static func run() {
        guard let url = ProcessInfo.processInfo.environment["CRONQ_BENCH_AMQP_URL"] else {
            print("== guard: skipped (set CRONQ_BENCH_AMQP_URL, as `make bench` does) ==")
            return
        }
        let n = Int(ProcessInfo.processInfo.environment["CRONQ_BENCH_N"] ?? "") ?? 20_000
        let permits = "max_in_flight = 1000"
        let tokens = "rate = \"100000/s\"\nburst = 1000"
        do {
            print("== backend guard: N = \(n), --concurrency 64, stub answering 204; limits set not to bind ==")
            var plain: [WorkerBench.Run] = []
            var limited: [WorkerBench.Run] = []
            var rated: [WorkerBench.Run] = []
            // Five rounds, each measuring the three side by side: the costs are medians of the rounds' own
            // ratios, which cancel what a round shares (a busy broker, a slow second) better than medians
            // of each column.
            for round in 1...5 {
                let p = try WorkerBench.worker(url, count: n, mode: .noContent, concurrency: 64)
                let l = try WorkerBench.worker(url, count: n, mode: .noContent, concurrency: 64, backendExtra: permits)
                let r = try WorkerBench.worker(
                    url, count: n, mode: .noContent, concurrency: 64, backendExtra: permits + "\n" + tokens)
                plain.append(p)
                limited.append(l)
                rated.append(r)
                print(
                    String(
                        format:
                            "round %d: unlimited %.0f jobs/s %.3f CPU ms/job   max_in_flight %.0f jobs/s %.3f ms/job   + rate %.0f jobs/s %.3f ms/job",
                        round, p.jobsPerSecond, p.cpuMsPerJob, l.jobsPerSecond, l.cpuMsPerJob, r.jobsPerSecond,
                        r.cpuMsPerJob))
            }
            func m(_ xs: [WorkerBench.Run]) -> (Double, Double, Double) {
                (median(xs.map(\.jobsPerSecond)), median(xs.map(\.cpuMsPerJob)), median(xs.map(\.brokerMsPerJob)))
            }
            let (pj, pc, pb) = m(plain)
            let (lj, lc, lb) = m(limited)
            let (rj, rc, rb) = m(rated)
            print(
                String(
                    format:
                        "median: unlimited %.0f jobs/s (%.3f ms/job, broker %.3f)   max_in_flight %.0f (%.3f, broker %.3f): cost %.1f%% (target ≤ 10%%)   max_in_flight + rate %.0f (%.3f, broker %.3f): cost %.1f%%",
                    pj, pc, pb, lj, lc, lb, 100 * (1 - lj / pj), rj, rc, rb, 100 * (1 - rj / pj)))
            let permitCost = median(zip(limited, plain).map { 1 - $0.jobsPerSecond / $1.jobsPerSecond })
            let rateCost = median(zip(rated, plain).map { 1 - $0.jobsPerSecond / $1.jobsPerSecond })
            print(
                String(
                    format:
                        "median of round ratios: max_in_flight cost %.1f%%, max_in_flight + rate cost %.1f%% (target ≤ 10%%)",
                    100 * permitCost, 100 * rateCost))
            let slowN = min(n, 5000)
            let s = try WorkerBench.worker(
                url, count: slowN, mode: .delay(50), concurrency: 64, backendExtra: "max_in_flight = 64")
            print(
                String(
                    format:
                        "max_in_flight = 64, endpoint takes 50 ms (N = %d): %.0f jobs/s = %.0f%% of 64 / 0.05 s (target ≥ 90%%)",
                    slowN, s.jobsPerSecond, 100 * s.jobsPerSecond / 1280))
        } catch {
            print("guard bench failed: \(error)")
        }
    }
}
