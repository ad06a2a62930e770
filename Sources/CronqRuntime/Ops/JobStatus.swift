public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq status --jobs`: per job, what the history stream says about it, and the dead-man switch
/// (`--max-silence JOB=DURATION`, or `alert_after` in the job's config): a job that has had no success
/// for that long is an alert, whether it failed, was never fired, or its ticker stopped. Pure: the
/// caller reads the events.
public struct JobStatus: Sendable, Equatable {
    public struct Row: Sendable, Equatable, Codable {
        public var job: String
        public var lastFired: Int64?
        public var lastSuccess: Int64?
        public var fired = 0
        public var succeeded = 0
        public var retrying = 0
        public var dead = 0
        public var skipped = 0
        public var nextFire: Int64?
        /// The silence after which this job alerts (flag, else config), if any.
        public var alertAfterSeconds: Int64?
        /// Paused by `cronq pause` (a paused job does not alert: its silence is intended).
        public var paused = false
        public var pausedUntil: Int64?
        /// `active`, `not_started`, `ended` (past `end`), `done` (a one-off that fired) or `missed`.
        public var lifecycle = CronqConfig.Job.Lifecycle.active

        enum CodingKeys: String, CodingKey {
            case job, fired, succeeded, retrying, dead, skipped
            case lastFired = "last_fired", lastSuccess = "last_success", nextFire = "next_fire", alertAfterSeconds =
                "alert_after_s"
            case paused, pausedUntil = "paused_until"
            case lifecycle = "state"
        }
    }

    public var rows: [Row]
    public var windowStart: Int64
    public var now: Int64

    /// - Parameters:
    ///   - events: the history since `windowStart` (or earlier: the last fire and success look further back if given more).
    ///   - windowStart: counts cover events at or after it.
    ///   - maxSilence: per job name, overriding the config's `alert_after`.
    ///   - checkpointFired: the leader's checkpoint (last confirmed fire per job), for one-off jobs.
    public init(
        config: CronqConfig, events: [OutcomeEvent], windowStart: Int64, now: Int64,
        maxSilence: [String: Duration] = [:],
        paused: [String: PauseState] = [:], checkpointFired: [String: Int64] = [:]
    ) {
        var rows: [String: Row] = [:]
        for j in config.jobs {
            var r = Row(job: j.name)
            if j.enabled {
                r.nextFire = j.nextFire(after: now, in: CronSchedule(j.schedule, zone: j.zone))
            }
            r.alertAfterSeconds = (maxSilence[j.name] ?? j.alertAfter)?.totalSeconds
            if let p = paused[j.name], p.holds(at: now) {
                r.paused = true
                r.pausedUntil = p.until
            }
            rows[j.name] = r
        }
        for e in events {
            guard var r = rows[e.job], let at = Timestamp.parse(e.at) else { continue }
            switch e.event {
            case "fired": r.lastFired = max(r.lastFired ?? at, at)
            case "succeeded": r.lastSuccess = max(r.lastSuccess ?? at, at)
            default: break
            }
            if at >= windowStart {
                switch e.event {
                case "fired": r.fired += 1
                case "succeeded": r.succeeded += 1
                case "retrying": r.retrying += 1
                case "dead": r.dead += 1
                case "skipped": r.skipped += 1
                default: break
                }
            }
            rows[e.job] = r
        }
        for j in config.jobs where j.start != nil || j.end != nil {
            // The checkpoint remembers a one-off job's fire after the history stream has dropped it.
            let last = [rows[j.name]?.lastFired, checkpointFired[j.name]].compactMap { $0 }.max()
            rows[j.name]?.lifecycle = j.lifecycle(at: now, lastFired: last)
        }
        self.rows = config.jobs.compactMap { rows[$0.name] }
        self.windowStart = windowStart
        self.now = now
    }

    /// One line per silent job (exit 2).
    public var alerts: [String] {
        rows.compactMap { r in
            // Paused, ended or done: the silence is intended. Missed: alerts, whatever the switch says.
            if r.lifecycle == .missed {
                return "job \(r.job): its one-off instant passed without a fire on record"
            }
            guard let limit = r.alertAfterSeconds, !r.paused, r.lifecycle == .active else { return nil }
            if let s = r.lastSuccess, now - s <= limit { return nil }
            let since =
                r.lastSuccess.map { "last success \(Self.age(now - $0)) ago (\(Timestamp.iso($0)))" }
                ?? "no success on record"
            return "job \(r.job): no success for over \(DurationText.format(.seconds(limit))): \(since)"
        }
    }

    public func table() -> String {
        func ago(_ t: Int64?) -> String { t.map { "\(Self.age(now - $0)) ago" } ?? "-" }
        var t = [
            [
                "JOB", "LAST_FIRED", "LAST_SUCCESS", "FIRED", "OK", "RETRYING", "DEAD", "SKIPPED", "NEXT_FIRE",
                "ALERT_AFTER", "PAUSED", "STATE",
            ]
        ]
        for r in rows {
            t.append([
                r.job, ago(r.lastFired), ago(r.lastSuccess), "\(r.fired)", "\(r.succeeded)", "\(r.retrying)",
                "\(r.dead)", "\(r.skipped)",
                r.nextFire.map(Timestamp.iso) ?? "-",
                r.alertAfterSeconds.map { DurationText.format(.seconds($0)) } ?? "-",
                r.paused ? (r.pausedUntil.map { "until \(Timestamp.iso($0))" } ?? "yes") : "-",
                r.lifecycle.rawValue,
            ])
        }
        return TextTable.render(t) + "counts since \(Timestamp.iso(windowStart))\n"
    }

    /// An age for people: 45s, 12m, 3h5m, 2d4h.
    public static func age(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86_400 { return s % 3600 >= 60 ? "\(s / 3600)h\((s % 3600) / 60)m" : "\(s / 3600)h" }
        return s % 86_400 >= 3600 ? "\(s / 86_400)d\((s % 86_400) / 3600)h" : "\(s / 86_400)d"
    }

    /// `JOB=DURATION` as given to `--max-silence`.
    public static func parseSilence(_ text: String) -> (job: String, limit: Duration)? {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let d = DurationText.parse(parts[1]), d > .zero else { return nil }
        return (parts[0], d)
    }
}
