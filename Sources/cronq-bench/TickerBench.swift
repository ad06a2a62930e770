import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

/// Ticker figures: fire lateness under a burst, memory with many jobs, CPU while idle.
enum TickerBench {
    static func writeConfig(_ path: String, url: String, prefix: String, jobs: Int, schedule: (Int) -> String) throws {
        var text = """
            [amqp]
            url = "\(url)"
            prefix = "\(prefix)"
            [backends.default]
            base_url = "http://127.0.0.1:9"
            token = "unused"

            """
        text.reserveCapacity(jobs * 90)
        for i in 0..<jobs {
            text +=
                "[[jobs]]\nname = \"j\(i)\"\nschedule = \"\(schedule(i))\"\npath = \"/cron/j\(i)\"\ncatch_up = \"none\"\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func startTicker(config: String, log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("cronq-ticker")
        p.arguments = ["--config", config]
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try p.run()
        return p
    }

    static func cleanup(_ url: String, _ configPath: String) {
        guard let c = try? ConfigLoader(allowMissingVariables: true).load(path: configPath),
            let conn = try? AMQPConnection(url: AMQPURL(url)), let ch = try? conn.openChannel()
        else { return }
        let t = Topology(config: c)
        for q in t.queues { _ = try? ch.deleteQueue(q.name) }
        for x in t.exchanges { try? ch.deleteExchange(x.name) }
    }

    static func waitFor(_ log: String, _ text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s[min(s.count - 1, Int(Double(s.count - 1) * p))]
    }

    static func run() {
        guard let url = ProcessInfo.processInfo.environment["CRONQ_BENCH_AMQP_URL"] else {
            print("== ticker: skipped (set CRONQ_BENCH_AMQP_URL, as `make bench` does) ==")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-bench-ticker-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            // 1. Lateness: 1,000 jobs due every second, for 8 seconds.
            let prefix = "cronq-bench-tl-\(getpid())"
            let cfg = dir.appendingPathComponent("burst.toml").path
            let log = dir.appendingPathComponent("burst.log").path
            try writeConfig(cfg, url: url, prefix: prefix, jobs: 1000) { _ in "* * * * * *" }
            let p = try startTicker(config: cfg, log: log)
            _ = waitFor(log, "leadership acquired", timeout: 30)
            Thread.sleep(forTimeInterval: 8)
            p.terminate()
            p.waitUntilExit()
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter {
                $0.contains("msg=fired ")
            }
            let lateness = lines.compactMap { line -> Double? in
                guard let r = line.range(of: "lateness_ms=") else { return nil }
                return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "-" })
            }
            cleanup(url, cfg)
            print("== ticker: 1,000 jobs due at the same second, 8 s, publish-confirmed time minus scheduled_at ==")
            if lateness.isEmpty {
                print("no fires logged")
            } else {
                print(
                    String(
                        format: "%d fires: median %.0f ms, p99 %.0f ms, max %.0f ms (target p99 < 100 ms)",
                        lateness.count, percentile(lateness, 0.5), percentile(lateness, 0.99), lateness.max()!))
            }

            // 2. Memory and idle CPU with 100,000 jobs, none due for an hour.
            let prefix2 = "cronq-bench-tm-\(getpid())"
            let cfg2 = dir.appendingPathComponent("many.toml").path
            let log2 = dir.appendingPathComponent("many.log").path
            let nowMinute = Calendar(identifier: .gregorian).component(.minute, from: Date())
            try writeConfig(cfg2, url: url, prefix: prefix2, jobs: 100_000) { i in
                "\((nowMinute + 30 + i % 20) % 60) \(i % 24) 1 1 *"
            }
            let q = try startTicker(config: cfg2, log: log2)
            let started = waitFor(log2, "leadership acquired", timeout: 120)
            Thread.sleep(forTimeInterval: 2)
            let cpu0 = WorkerBench.cpuSeconds(q.processIdentifier)
            let t0 = Date()
            Thread.sleep(forTimeInterval: 10)
            let cpu1 = WorkerBench.cpuSeconds(q.processIdentifier)
            let rss = currentRSS(q.processIdentifier)
            let idle = (cpu1 - cpu0) / Date().timeIntervalSince(t0) * 100
            q.terminate()
            q.waitUntilExit()
            cleanup(url, cfg2)
            print("== ticker: 100,000 jobs loaded, none due (leader: \(started)) ==")
            print(
                String(
                    format: "steady RSS %.1f MiB (target < 100), CPU while idle %.2f%% of a core (target < 1%%)", rss,
                    idle))

            // 3. Takeover with a full checkpoint: 100,000 daily jobs plus one due every second, and a
            // checkpoint naming every job (a new leader filters and loads it before its first fire).
            let prefix3 = "cronq-bench-tt-\(getpid())"
            let cfg3 = dir.appendingPathComponent("takeover.toml").path
            let log3 = dir.appendingPathComponent("takeover.log").path
            try writeConfig(cfg3, url: url, prefix: prefix3, jobs: 100_000) { i in
                i == 0 ? "* * * * * *" : "\(i % 60) \(i % 24) * * *"
            }
            let c3 = try ConfigLoader(allowMissingVariables: true).load(path: cfg3)
            let now = Int64(Date().timeIntervalSince1970)
            var fired: [String: Int64] = [:]
            for j in c3.jobs { fired[j.name] = now - 3600 }
            let checkpoint = Checkpoint(at: now, fired: fired)
            do {
                let conn = try AMQPConnection(url: AMQPURL(url))
                try TopologyDeclarer(connection: conn).apply(Topology(config: c3))
                let ch = try conn.openChannel()
                try ch.enableConfirms()
                _ = try ch.publishAndConfirm([
                    OutgoingMessage(
                        exchange: "", routingKey: Topology.Names(prefix: prefix3).stateQueue,
                        message: AMQPMessage(body: checkpoint.encoded(), properties: AMQPProperties(deliveryMode: 2)))
                ])
                conn.close()
            }
            let start = Date()
            let r = try startTicker(config: cfg3, log: log3)
            var peak = 0.0
            var acquired: Double? = nil
            var firstFire: Double? = nil
            while Date().timeIntervalSince(start) < 120 && firstFire == nil {
                peak = max(peak, currentRSS(r.processIdentifier))
                let text = (try? String(contentsOfFile: log3, encoding: .utf8)) ?? ""
                if acquired == nil && text.contains("leadership acquired") {
                    acquired = Date().timeIntervalSince(start)
                }
                if text.contains("msg=fired") { firstFire = Date().timeIntervalSince(start) }
                Thread.sleep(forTimeInterval: 0.02)
            }
            r.terminate()
            r.waitUntilExit()
            cleanup(url, cfg3)
            print(
                "== ticker: takeover with 100,000 jobs and a checkpoint naming every job (\(checkpoint.encoded().count / 1024) KiB) =="
            )
            print(
                String(
                    format:
                        "process start to leadership acquired %@ s, to first fire %@ s (target < 2 s); peak RSS %.1f MiB (target < 150)",
                    acquired.map { String(format: "%.2f", $0) } ?? "n/a",
                    firstFire.map { String(format: "%.2f", $0) } ?? "n/a", peak))
        } catch {
            print("ticker bench failed: \(error)")
        }
    }

    static func currentRSS(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let kb =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first
            .flatMap { Double($0) } ?? 0
        return kb / 1024
    }
}
