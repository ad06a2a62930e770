import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Queue-based status and alerting: ready messages, consumers, dead letters, ticker leader.",
        discussion: """
            Exit codes for health checks (cron, Kubernetes, Nagios): 0 fine, 2 a threshold was crossed (one line
            per reason on stderr), 1 the broker cannot be reached. Counts come from passive declares: exact.
            Standby tickers cannot be seen: RabbitMQ shows only that the lock queue is held.
            --jobs (and --max-silence, and jobs with alert_after) read the history stream: the dead-man switch
            alerts when a job has had no success for the given time, whatever the reason.
            --job NAME (repeatable) scopes the job table and the job alerts to those jobs, so one team's health
            check is not failed by another team's job; an open circuit breaker alerts only if one of them calls
            its backend; queue thresholds (--max-dead, ...) still apply.
            """)

    @OptionGroup var options: ConfigOption

    @Flag(help: "Machine-readable output.")
    var json = false

    @Option(help: "Refresh every N seconds until Ctrl-C.")
    var watch: Int?

    @Option(help: "Alert when the dead-letter queue holds more than N messages.")
    var maxDead: Int?

    @Option(help: "Alert when a work queue has more than N ready messages.")
    var maxReady: Int?

    @Flag(help: "Alert when no ticker holds the leader lock.")
    var requireLeader = false

    @Flag(help: "Alert when a work queue has no consumer.")
    var requireConsumers = false

    @Flag(help: "Per job, from the history stream: last fire, last success, counts over --window, next fire.")
    var jobs = false

    @Option(
        name: .customLong("job"),
        help: ArgumentHelp(
            "Only this job in the job table and the job alerts (exit code); repeatable. Implies --jobs.",
            valueName: "name"))
    var onlyJobs: [String] = []

    @Option(help: "With --jobs: the window the counts cover, e.g. 1h, 24h, 7d.")
    var window = "24h"

    @Option(
        help: ArgumentHelp(
            "Alert (exit 2) when JOB has had no success for DURATION, e.g. ee-recent=30m; repeatable. Implies --jobs. Per-job `alert_after` in the config does the same.",
            valueName: "job=duration"))
    var maxSilence: [String] = []

    func validate() throws {
        if let w = watch, w < 1 { throw ValidationError("--watch must be at least 1 second") }
        if let m = maxDead, m < 0 { throw ValidationError("--max-dead must be 0 or more") }
        if let m = maxReady, m < 0 { throw ValidationError("--max-ready must be 0 or more") }
        _ = try instantAgo(window, now: 0, flag: "--window")
        for m in maxSilence where JobStatus.parseSilence(m) == nil {
            throw ValidationError("--max-silence '\(m)' is not JOB=DURATION (e.g. ee-recent=30m)")
        }
    }

    func run() throws {
        let config = try options.load()
        var thresholds = QueueStatus.Thresholds(
            maxDead: maxDead, maxReady: maxReady, requireLeader: requireLeader, requireConsumers: requireConsumers)
        let silence = Dictionary(maxSilence.compactMap(JobStatus.parseSilence).map { ($0.job, $0.limit) }) { _, b in b }
        for name in silence.keys where !config.jobs.contains(where: { $0.name == name }) {
            throw ValidationError("--max-silence names '\(name)', which is not a job in \(config.path)")
        }
        for name in onlyJobs where !config.jobs.contains(where: { $0.name == name }) {
            throw ValidationError("--job names '\(name)', which is not a job in \(config.path)")
        }
        // The job report (rows, alert_after, --max-silence) covers only the named jobs.
        var scoped = config
        if !onlyJobs.isEmpty {
            scoped.jobs = config.jobs.filter { onlyJobs.contains($0.name) }
            // An open breaker makes its backend's jobs wait: it is these jobs' alert only if they call it.
            thresholds.breakerBackends = Set(scoped.jobs.map(\.backend))
        }
        let interrupt = watch != nil ? StopSignals(secondSignalExitCode: 130) : nil
        var first = true
        while true {
            let c = try connect(config, "status")
            let s: QueueStatus
            do {
                s = try QueueStatus.collect(connection: c, config: config, now: Int64(Date().timeIntervalSince1970))
            } catch {
                c.close()
                throw fail("cronq status: \(error)")
            }
            let jobReport: JobStatus?
            do {
                defer { c.close() }
                jobReport = try self.jobReport(
                    scoped, silence: silence.filter { onlyJobs.isEmpty || onlyJobs.contains($0.key) }, connection: c,
                    status: s)
            }
            if watch != nil && isTerminal && !first { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            first = false
            var alerts = s.alerts(thresholds)
            if let report = jobReport {
                alerts += report.alerts
                if json {
                    print(String(decoding: try mergedJSON(s, report), as: UTF8.self))
                } else {
                    print(s.table(color: isTerminal))
                    print(report.table(), terminator: "")
                }
            } else {
                print(json ? s.json() : s.table(color: isTerminal))
            }
            if watch == nil || interrupt?.isRaised == true {
                if !alerts.isEmpty {
                    FileHandleOutput.stderr(alerts.joined(separator: "\n"))
                    throw ExitCode(2)
                }
                return
            }
            for _ in 0..<(watch! * 10) where interrupt?.isRaised != true { usleep(100_000) }
            if interrupt?.isRaised == true { return }
        }
    }

    /// The per-job report, when asked for (`--jobs`, `--max-silence`, or any job with `alert_after`).
    /// Reads the history on the connection the queue status used.
    func jobReport(
        _ config: CronqConfig, silence: [String: Duration], connection c: AMQPConnection,
        status: QueueStatus
    ) throws -> JobStatus? {
        guard jobs || !onlyJobs.isEmpty || !silence.isEmpty || config.jobs.contains(where: { $0.alertAfter != nil })
        else { return nil }
        let now = Int64(Date().timeIntervalSince1970)
        let windowStart = try instantAgo(window, now: now, flag: "--window") ?? now
        // Read back far enough for the longest silence too.
        let longest = (Array(silence.values) + config.jobs.compactMap(\.alertAfter)).map(\.totalSeconds).max() ?? 0
        let since = min(windowStart, now - longest)
        do {
            let events = try History.events(
                connection: c, names: .init(prefix: config.amqp.prefix), since: since, now: now)
            return JobStatus(
                config: config, events: events, windowStart: windowStart, now: now, maxSilence: silence,
                paused: status.paused, checkpointFired: status.lastFired)
        } catch let e as AMQPError where e.replyCode == 404 {
            throw fail("cronq status: no history stream on the broker: run `cronq topology apply`")
        } catch {
            throw fail("cronq status: reading the history: \(error)")
        }
    }

    func mergedJSON(_ s: QueueStatus, _ report: JobStatus) throws -> Data {
        var obj = (try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any]) ?? [:]
        let encoder = JSONEncoder()
        obj["jobs"] = try JSONSerialization.jsonObject(with: encoder.encode(report.rows))
        obj["jobs_since"] = Timestamp.iso(report.windowStart)
        return try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
