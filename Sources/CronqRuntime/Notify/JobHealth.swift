import CronqCore

/// The leader's view of each job's health, from the outcome events it reads: dead runs in a row, the
/// last success, and which alerts are raised, so that each `dead`, `failing`, `silent`, `recovered` and
/// `paused` notice is decided once, by one process. Pure: events and `now` in, notices out.
///
/// A new leader knows no history: it counts dead runs from zero and measures silence from its own start
/// (a job is not called silent by a ticker that has not watched it for `alert_after`).
struct JobHealth {
    struct State: Equatable {
        var consecutiveDead = 0
        var lastSuccess: Int64?
        var silent = false
        var failing = false
    }

    private(set) var jobs: [String: State] = [:]
    /// The lowest `failing_after` of the sinks that subscribe to `failing` (nil: none does).
    private let failingAfter: Int?
    private let pauseAfter: [String: Int]
    /// Jobs with a dead-man switch: name → seconds.
    private let alertAfter: [(job: String, seconds: Int64)]
    private let watchingSince: Int64
    /// The configured jobs: events name whatever a producer put in a message, and unknown names must
    /// neither notify nor grow this map.
    private let known: Set<String>
    private var nextSilenceCheck: Int64 = 0
    /// The last breaker change notified per backend: several workers may announce the same one.
    private var breakers: [String: String] = [:]

    init(config: CronqConfig, now: Int64) {
        failingAfter = config.notify.filter { $0.events.contains(.failing) }.map(\.failingAfter).min()
        var pause: [String: Int] = [:]
        var alert: [(String, Int64)] = []
        for j in config.jobs where j.enabled {
            if let n = j.pauseAfterFailures { pause[j.name] = n }
            if let a = j.alertAfter { alert.append((j.name, a.totalSeconds)) }
        }
        pauseAfter = pause
        alertAfter = alert
        known = Set(config.jobs.lazy.filter(\.enabled).map(\.name))
        watchingSince = now
    }

    /// Whether anything reads the outcomes at all (sinks, or a job that pauses itself).
    static func needed(_ config: CronqConfig) -> Bool {
        !config.notify.isEmpty || config.jobs.contains { $0.pauseAfterFailures != nil }
    }

    /// What happened to the job's run (`dead` or `succeeded`; other events are ignored).
    /// - Returns: the notices, and whether the job must now be paused (`pause_after_failures`).
    mutating func observe(_ e: OutcomeEvent) -> (notices: [Notice], pause: Bool) {
        guard known.contains(e.job), let at = Timestamp.parse(e.at) else { return ([], false) }
        var s = jobs[e.job] ?? State()
        var out: [Notice] = []
        var pause = false
        switch e.event {
        case "dead":
            s.consecutiveDead += 1
            var n = Notice(
                event: .dead, job: e.job, messageID: e.messageID, attempt: e.attempt, status: e.status,
                reason: e.reason, error: e.error, at: at, consecutiveDead: s.consecutiveDead,
                hint: "cronq dead show \(e.messageID)")
            out.append(n)
            if let limit = failingAfter, s.consecutiveDead == limit {
                s.failing = true
                n.event = .failing
                n.hint = "cronq history --job \(e.job) · cronq dead list --job \(e.job)"
                out.append(n)
            }
            if let limit = pauseAfter[e.job], s.consecutiveDead == limit {
                pause = true
                n.event = .paused
                n.hint = "cronq resume \(e.job)"
                out.append(n)
            }
        case "succeeded":
            if s.consecutiveDead > 0 || s.silent {
                out.append(
                    Notice(
                        event: .recovered, job: e.job, messageID: e.messageID, attempt: e.attempt, status: e.status,
                        at: at, consecutiveDead: s.consecutiveDead, hint: "cronq history --job \(e.job)"))
            }
            s = State(lastSuccess: max(s.lastSuccess ?? at, at))
        default:
            return ([], false)
        }
        jobs[e.job] = s
        return (out, pause)
    }

    /// A backend's breaker opened or closed: one notice per change, however many workers announced it.
    mutating func breaker(_ a: BreakerAnnouncement) -> [Notice] {
        guard a.state == "open" || a.state == "closed", breakers[a.backend] != a.state else { return [] }
        // A first `closed` (no `open` seen by this leader) is news to nobody.
        if breakers[a.backend] == nil && a.state == "closed" { return [] }
        breakers[a.backend] = a.state
        return [
            Notice(
                event: .breaker, job: "", reason: a.state, at: a.at,
                hint: a.state == "open"
                    ? "calls to \(a.backend) wait (no attempts used) until a probe succeeds; cronq status"
                    : "cronq status",
                backend: a.backend)
        ]
    }

    /// The dead-man switch, at most once a second: a `silent` notice once per silence.
    mutating func check(now: Int64) -> [Notice] {
        guard now >= nextSilenceCheck, !alertAfter.isEmpty else { return [] }
        nextSilenceCheck = now + 1
        var out: [Notice] = []
        for (job, limit) in alertAfter {
            var s = jobs[job] ?? State()
            let since = max(s.lastSuccess ?? watchingSince, watchingSince)
            guard !s.silent, now - since > limit else { continue }
            s.silent = true
            jobs[job] = s
            let last = s.lastSuccess.map { "last success \(Timestamp.iso($0))" } ?? "no success seen"
            out.append(
                Notice(
                    event: .silent, job: job,
                    reason: "no success for over \(DurationText.format(.seconds(limit))) (\(last))",
                    at: now, hint: "cronq status --job \(job) · cronq history --job \(job)"))
        }
        return out
    }
}
