#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq validate`'s DST lint: for a wall-clock job (see README "Time zones and DST") in a zone with
/// daylight-saving changes, the dates in the coming year when its schedule meets a local time that does
/// not exist (a gap: it fires once, when the gap ends) or one that happens twice (a repeated hour: it
/// fires once, at the first pass) — so nobody learns it from a missing or late run. Interval jobs are
/// not affected (they follow elapsed time) and UTC jobs never are.
public enum DSTLint {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case gap, repeated }
        public var job: String
        public var kind: Kind
        /// The transition (Unix seconds) and the local wall-clock range it skips or repeats.
        public var transition: Int64
        public var localFrom: String
        public var localUntil: String
        /// What cronq will do: the instant it fires for the affected times.
        public var firesAt: Int64

        public var description: String {
            switch kind {
            case .gap:
                return
                    "job '\(job)': \(localFrom)–\(localUntil) local does not exist (DST gap): it fires once at the gap's end, \(Timestamp.iso(firesAt))"
            case .repeated:
                return
                    "job '\(job)': \(localFrom)–\(localUntil) local happens twice (DST repeated hour): it fires once, at the first pass, \(Timestamp.iso(firesAt))"
            }
        }
    }

    /// Findings for every enabled wall-clock job in the year after `now`, in time order per job.
    public static func check(_ config: CronqConfig, now: Int64, horizon: Int64 = 366 * 86_400) -> [Finding] {
        config.jobs.filter(\.enabled).flatMap { job -> [Finding] in
            guard !job.schedule.isInterval, let zone = ZoneRules.named(job.timezone) else { return [] }
            return check(job: job.name, job.schedule, zone: zone, from: now, until: now + horizon)
        }
    }

    static func check(job: String, _ expression: CronExpression, zone: ZoneRules, from: Int64, until: Int64)
        -> [Finding]
    {
        var out: [Finding] = []
        var t = from
        let real = CronSchedule(expression, zone: zone)
        while let transition = zone.nextTransition(after: t), transition < until {
            let before = zone.offset(at: transition - 1), after = zone.offset(at: transition)
            t = transition
            guard before != after else { continue }
            // Which wall-clock times are affected, seen in a fixed zone with the offset that names them:
            // UTC instants [transition, transition + |delta|) read in that zone are exactly those times.
            let delta = Int64(abs(after - before))
            let namingOffset = after > before ? before : after
            guard let fixedZone = TimeZone(secondsFromGMT: namingOffset) else { continue }
            let fixed = CronSchedule(expression, zone: ZoneRules(fixedZone))
            guard let hit = fixed.next(after: transition - 1), hit < transition + delta else { continue }
            let fires = real.next(after: transition - (after > before ? 1 : delta + 1)) ?? transition
            out.append(
                Finding(
                    job: job, kind: after > before ? .gap : .repeated, transition: transition,
                    localFrom: local(transition + Int64(namingOffset)),
                    localUntil: local(transition + Int64(namingOffset) + delta),
                    firesAt: fires))
        }
        return out
    }

    /// `YYYY-MM-DD HH:MM` of a local wall-clock reading given as seconds.
    static func local(_ s: Int64) -> String {
        let days = Int((s >= 0 ? s : s - 86_399) / 86_400)
        let (y, m, d) = Civil.date(days: days)
        let sod = Int(s - Int64(days) * 86_400)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d)) \(two(sod / 3600)):\(two(sod % 3600 / 60))"
    }
}
