/// The whole configuration of a cronq deployment: one TOML file for every part (see `cronq.example.toml`).
public struct CronqConfig: Sendable {
    public var amqp: AMQPSettings
    public var backends: [String: Backend]
    /// Defaults every job inherits; a job may override any key.
    public var retry: RetryPolicy
    public var ticker: TickerSettings
    public var worker: WorkerSettings
    public var history: HistorySettings = HistorySettings()
    /// `[[notify]]` sinks, served by the leading ticker.
    public var notify: [NotifySink] = []
    /// `[web]`: the dashboard.
    public var web = WebSettings()
    public var jobs: [Job]
    /// The file it was loaded from, for messages.
    public var path: String
    /// What is allowed but probably a mistake (a token file others can read, plain http to another
    /// host): each process logs these once at start.
    public var warnings: [String] = []

    public struct AMQPSettings: Sendable {
        /// `amqp://` or `amqps://` URL; may hold a password, so never log it as is. With `urls`, the
        /// first of them.
        public var url: String
        /// Every endpoint (`urls`, or `[url]`): a process connects to one at a time, from a shuffled
        /// order (DESIGN.md "Cluster").
        public var urls: [String] = []
        /// Replicas of each quorum queue and of the history stream when they are created
        /// (`x-quorum-initial-group-size`, `x-initial-cluster-size`); RabbitMQ uses every node when the
        /// cluster has fewer.
        public var replicas = 3
        /// RabbitMQ management API base URL (optional; `cronq status` uses it for unacked counts and rates).
        public var managementURL: String?
        /// Prefix of every exchange and queue name (`cronq`).
        public var prefix: String
        /// The key job messages are signed with (`cronq-signature`); a worker with a key refuses
        /// unsigned or badly signed messages (DESIGN.md "Message authentication and hostile input").
        public var messageKey: Secret? = nil
        /// `message_key`/`message_key_file` is set but its variable or file is missing (only when
        /// loaded with unset variables allowed): producers must refuse to publish unsigned.
        public var messageKeyMissing = false

        /// Every endpoint a process may connect to.
        public var endpoints: [String] { urls.isEmpty ? [url] : urls }

        mutating func setEndpoints(_ list: [String]) {
            guard let first = list.first else { return }
            urls = list
            url = first
        }
    }

    public struct Backend: Sendable {
        public var name: String
        /// `https://app.example.com` (or with a path prefix); job paths are appended to it.
        public var baseURL: String
        public var token: Secret
        public var timeout: Duration
        public var connectTimeout: Duration
        /// Standard Webhooks signing secrets (`whsec_…`), when requests are to be signed: one
        /// signature per secret, so a backend can rotate without downtime.
        public var signingSecrets: [Secret]
        /// An explicit proxy (`http://proxy:3128`); nil means none, whatever `http_proxy` says.
        public var proxy: String? = nil
        /// CA bundle to verify the backend with; nil uses the system's.
        public var caFile: String?
        /// Limits across every worker and the circuit breaker; empty by default.
        public var limits = BackendLimits()

        public init(
            name: String, baseURL: String, token: Secret, timeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(10), signingSecrets: [Secret] = [], caFile: String? = nil
        ) {
            self.name = name
            self.baseURL = baseURL
            self.token = token
            self.timeout = timeout
            self.connectTimeout = connectTimeout
            self.signingSecrets = signingSecrets
            self.caFile = caFile
        }
    }

    public struct TickerSettings: Sendable {
        /// How often a standby tries to take the leader lock.
        public var lockRetry: Duration
        /// Fires missed longer ago than this are not caught up.
        public var catchUpWindow: Duration
        /// At most this many missed fires per job with `catch_up = "all"`.
        public var maxCatchUp: Int
    }

    public struct WorkerSettings: Sendable {
        /// Work queues to consume (names without prefix); empty means every queue the jobs use.
        public var queues: [String]
        /// Requests in flight at once, and the consumer prefetch unless ``prefetch`` is set.
        public var concurrency: Int
        /// Deliveries a worker holds per queue, at least ``concurrency``; those beyond it wait unstarted,
        /// so a finished request's slot refills without a round trip to the broker. nil: `concurrency`.
        public var prefetch: Int? = nil
        /// How long a stopping worker lets in-flight requests finish.
        public var grace: Duration
        /// Which messages a worker calls for: `any` well-formed one, or only those matching a
        /// configured job (`configured`: its backend, method and path).
        public var accept: Accept = .any
    }

    /// `worker.accept`.
    public enum Accept: String, Sendable, CaseIterable {
        case any, configured
    }

    /// Retention of the run-history stream (`<prefix>.history`, every event on `<prefix>.events`).
    public struct HistorySettings: Sendable, Equatable {
        /// Events older than this are dropped (the stream's `x-max-age`).
        public var maxAge: Duration = .seconds(7 * 86_400)
        /// And the stream never grows beyond this (`x-max-length-bytes`).
        public var maxLengthBytes: Int64 = 1 << 30
        public init() {}
    }

    /// What to do when a job's previous fire has not finished: `allow` (run both), `skip` (do not fire,
    /// record a `skipped` event), `serial` (queue up; one at a time, in order, cluster-wide).
    public enum Overlap: String, Sendable, CaseIterable {
        case allow, skip, serial
    }

    /// What to do with fires missed while no ticker led.
    public enum CatchUp: String, Sendable, CaseIterable {
        case none, latest, all
    }

    public struct Job: Sendable {
        public var name: String
        public var schedule: CronExpression
        public var timezone: String
        public var method: String
        public var path: String
        public var queue: String
        public var timeout: Duration?
        public var headers: [String: String]
        public var body: String?
        public var retry: RetryPolicy
        public var catchUp: CatchUp
        public var jitter: Duration
        public var backend: String
        public var enabled: Bool
        /// `cronq status --jobs` exits 2 when the job has had no success for this long (a dead-man switch).
        public var alertAfter: Duration? = nil
        public var overlap: Overlap = .allow
        /// No fire before `start` or after `end` (Unix seconds, from RFC 3339 in the file).
        public var start: Int64? = nil
        public var end: Int64? = nil
        /// A one-off job's instant (`at` instead of `schedule`). Its `schedule` is then that instant's
        /// yearly expression in UTC and `start` = `end` = `at`, so every part of cronq that plans fires
        /// (catch-up, checkpoint, `next`, `status`) treats it like any bounded job: it fires once.
        public var at: Int64? = nil
        /// After this many dead runs in a row the leader pauses the job (reason `auto: N failures`).
        public var pauseAfterFailures: Int? = nil

        /// The zone its schedule is evaluated in (UTC for a one-off job: its instant carries its offset).
        public var zone: ZoneRules { at != nil ? .utc : ZoneRules.named(timezone) ?? .utc }

        /// The first fire strictly after `t` within `start`...`end`, or nil when there is none.
        public func nextFire(after t: Int64, in schedule: CronSchedule) -> Int64? {
            Self.nextFire(after: t, in: schedule, start: start, end: end)
        }

        /// The rule itself, shared with ``FirePlanner``, which keeps the bounds without the rest of the job.
        public static func nextFire(after t: Int64, in schedule: CronSchedule, start: Int64?, end: Int64?) -> Int64? {
            let from = start.map { max(t, $0 - 1) } ?? t
            guard let n = schedule.next(after: from) else { return nil }
            if let end, n > end { return nil }
            return n
        }

        /// Where the job stands at `now`: before its start, after its end, or a one-off that has fired.
        public func lifecycle(at now: Int64, lastFired: Int64?) -> Lifecycle {
            if let at, let last = lastFired, last >= at { return .done }
            if let end, now > end { return at != nil ? .missed : .ended }
            if let start, now < start { return .notStarted }
            return .active
        }

        public enum Lifecycle: String, Sendable, Codable {
            case active
            case notStarted = "not_started"
            /// Past its `end`.
            case ended
            /// A one-off job that fired.
            case done
            /// A one-off job whose instant passed without a fire on record.
            case missed
        }

        /// The work queue its messages go to (routing key on `<prefix>.jobs`): a serial job has one of its own.
        public var routingQueue: String { overlap == .serial ? "\(CronqConfig.serialQueuePrefix)\(name)" : queue }

        /// How long a fire can take at worst: every attempt timing out, with every backoff between them,
        /// capped by the retry deadline. `overlap = "skip"` forgets a run this old whose end was never
        /// heard of (a lost event must not stall the job forever).
        public var worstCaseRun: Duration {
            let timeout = self.timeout ?? .seconds(30)
            var total = timeout * retry.maxAttempts
            for i in 0..<max(0, retry.maxAttempts - 1) where !retry.backoff.isEmpty {
                total += retry.backoff[min(i, retry.backoff.count - 1)]
            }
            return min(total, retry.maxDuration + timeout) + .seconds(60)
        }
    }

    /// Work queues named `serial.<job>` belong to `overlap = "serial"` jobs (single active consumer, prefetch 1).
    public static let serialQueuePrefix = "serial."

    /// Every work queue name the enabled jobs use, sorted (serial jobs' own queues included).
    public var queues: [String] {
        // A loop, not `jobs.filter`: that would copy every job (300 bytes each) just to read one field.
        var names = Set<String>()
        for job in jobs where job.enabled { names.insert(job.routingQueue) }
        return names.sorted()
    }

    /// Every retry tier any job can use, shortest first.
    public var retryTiers: [Duration] {
        var tiers = Set(retry.backoff)
        for job in jobs { tiers.formUnion(job.retry.backoff) }
        return tiers.sorted()
    }
}

/// How a job retries: attempts, backoff tiers, and a deadline from the first attempt.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    /// Delay before attempt n+1 is `backoff[min(n-1, count-1)]`.
    public var backoff: [Duration]
    public var maxDuration: Duration

    public init(
        maxAttempts: Int = 5, backoff: [Duration] = [.seconds(10), .seconds(60), .seconds(300), .seconds(1800)],
        maxDuration: Duration = .seconds(21_600)
    ) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.maxDuration = maxDuration
    }
}
