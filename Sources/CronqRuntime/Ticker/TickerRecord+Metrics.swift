extension TickerRecord {
    /// Adds this record to the ticker's counters and its Prometheus series.
    func count(in stats: inout TickerLoop.Stats) {
        switch self {
        case .fired(let job, _, _, let lateness, _):
            stats.fired += 1
            CronqMetrics.fired(job, latenessMs: lateness)
        case .fireFailed(let job, _, _):
            stats.failed += 1
            CronqMetrics.fireFailed(job)
        default:
            break
        }
    }
}
