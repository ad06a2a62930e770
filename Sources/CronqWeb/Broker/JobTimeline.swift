import CronqCore
import CronqRuntime

/// What the jobs page shows about each job's past, folded from the history stream as it arrives: the last
/// runs (for the sparkline and the job page) and hourly counts (for the window). Pure: the follower feeds
/// it, a test feeds it tables.
struct JobTimeline: Sendable {
    /// Runs kept per job: the sparkline's 50.
    static let runsKept = 50

    struct Counts: Sendable, Equatable {
        var fired = 0
        var succeeded = 0
        var retrying = 0
        var dead = 0
        var skipped = 0

        mutating func count(_ event: String) {
            switch event {
            case "fired": fired += 1
            case "succeeded": succeeded += 1
            case "retrying": retrying += 1
            case "dead": dead += 1
            case "skipped": skipped += 1
            default: break
            }
        }

        mutating func add(_ other: Counts) {
            fired += other.fired
            succeeded += other.succeeded
            retrying += other.retrying
            dead += other.dead
            skipped += other.skipped
        }
    }

    struct Job: Sendable {
        /// Oldest first.
        var runs: [History.Run] = []
        var lastFired: Int64?
        var lastSuccess: Int64?
        /// Counts per hour (the hour's first second).
        var hours: [Int64: Counts] = [:]
    }

    private(set) var jobs: [String: Job] = [:]
    /// Events folded in, for "catching up" progress.
    private(set) var events = 0

    mutating func add(_ e: OutcomeEvent) {
        guard let at = Timestamp.parse(e.at) else { return }
        events += 1
        var j = jobs[e.job] ?? Job()
        switch e.event {
        case "fired": j.lastFired = max(j.lastFired ?? at, at)
        case "succeeded": j.lastSuccess = max(j.lastSuccess ?? at, at)
        default: break
        }
        let hour = at - ((at % 3600) + 3600) % 3600
        j.hours[hour, default: Counts()].count(e.event)
        if History.isRunEvent(e) {
            // A run's later events come soon after its first: look from the newest end.
            if let i = j.runs.lastIndex(where: { $0.messageID == e.messageID }) {
                var r: History.Run? = j.runs[i]
                History.fold(e, into: &r)
                j.runs[i] = r!
            } else {
                var r: History.Run? = nil
                History.fold(e, into: &r)
                j.runs.append(r!)
                if j.runs.count > Self.runsKept { j.runs.removeFirst(j.runs.count - Self.runsKept) }
            }
        }
        jobs[e.job] = j
    }

    /// Counts of the hours from the one holding `since` on (so the window is whole hours: up to an hour
    /// more than asked, never less).
    func counts(_ job: String, since: Int64) -> Counts {
        var total = Counts()
        let from = since - ((since % 3600) + 3600) % 3600
        for (hour, c) in jobs[job]?.hours ?? [:] where hour >= from { total.add(c) }
        return total
    }

    /// Forgets hours before `cutoff` (the follower calls it now and then: memory stays bounded).
    mutating func prune(before cutoff: Int64) {
        for (name, job) in jobs { jobs[name]?.hours = job.hours.filter { $0.key >= cutoff - 3600 } }
    }
}
