extension WorkerLoop {
    /// Counters since start, for logs, tests and metrics (counted by ``WorkerRecord/count(in:admission:)``).
    public struct Stats: Sendable, Equatable {
        public var succeeded = 0
        public var retried = 0
        public var dead = 0
        public var publishFailures = 0
        /// Messages sent to wait in a retry tier because their backend's breaker was open.
        public var delayed = 0
        public var reconnects = 0
        public var connected = false
    }
}

extension WorkerRecord {
    /// Adds this record to the worker's counters and its Prometheus series. Job and tier labels go
    /// through `admission`, so a hostile producer cannot grow the label set (DESIGN.md "Metrics").
    /// - Returns: whether the record is also a log line (a duration sample is not).
    func count(in stats: inout WorkerLoop.Stats, admission: JobAdmission) -> Bool {
        switch self {
        case .succeeded(let job, _, _, _, _):
            stats.succeeded += 1
            CronqMetrics.job(admission.metricsJob(job), outcome: "success")
        case .requestFinished(let ms):
            CronqMetrics.requestDuration(ms)
            return false
        case .retried(let job, _, _, _, let tier, _, _):
            stats.retried += 1
            CronqMetrics.job(admission.metricsJob(job), outcome: "retry")
            CronqMetrics.retry(tier: admission.metricsTier(tier))
        case .dead(let job, _, _, let reason, _, _, _):
            stats.dead += 1
            CronqMetrics.job(admission.metricsJob(job), outcome: "dead")
            CronqMetrics.dead(reason: reason)
        case .publishFailed:
            stats.publishFailures += 1
        case .breaker(let backend, let state, _):
            CronqMetrics.breaker(backend: backend, state: CircuitBreaker.State(rawValue: state)?.gauge ?? 0)
        case .delayed:
            stats.delayed += 1
        default:
            break
        }
        return true
    }
}
