import Metrics

/// The metric names cronq exports (Prometheus conventions, `cronq_` prefix); the Grafana dashboard and
/// alert rules are built on them. Recording goes through swift-metrics: a no-op unless an executable
/// was started with `--metrics-address`.
enum CronqMetrics {
    // Worker
    static func job(_ job: String, outcome: String) {
        Counter(label: "cronq_worker_jobs_total", dimensions: [("job", job), ("outcome", outcome)]).increment()
    }
    static func httpStatus(_ status: Int?) {
        Counter(
            label: "cronq_worker_http_responses_total", dimensions: [("status", status.map(String.init) ?? "error")]
        ).increment()
    }
    static func requestDuration(_ ms: Int) {
        Timer(label: "cronq_worker_request_duration_seconds").recordMilliseconds(ms)
    }
    static func inFlight(_ n: Int) {
        Gauge(label: "cronq_worker_in_flight_requests").record(n)
    }
    static func retry(tier: String) {
        Counter(label: "cronq_worker_retries_total", dimensions: [("tier", tier)]).increment()
    }
    static func dead(reason: String) {
        Counter(label: "cronq_worker_dead_letters_total", dimensions: [("reason", reason)]).increment()
    }
    /// `cronq_breaker_state{backend}`: 0 closed, 1 half-open, 2 open.
    static func breaker(backend: String, state: Int) {
        Gauge(label: "cronq_breaker_state", dimensions: [("backend", backend)]).record(state)
    }
    static func workerConnected(_ up: Bool) {
        Gauge(label: "cronq_worker_connected").record(up ? 1 : 0)
    }

    // Both services
    /// `cronq_broker_endpoint{endpoint}`: 1 for the endpoint in use (password hidden), 0 for one left.
    static func brokerEndpoint(_ now: String?, previous: String?) {
        if let previous, previous != now {
            Gauge(label: "cronq_broker_endpoint", dimensions: [("endpoint", previous)]).record(0)
        }
        if let now { Gauge(label: "cronq_broker_endpoint", dimensions: [("endpoint", now)]).record(1) }
    }

    // Ticker
    static func fired(_ job: String, latenessMs: Int64) {
        Counter(label: "cronq_ticker_fires_total", dimensions: [("job", job)]).increment()
        Timer(label: "cronq_ticker_fire_lateness_seconds").recordMilliseconds(max(0, latenessMs))
    }
    static func fireFailed(_ job: String) {
        Counter(label: "cronq_ticker_fire_failures_total", dimensions: [("job", job)]).increment()
    }
    static func leader(_ isLeader: Bool) {
        Gauge(label: "cronq_ticker_leader").record(isLeader ? 1 : 0)
    }
}
