import CronqCore
import CronqRuntime
import Foundation

/// The jobs page and the job page as template values. Pure (config, timeline, pauses and `now` in,
/// dictionaries out), so the benchmark renders 10,000 jobs without a broker; only the shown page's rows
/// compute their next fires.
enum JobsView {
    static func values(
        config: CronqConfig, timeline: JobTimeline, paused: [String: PauseState], now: Int64, window: Duration,
        query: String, page: Int, pageSize: Int
    ) -> [String: Any] {
        let matching =
            query.isEmpty ? config.jobs : config.jobs.filter { $0.name.localizedCaseInsensitiveContains(query) }
        let pages = max(1, (matching.count + pageSize - 1) / pageSize)
        let page = min(page, pages)
        let shown = matching.dropFirst((page - 1) * pageSize).prefix(pageSize)
        let since = now - window.totalSeconds
        let rows: [[String: Any]] = shown.map { job in
            let t = timeline.jobs[job.name]
            let counts = timeline.counts(job.name, since: since)
            let schedule = CronSchedule(job.schedule, zone: job.zone)
            let zone = job.zone.timeZone
            let next =
                job.enabled
                ? ScheduleReport.fires(schedule, after: now, count: 3, start: job.start, end: job.end).map {
                    ScheduleReport.localTime($0, zone: zone)
                } : []
            var row: [String: Any] = [
                "name": job.name, "schedule": job.at.map { "at \(Timestamp.iso($0))" } ?? job.schedule.source,
                "zone": job.timezone, "next": next, "lastFired": ago(t?.lastFired, now),
                "lastSuccess": ago(t?.lastSuccess, now), "fired": counts.fired, "succeeded": counts.succeeded,
                "dead": counts.dead, "hasDead": counts.dead > 0,
                "overlap": job.overlap == .allow ? "" : "overlap \(job.overlap.rawValue)",
                "state": state(job, lastFired: t?.lastFired, now: now), "spark": spark(t?.runs ?? []),
                "silent": silent(job, lastSuccess: t?.lastSuccess, now: now),
            ]
            if let p = paused[job.name] {
                row["paused"] = true
                row.put("pauseReason", p.reason?.nonEmpty)
                row.put("pausedUntil", p.until.map { "until \(Timestamp.iso($0))" })
            }
            return row
        }
        var values: [String: Any] = [
            "rows": rows, "q": query, "page": page, "pages": pages, "total": matching.count,
            "window": DurationText.format(window), "empty": rows.isEmpty,
        ]
        values.put("prev", page > 1 ? pageLink(query, page - 1) : nil)
        values.put("nextPage", page < pages ? pageLink(query, page + 1) : nil)
        return values
    }

    /// The job page: history (newest first), a week of fires with the DST notes `cronq validate` prints,
    /// and the job's configuration without anything secret.
    static func detail(
        _ job: CronqConfig.Job, config: CronqConfig, timeline: JobTimeline, paused: PauseState?, now: Int64
    ) -> [String: Any] {
        let schedule = CronSchedule(job.schedule, zone: job.zone)
        let zone = job.zone.timeZone
        // The week's first 48 fires (an every-second job has 604,800), and whether there are more.
        let week = ScheduleReport.fires(schedule, after: now, count: 49, start: job.start, end: job.end)
            .filter { $0 <= now + 7 * 86_400 }
        var single = config
        single.jobs = [job]
        let dst = DSTLint.check(single, now: now, horizon: 7 * 86_400).map(\.description)
        let runs: [[String: Any]] = (timeline.jobs[job.name]?.runs ?? []).reversed().map { r in
            [
                "id": r.messageID, "scheduledAt": r.scheduledAt ?? "-", "outcome": r.outcome,
                "outcomeClass": sparkClass(r.outcome), "attempts": r.attempts,
                "status": r.status.map(String.init) ?? "-",
                "duration": r.durationMs.map { "\($0) ms" } ?? "-", "reason": r.reason ?? "",
                "error": String((r.error ?? "").prefix(300)),
            ]
        }
        let backend = config.backends[job.backend]
        let headers: [[String: String]] = job.headers.keys.sorted().map { name in
            ["name": name, "value": sensitive(name) ? "(hidden)" : job.headers[name]!]
        }
        var values: [String: Any] = [
            "name": job.name, "schedule": job.at.map { "at \(Timestamp.iso($0))" } ?? job.schedule.source,
            "zone": job.timezone, "runs": runs, "noRuns": runs.isEmpty,
            "fires": week.prefix(48).map {
                ["local": ScheduleReport.localTime($0, zone: zone), "utc": Timestamp.iso($0)]
            },
            "moreFires": week.count > 48, "noFires": week.isEmpty,
            "dst": dst, "method": job.method, "path": job.path, "backend": job.backend,
            "baseURL": backend?.baseURL ?? "-", "queue": job.queue, "headers": headers,
            "maxAttempts": job.retry.maxAttempts,
            "backoff": job.retry.backoff.map(DurationText.format).joined(separator: ", "),
            "overlap": job.overlap.rawValue, "catchUp": job.catchUp.rawValue, "enabled": job.enabled,
            "alertAfter": job.alertAfter.map(DurationText.format) ?? "-",
            "state": state(job, lastFired: timeline.jobs[job.name]?.lastFired, now: now),
        ]
        if let p = paused {
            values["paused"] = true
            values.put("pauseReason", p.reason?.nonEmpty)
            values.put("pausedUntil", p.until.map { "until \(Timestamp.iso($0))" })
        }
        return values
    }

    /// The last 50 runs as CSS classes, oldest first: green, amber (retrying or not run yet), red, grey.
    static func spark(_ runs: [History.Run]) -> [String] { runs.map { sparkClass($0.outcome) } }

    static func sparkClass(_ outcome: String) -> String {
        switch outcome {
        case "succeeded": "ok"
        case "dead": "dead"
        case "skipped": "skip"
        default: "wait"
        }
    }

    static func ago(_ t: Int64?, _ now: Int64) -> String {
        t.map { "\(JobStatus.age(now - $0)) ago" } ?? "never"
    }

    /// `alert_after` passed without a success (what `cronq status` alerts on).
    static func silent(_ job: CronqConfig.Job, lastSuccess: Int64?, now: Int64) -> Bool {
        guard let limit = job.alertAfter?.totalSeconds, job.enabled else { return false }
        return lastSuccess.map { now - $0 > limit } ?? true
    }

    static func state(_ job: CronqConfig.Job, lastFired: Int64?, now: Int64) -> String {
        job.enabled ? job.lifecycle(at: now, lastFired: lastFired).rawValue : "disabled"
    }

    /// Header names whose values are credentials by convention: shown as "(hidden)".
    static func sensitive(_ name: String) -> Bool {
        let n = name.lowercased()
        return ["authorization", "token", "secret", "key", "cookie", "password", "signature"].contains {
            n.contains($0)
        }
    }

    static func pageLink(_ query: String, _ page: Int) -> String {
        "/jobs?page=\(page)"
            + (query.isEmpty ? "" : "&q=\(query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }
}
