public import CronqCore

/// What one `cronq-worker` process does: which queues, how many requests at once, how long to drain.
public struct WorkerOptions: Sendable {
    public var config: CronqConfig
    /// Work queue names (without prefix).
    public var queues: [String]
    public var concurrency: Int
    /// The consumer prefetch: at least `concurrency` (docs/decisions.md, "Worker prefetch").
    public var prefetch: Int
    public var grace: Duration
    /// How long to wait between reconnect attempts, at most.
    public var maxReconnectDelay: Duration

    public init(
        config: CronqConfig, queues: [String]? = nil, concurrency: Int? = nil, prefetch: Int? = nil,
        grace: Duration? = nil, maxReconnectDelay: Duration = .seconds(15)
    ) {
        self.config = config
        var q = queues ?? config.worker.queues
        if q.isEmpty { q = config.queues }
        if q.isEmpty { q = ["default"] }
        self.queues = q
        self.concurrency = concurrency ?? config.worker.concurrency
        // A configured prefetch below a --concurrency given on the command line follows it up.
        self.prefetch = max(prefetch ?? config.worker.prefetch ?? self.concurrency, self.concurrency)
        self.grace = grace ?? config.worker.grace
        self.maxReconnectDelay = maxReconnectDelay
    }
}
