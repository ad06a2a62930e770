public import CronqCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Renders fire times and job tables for the CLI (`cronq next`, `cronq validate`).
public enum ScheduleReport {
    /// The next `count` fires strictly after `from`, as Unix seconds.
    public static func fires(
        _ schedule: CronSchedule, after from: Int64, count: Int, start: Int64? = nil, end: Int64? = nil
    ) -> [Int64] {
        var out: [Int64] = []
        var t = from
        while out.count < count, let n = CronqConfig.Job.nextFire(after: t, in: schedule, start: start, end: end) {
            out.append(n)
            t = n
        }
        return out
    }

    /// `2026-03-29 02:00:00 BST` in the schedule's zone.
    public static func localTime(_ instant: Int64, zone: TimeZone) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(instant))
        let offset = zone.secondsFromGMT(for: date)
        // `2026-03-29T02:00:00Z` of the local wall clock, re-punctuated.
        let wall = Timestamp.iso(instant + Int64(offset)).dropLast().map { $0 == "T" ? " " : $0 }
        let sign = offset < 0 ? "-" : "+", minutes = abs(offset) / 60
        let name =
            zone.abbreviation(for: date)
            ?? "GMT\(sign)\(minutes / 60)\(minutes % 60 == 0 ? "" : ":\(minutes % 60 < 10 ? "0" : "")\(minutes % 60)")"
        return String(wall) + " " + name
    }

    /// The table `cronq validate` prints: one block per job with its next three fires.
    public static func jobTable(_ config: CronqConfig, now: Int64) -> String {
        var rows: [[String]] = [["JOB", "SCHEDULE", "ZONE", "TARGET", "QUEUE", "NEXT (job zone)", "NEXT (UTC)"]]
        for job in config.jobs {
            let zone = ZoneRules.named(job.timezone) ?? .utc
            let schedule = CronSchedule(job.schedule, zone: job.zone)
            let next = job.enabled ? fires(schedule, after: now, count: 3, start: job.start, end: job.end) : []
            let target = "\(job.method) \(job.backend):\(job.path)"
            var name = job.enabled ? job.name : "\(job.name) (disabled)"
            if job.lifecycle(at: now, lastFired: nil) == .ended { name += " (ended)" }
            let what = job.at.map { "at \(Timestamp.iso($0))" } ?? job.schedule.source
            if next.isEmpty {
                rows.append([name, what, job.timezone, target, job.queue, "-", "-"])
            }
            for (i, n) in next.enumerated() {
                let local = localTime(n, zone: zone.timeZone)
                rows.append(
                    i == 0
                        ? [name, what, job.timezone, target, job.queue, local, Timestamp.iso(n)]
                        : ["", "", "", "", "", local, Timestamp.iso(n)])
            }
            // The window, under the job, so a reader sees why its fires stop (or have not begun).
            if job.at == nil, job.start != nil || job.end != nil {
                let window = "from \(job.start.map(Timestamp.iso) ?? "-") to \(job.end.map(Timestamp.iso) ?? "-")"
                rows.append(["", window, "", "", "", "", ""])
            }
        }
        return TextTable.render(rows)
    }
}
