import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

/// Worker throughput against the broker ceiling (issue: "drain N pre-published job messages").
enum WorkerBench {
    /// The broker's process, when `make bench` says which it is: its CPU per message shows what the
    /// worker costs the broker, compared with the plain consume-and-ack loop.
    static let brokerPID = ProcessInfo.processInfo.environment["CRONQ_BENCH_BROKER_PID"].flatMap { Int32($0) }

    /// The nodes of the cluster bench (`CRONQ_BENCH_CLUSTER_PIDS`, comma-separated), when it runs.
    static let clusterPIDs = (ProcessInfo.processInfo.environment["CRONQ_BENCH_CLUSTER_PIDS"] ?? "")
        .split(separator: ",").compactMap { Int32($0) }
    nonisolated(unsafe) static var measuringCluster = false

    /// Broker CPU seconds so far: the single node, or every node of the cluster while it is measured.
    static func brokerCPU() -> Double {
        if measuringCluster { return clusterPIDs.map { cpuSeconds($0) }.reduce(0, +) }
        return brokerPID.map { cpuSeconds($0) } ?? 0
    }

    static func connect(_ url: String) throws -> AMQPConnection {
        try AMQPConnection(url: AMQPURL(url), name: "cronq-bench")
    }

    static func message(_ i: Int, prefix: String) -> AMQPMessage {
        let m = JobMessage(
            job: "bench", scheduledAt: Timestamp.iso(1_800_000_000 + Int64(i)), backend: "default",
            request: .init(method: "POST", path: "/cron/bench", headers: [:], body: nil, timeoutMs: 10_000),
            retry: .init(maxAttempts: 3, backoff: ["1s"], maxDurationS: 3600))
        return AMQPMessage(
            body: m.encoded(),
            properties: AMQPProperties(
                contentType: "application/json", deliveryMode: 2, messageID: m.messageID, type: "cronq.job",
                appID: "cronq-bench"))
    }

    static func publish(_ url: String, exchange: String, key: String, count: Int, prefix: String) throws {
        let c = try connect(url)
        let ch = try c.openChannel()
        try ch.enableConfirms()
        var i = 0
        while i < count {
            let batch = (i..<min(i + 2000, count)).map {
                OutgoingMessage(exchange: exchange, routingKey: key, message: message($0, prefix: prefix))
            }
            let r = try ch.publishAndConfirm(batch, timeout: .seconds(120))
            precondition(r.allSatisfy { $0 == .confirmed }, "bench publish not confirmed")
            i += batch.count
        }
        c.close()
    }

    /// Plain consume-and-ack on the same AMQP layer, no HTTP: what the broker allows. `clientMsPerMessage`
    /// is this loop's own CPU (it runs on the calling thread), for the CPU account of ``nginx(_:count:)``.
    static func ceiling(_ url: String, count: Int) throws -> (
        rate: Double, brokerMsPerMessage: Double, clientMsPerMessage: Double
    ) {
        let q = "cronq-bench-ceiling-\(UUID().uuidString.prefix(6))"
        let admin = try connect(url)
        try admin.openChannel().declareQueue(q, arguments: ["x-queue-type": .string("quorum")])
        defer { _ = try? admin.openChannel().deleteQueue(q) }
        try publish(url, exchange: "", key: q, count: count, prefix: q)
        let c = try connect(url)
        let ch = try c.openChannel()
        try ch.setPrefetch(64)
        let broker0 = brokerCPU()
        let client0 = threadCPUSeconds()
        let start = ContinuousClock.now
        try ch.consume(queue: q)
        var n = 0
        while n < count {
            guard case .delivery(let d)? = try c.nextEvent(timeout: .seconds(10)) else { continue }
            try ch.ack(d.deliveryTag)
            n += 1
        }
        let seconds = seconds(ContinuousClock.now - start)
        let client = threadCPUSeconds() - client0
        let broker = brokerCPU() - broker0
        ch.close()
        c.close()
        return (Double(count) / seconds, broker * 1000 / Double(count), client * 1000 / Double(count))
    }

    struct Run {
        var jobsPerSecond: Double
        var cpuMsPerJob: Double
        var rssMiB: Double
        var brokerMsPerJob: Double
        /// The backend's CPU per job while the worker ran (the stub's is this process's, the queue-count probe included).
        var stubMsPerJob: Double
        /// The part of the worker's CPU spent in the kernel.
        var kernelShare = 0.0
    }

    /// Against the stub backend in `mode`, at `--log-level error` (the figures of earlier sessions).
    static func worker(
        _ url: String, count: Int, mode: StubServer.Mode, concurrency: Int, processURLs: String? = nil,
        backendExtra: String = ""
    )
        throws -> Run
    {
        var expected = count
        if case .fail10PercentFirstAttempt = mode { expected = count + count / 10 - count / 50 }  // ≈ 10% retried once
        return try worker(
            url, count: count, backend: StubServer(mode: mode), expectedCalls: expected, concurrency: concurrency,
            logLevel: "error", processURLs: processURLs, backendExtra: backendExtra)
    }

    /// - Parameters:
    ///   - backend: answers the calls; the bench waits until it has seen `expectedCalls`.
    ///   - logLevel: the worker's `--log-level`; its log goes to a file, as to a journal in production.
    ///   - processURLs: the worker's endpoints (`urls`), when they are not just `url` (a cluster).
    ///   - backendExtra: more keys of `[backends.default]` (the guard's limits).
    static func worker(
        _ url: String, count: Int, backend stub: any BenchBackend, expectedCalls expected: Int, concurrency: Int,
        logLevel: String, processURLs: String? = nil, backendExtra: String = "", workerArguments: [String] = []
    ) throws -> Run {
        defer { stub.stop() }
        let prefix = "cronq-bench-\(UUID().uuidString.prefix(6).lowercased())"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configPath = dir.appendingPathComponent("cronq.toml").path
        try """
        [amqp]
        urls = "\(processURLs ?? url)"
        prefix = "\(prefix)"
        [backends.default]
        base_url = "http://127.0.0.1:\(stub.port)"
        token = "bench-token"
        \(backendExtra)
        [retry]
        backoff = ["1s"]
        [[jobs]]
        name = "bench"
        schedule = "@daily"
        path = "/cron/bench"
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader().load(path: configPath)
        let topology = Topology(config: config)
        let admin = try connect(url)
        try TopologyDeclarer(connection: admin).apply(topology)
        defer {
            if let ch = try? admin.openChannel() {
                for q in topology.queues.map(\.name) + GuardQueues.names(config) { _ = try? ch.deleteQueue(q) }
                for x in topology.exchanges { try? ch.deleteExchange(x.name) }
            }
        }
        let names = Topology.Names(prefix: prefix)
        try publish(url, exchange: names.jobsExchange, key: "default", count: count, prefix: prefix)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("cronq-worker")
        p.arguments =
            ["--config", configPath, "--concurrency", "\(concurrency)", "--log-level", logLevel] + workerArguments
        let logPath = dir.appendingPathComponent("worker.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        p.standardError = log
        try p.run()
        let probe = try admin.openChannel()
        // The clock starts when the worker's consumer takes its first deliveries (as the ceiling's starts
        // at its consume): process start-up, connecting and declaring the topology are not throughput.
        while try probe.inspectQueue(names.workQueue("default")).messageCount == count {
            usleep(500)
        }
        let broker0 = brokerCPU()
        let times0 = procTimes(p.processIdentifier)
        let backend0 = stub.cpuSeconds
        let start = ContinuousClock.now
        while true {
            let ready = try probe.inspectQueue(names.workQueue("default")).messageCount
            let retrying = try probe.inspectQueue(names.retryQueue("1s")).messageCount
            if ready == 0 && retrying == 0 && stub.requests >= expected { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let elapsed = seconds(ContinuousClock.now - start)
        if stub is NginxServer, case let calls = stub.requests, calls != expected {
            print("note: nginx saw \(calls) calls for \(expected) jobs")
        }
        let broker = brokerCPU() - broker0
        let times1 = procTimes(p.processIdentifier)
        let rss = peakRSS(p.processIdentifier)
        let kernel = times1.system - times0.system
        let backendCPU = stub.cpuSeconds - backend0
        let cpu = times1.user + times1.system - times0.user - times0.system
        p.terminate()
        p.waitUntilExit()
        return Run(
            jobsPerSecond: Double(count) / elapsed, cpuMsPerJob: cpu * 1000 / Double(count), rssMiB: rss,
            brokerMsPerJob: broker * 1000 / Double(count), stubMsPerJob: backendCPU * 1000 / Double(count),
            kernelShare: cpu > 0 ? kernel / cpu : 0)
    }

    /// CPU seconds (user + system) of a running process, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        let (user, system) = procTimes(pid)
        return user + system
    }

    /// Peak RSS in MiB of a running process (`VmHWM`).
    static func peakRSS(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let hwm =
            status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first
            .flatMap { Double($0) } ?? 0
        return hwm / 1024
    }

    /// A process's CPU seconds in user space and in the kernel (on its behalf: system calls, the loopback
    /// TCP stack it drives).
    static func procTimes(_ pid: Int32) -> (user: Double, system: Double) {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 13 else { return (0, 0) }
        return ((Double(fields[11]) ?? 0) / ticks, (Double(fields[12]) ?? 0) / ticks)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The same worker run on a three-node cluster (every queue replicated on all three), next to one node,
    /// measured in the same run: replication costs broker CPU, and that is reported, not hidden.
    static func runCluster() {
        let env = ProcessInfo.processInfo.environment
        guard let single = env["CRONQ_BENCH_AMQP_URL"], let urls = env["CRONQ_BENCH_CLUSTER_URLS"], !urls.isEmpty else {
            print("== worker on a cluster: skipped (CRONQ_BENCH_CLUSTER_URLS, as `make bench` sets) ==")
            return
        }
        let n = Int(env["CRONQ_BENCH_N"] ?? "") ?? 20_000
        let first = String(urls.split(separator: ",")[0])
        do {
            print(
                "== worker on a 3-node cluster vs one node: N = \(n), --concurrency 64, stub backend answering 204 ==")
            var one: [Run] = []
            var three: [Run] = []
            for round in 1...3 {
                measuringCluster = false
                let a = try worker(single, count: n, mode: .noContent, concurrency: 64)
                measuringCluster = true
                let b = try worker(first, count: n, mode: .noContent, concurrency: 64, processURLs: urls)
                measuringCluster = false
                one.append(a)
                three.append(b)
                print(
                    String(
                        format:
                            "round %d: one node %.0f jobs/s (worker %.3f, broker %.3f CPU ms/job)   cluster %.0f jobs/s (worker %.3f, brokers %.3f CPU ms/job)",
                        round, a.jobsPerSecond, a.cpuMsPerJob, a.brokerMsPerJob, b.jobsPerSecond, b.cpuMsPerJob,
                        b.brokerMsPerJob))
            }
            print(
                String(
                    format:
                        "median: one node %.0f jobs/s, broker %.3f CPU ms/job; cluster %.0f jobs/s (%.2f of one node), all three brokers %.3f CPU ms/job; worker %.3f vs %.3f CPU ms/job",
                    median(one.map(\.jobsPerSecond)), median(one.map(\.brokerMsPerJob)),
                    median(three.map(\.jobsPerSecond)),
                    median(three.map(\.jobsPerSecond)) / median(one.map(\.jobsPerSecond)),
                    median(three.map(\.brokerMsPerJob)), median(one.map(\.cpuMsPerJob)),
                    median(three.map(\.cpuMsPerJob))))
        } catch {
            print("cluster bench failed: \(error)")
        }
    }

    /// The worker against nginx answering 204, at the default `--log-level info` (and at `error`, to show what
    /// logging costs, and with `--prefetch 128`, to show what a deeper prefetch gains), beside the
    /// consume-and-ack ceiling measured in the same round (at prefetch 64, the worker's default).
    static func nginx(_ url: String, count: Int) throws {
        print("== worker against nginx answering 204 (keep-alive), N = \(count), --concurrency 64 ==")
        var ratios: [Double] = []
        var deepRatios: [Double] = []
        var info: [Run] = []
        var quiet: [Run] = []
        var accounted: [Double] = []
        for round in 1...3 {
            let c = try ceiling(url, count: count)
            let i = try worker(
                url, count: count, backend: try NginxServer(), expectedCalls: count, concurrency: 64, logLevel: "info")
            let e = try worker(
                url, count: count, backend: try NginxServer(), expectedCalls: count, concurrency: 64, logLevel: "error")
            let deep = try worker(
                url, count: count, backend: try NginxServer(), expectedCalls: count, concurrency: 64, logLevel: "info",
                workerArguments: ["--prefetch", "128"])
            ratios.append(i.jobsPerSecond / c.rate)
            deepRatios.append(deep.jobsPerSecond / c.rate)
            info.append(i)
            quiet.append(e)
            print(
                String(
                    format:
                        "round %d: ceiling %.0f msg/s   info: %.0f jobs/s, ratio %.2f, %.3f CPU ms/job, peak RSS %.1f MiB, nginx %.3f CPU ms/job   error: %.0f jobs/s, %.3f CPU ms/job   broker CPU ms/msg: ceiling %.3f, worker %.3f   info --prefetch 128: %.0f jobs/s, ratio %.2f, %.3f CPU ms/job, peak RSS %.1f MiB",
                    round, c.rate, i.jobsPerSecond, i.jobsPerSecond / c.rate, i.cpuMsPerJob, i.rssMiB, i.stubMsPerJob,
                    e.jobsPerSecond, e.cpuMsPerJob, c.brokerMsPerMessage, i.brokerMsPerJob, deep.jobsPerSecond,
                    deep.jobsPerSecond / c.rate, deep.cpuMsPerJob, deep.rssMiB))
            // Every process of a run shares the two cores: what each side costs in all, per message.
            let ceilingCPU = c.brokerMsPerMessage + c.clientMsPerMessage
            let workerCPU = i.brokerMsPerJob + i.cpuMsPerJob + i.stubMsPerJob
            accounted.append(ceilingCPU / workerCPU)
            print(
                String(
                    format:
                        "         CPU a message, every process: ceiling %.3f ms (broker %.3f + client %.3f), %.2f cores busy   worker at info %.3f ms (broker %.3f + worker %.3f, %.0f%% of it in the kernel, + nginx %.3f), %.2f cores busy   ratio of the two %.2f",
                    ceilingCPU, c.brokerMsPerMessage, c.clientMsPerMessage, c.rate * ceilingCPU / 1000, workerCPU,
                    i.brokerMsPerJob, i.cpuMsPerJob, i.kernelShare * 100, i.stubMsPerJob,
                    i.jobsPerSecond * workerCPU / 1000,
                    ceilingCPU / workerCPU))
        }
        print(
            String(
                format:
                    "median at info: ratio %.2f (target ≥ 0.6), %.3f CPU ms/job (target ≤ 0.04), peak RSS %.1f MiB (target ≤ 30); at error: %.3f CPU ms/job; at info with --prefetch 128: ratio %.2f; ceiling's CPU a message over the worker's (all processes) %.2f",
                median(ratios), median(info.map(\.cpuMsPerJob)), median(info.map(\.rssMiB)),
                median(quiet.map(\.cpuMsPerJob)), median(deepRatios), median(accounted)))
    }

    static func run() {
        guard let url = ProcessInfo.processInfo.environment["CRONQ_BENCH_AMQP_URL"] else {
            print("== worker: skipped (set CRONQ_BENCH_AMQP_URL, as `make bench` does) ==")
            return
        }
        let n = Int(ProcessInfo.processInfo.environment["CRONQ_BENCH_N"] ?? "") ?? 20_000
        do {
            print("== worker throughput: N = \(n) pre-published jobs, --concurrency 64, stub backend answering 204 ==")
            var ceilings: [Double] = []
            var runs: [Run] = []
            for round in 1...3 {
                let c = try ceiling(url, count: n)
                let w = try worker(url, count: n, mode: .noContent, concurrency: 64)
                ceilings.append(c.rate)
                runs.append(w)
                print(
                    String(
                        format:
                            "round %d: ceiling %.0f msg/s   worker %.0f jobs/s   ratio %.2f   %.3f CPU ms/job   peak RSS %.1f MiB   broker CPU ms/msg: ceiling %.3f, worker %.3f   stub backend %.3f CPU ms/job",
                        round, c.rate, w.jobsPerSecond, w.jobsPerSecond / c.rate, w.cpuMsPerJob, w.rssMiB,
                        c.brokerMsPerMessage, w.brokerMsPerJob, w.stubMsPerJob))
            }
            let mc = median(ceilings)
            let mw = median(runs.map(\.jobsPerSecond))
            let ratios = zip(runs, ceilings).map { $0.jobsPerSecond / $1 }
            print(
                String(
                    format:
                        "median: ceiling %.0f msg/s, worker %.0f jobs/s, ratio of medians %.2f, median of round ratios %.2f (target ≥ 0.50), CPU %.3f ms/job, peak RSS %.1f MiB (target < 50)",
                    mc, mw, mw / mc, median(ratios), median(runs.map(\.cpuMsPerJob)), runs.map(\.rssMiB).max() ?? 0))
            try nginx(url, count: n)
            let f = try worker(url, count: n, mode: .fail10PercentFirstAttempt, concurrency: 64)
            print(
                String(
                    format: "10%% of first attempts answer 503 (retried via the 1s tier): %.0f jobs/s, %.3f CPU ms/job",
                    f.jobsPerSecond, f.cpuMsPerJob))
            let slowN = min(n, 5000)
            let s = try worker(url, count: slowN, mode: .delay(50), concurrency: 64)
            print(
                String(
                    format: "endpoint takes 50 ms (N = %d): %.0f jobs/s (expected ≈ 64 / 0.05 s = 1280)", slowN,
                    s.jobsPerSecond))
        } catch {
            print("worker bench failed: \(error)")
        }
    }
}
