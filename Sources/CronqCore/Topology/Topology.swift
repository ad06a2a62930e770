#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every exchange, queue and binding cronq needs (DESIGN.md "Topology"), computed from the config.
/// Pure data: `CronqRuntime` declares it on a broker, ``definitionsJSON(vhost:)`` exports it as a
/// RabbitMQ definitions file.
public struct Topology: Sendable, Equatable {
    public enum Argument: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case bool(Bool)
    }

    public struct Exchange: Sendable, Equatable {
        public var name: String
        /// direct, fanout, topic or headers.
        public var kind: String
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var arguments: [(key: String, value: Argument)]

        /// `x-queue-type`: `quorum` or `stream` for every cronq queue.
        public var type: Argument? { arguments.first { $0.key == "x-queue-type" }?.value }

        /// Whether RabbitMQ keeps replicas of it (a quorum queue or a stream).
        public var isReplicated: Bool { type == .string("quorum") || type == .string("stream") }

        public static func == (a: Queue, b: Queue) -> Bool {
            a.name == b.name && a.arguments.map(\.key) == b.arguments.map(\.key)
                && a.arguments.map(\.value) == b.arguments.map(\.value)
        }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public var arguments: [(key: String, value: Argument)]

        public static func == (a: Binding, b: Binding) -> Bool {
            a.queue == b.queue && a.exchange == b.exchange && a.routingKey == b.routingKey
                && a.arguments.map(\.key) == b.arguments.map(\.key)
                && a.arguments.map(\.value) == b.arguments.map(\.value)
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]

    /// Broker-side redeliveries before a poison message is dead-lettered (it also counts returns
    /// after a worker crash or shutdown, so it is generous).
    public static let deliveryLimit: Int64 = 20

    /// Failovers the leader token survives before RabbitMQ drops it (a standby then publishes a new one).
    public static let leaderDeliveryLimit: Int64 = 1_000_000

    /// The explicit delivery limit of the quorum queues that have none of their own (dead letters, state,
    /// control, completions, retry tiers): RabbitMQ 4.0 would otherwise apply 20 and, with no dead-letter
    /// target, drop what was returned more often (a dead letter listed 21 times, say).
    public static let generousDeliveryLimit: Int64 = 1_000_000

    /// Arguments added for clusters after queues of earlier cronq versions were created without them.
    /// RabbitMQ refuses a redeclare whose arguments differ, so a queue that lacks one of these (or asked for
    /// another initial size, which cannot change after creation) is kept as it is, with a warning, rather
    /// than failing every process that declares the topology (see `TopologyDeclarer`).
    public static let upgradeTolerantArguments: Set<String> = [
        "x-quorum-initial-group-size", "x-initial-cluster-size", "x-delivery-limit",
    ]

    /// Names derived from the prefix.
    public struct Names: Sendable {
        public let prefix: String
        public init(prefix: String = "cronq") { self.prefix = prefix }
        public var jobsExchange: String { "\(prefix).jobs" }
        public var retryExchange: String { "\(prefix).retry" }
        public var deadExchange: String { "\(prefix).dead" }
        public var eventsExchange: String { "\(prefix).events" }
        public var deadQueue: String { "\(prefix).dead" }
        /// The leader lock: a quorum queue with a single active consumer; the ticker holding its token
        /// (a message, unacked) leads.
        public var leaderQueue: String { "\(prefix).ticker.leader" }
        public var stateQueue: String { "\(prefix).ticker.state" }
        public var historyStream: String { "\(prefix).history" }
        public var controlExchange: String { "\(prefix).control" }
        public var controlQueue: String { "\(prefix).ticker.control" }
        /// Ends (succeeded, dead) of `overlap = "skip"` jobs, for the leader ticker.
        public var completionsQueue: String { "\(prefix).ticker.completions" }
        /// Every run's end (succeeded, dead), for the leader's notifications and `pause_after_failures`.
        public var outcomesQueue: String { "\(prefix).ticker.outcomes" }
        public func workQueue(_ queue: String) -> String { "\(prefix).jobs.\(queue)" }
        public func retryQueue(_ tier: String) -> String { "\(prefix).retry.\(tier)" }
    }

    /// The topology for work queues `queues` and retry tiers `tiers`.
    public init(
        names: Names, queues: [String], tiers: [Duration], history: CronqConfig.HistorySettings = .init(),
        skipJobs: [String] = [], watchOutcomes: Bool = false, watchBreakers: Bool = false, replicas: Int? = 3
    ) {
        exchanges = [
            Exchange(name: names.jobsExchange, kind: "direct"),
            Exchange(name: names.retryExchange, kind: "headers"),
            Exchange(name: names.deadExchange, kind: "fanout"),
            Exchange(name: names.eventsExchange, kind: "topic"),
            Exchange(name: names.controlExchange, kind: "fanout"),
        ]
        let atLeastOnce: [(key: String, value: Argument)] = [
            ("x-dead-letter-strategy", .string("at-least-once")), ("x-overflow", .string("reject-publish")),
        ]
        self.queues = []
        bindings = []
        for q in queues {
            self.queues.append(
                Queue(
                    name: names.workQueue(q),
                    arguments: [
                        ("x-queue-type", .string("quorum")), ("x-dead-letter-exchange", .string(names.deadExchange)),
                        ("x-delivery-limit", .int(Self.deliveryLimit)),
                    ] + atLeastOnce
                        // A serial job's queue: one consumer at a time cluster-wide (others stand by).
                        + (q.hasPrefix(CronqConfig.serialQueuePrefix)
                            ? [("x-single-active-consumer", .bool(true))] : [])))
            bindings.append(
                Binding(queue: names.workQueue(q), exchange: names.jobsExchange, routingKey: q, arguments: []))
        }
        for tier in tiers.sorted() {
            let t = DurationText.format(tier)
            self.queues.append(
                Queue(
                    name: names.retryQueue(t),
                    arguments: [
                        ("x-queue-type", .string("quorum")), ("x-message-ttl", .int(tier.totalMilliseconds)),
                        ("x-dead-letter-exchange", .string(names.jobsExchange)),
                    ] + atLeastOnce))
            bindings.append(
                Binding(
                    queue: names.retryQueue(t), exchange: names.retryExchange, routingKey: "",
                    arguments: [("x-match", .string("all")), (JobMessageProperties.delayHeader, .string(t))]))
        }
        self.queues.append(Queue(name: names.deadQueue, arguments: [("x-queue-type", .string("quorum"))]))
        bindings.append(Binding(queue: names.deadQueue, exchange: names.deadExchange, routingKey: "", arguments: []))
        self.queues.append(
            Queue(
                name: names.stateQueue,
                arguments: [
                    ("x-queue-type", .string("quorum")), ("x-max-length", .int(1)),
                    ("x-overflow", .string("drop-head")),
                ]))
        // The leader lock (docs/decisions.md, "Leadership"): every ticker consumes with prefetch 1; the single
        // active consumer receives a token and holds it unacked while it leads. When its connection or node
        // dies, the replicated queue returns the token and activates the next consumer. At most one spare
        // token waits (ready ≤ 1, reject-publish); the delivery limit is explicit (4.0 would apply 20 and then
        // drop the token after 20 failovers; a standby would publish a new one, but not needlessly).
        self.queues.append(
            Queue(
                name: names.leaderQueue,
                arguments: [
                    ("x-queue-type", .string("quorum")), ("x-single-active-consumer", .bool(true)),
                    ("x-max-length", .int(1)), ("x-overflow", .string("reject-publish")),
                    ("x-delivery-limit", .int(Self.leaderDeliveryLimit)),
                ]))
        // Pause/resume messages wait here for the leader ticker (durable: one sent with no leader is not lost).
        self.queues.append(Queue(name: names.controlQueue, arguments: [("x-queue-type", .string("quorum"))]))
        bindings.append(
            Binding(queue: names.controlQueue, exchange: names.controlExchange, routingKey: "", arguments: []))
        if !skipJobs.isEmpty {
            // Bounded: if no ticker reads it for a long time, the oldest ends go (their runs then expire).
            self.queues.append(Self.leaderFeed(names.completionsQueue))
            for job in skipJobs.sorted() {
                for end in ["succeeded", "dead"] {
                    bindings.append(
                        Binding(
                            queue: names.completionsQueue, exchange: names.eventsExchange,
                            routingKey: "job.\(job).\(end)", arguments: []))
                }
            }
        }
        if watchOutcomes {
            // Bounded like the completions: a leader that is gone long loses the oldest, not the broker's memory.
            self.queues.append(Self.leaderFeed(names.outcomesQueue))
            for end in ["succeeded", "dead"] {
                bindings.append(
                    Binding(
                        queue: names.outcomesQueue, exchange: names.eventsExchange, routingKey: "job.*.\(end)",
                        arguments: []))
            }
            // A backend's breaker opening and closing, for `breaker` notifications.
            for change in watchBreakers ? ["open", "closed"] : [] {
                bindings.append(
                    Binding(
                        queue: names.outcomesQueue, exchange: names.eventsExchange, routingKey: "backend.*.\(change)",
                        arguments: []))
            }
        }
        // Run history: every event, kept for `max_age` (read by `cronq history` and `cronq status --jobs`).
        self.queues.append(
            Queue(
                name: names.historyStream,
                arguments: [
                    ("x-queue-type", .string("stream")), ("x-max-age", .string("\(history.maxAge.totalSeconds)s")),
                    ("x-max-length-bytes", .int(history.maxLengthBytes)),
                ]))
        bindings.append(
            Binding(queue: names.historyStream, exchange: names.eventsExchange, routingKey: "#", arguments: []))
        // Cluster arguments (DESIGN.md "Cluster"), last, after each queue's own: an explicit replica count
        // (RabbitMQ uses every node when there are fewer) and an explicit delivery limit on every quorum queue.
        guard let replicas else { return }  // nil: the arguments of cronq before clusters (upgrade tests)
        for i in self.queues.indices {
            let type = self.queues[i].type
            if type == .string("quorum") {
                self.queues[i].arguments.append(("x-quorum-initial-group-size", .int(Int64(replicas))))
                if !self.queues[i].arguments.contains(where: { $0.key == "x-delivery-limit" }) {
                    self.queues[i].arguments.append(("x-delivery-limit", .int(Self.generousDeliveryLimit)))
                }
            } else if type == .string("stream") {
                self.queues[i].arguments.append(("x-initial-cluster-size", .int(Int64(replicas))))
            }
        }
    }

    /// A queue of events only the leader ticker reads: bounded, the oldest dropped, so that a deployment
    /// with no leader for a long time fills nothing.
    static func leaderFeed(_ name: String) -> Queue {
        Queue(
            name: name,
            arguments: [
                ("x-queue-type", .string("quorum")), ("x-max-length", .int(100_000)),
                ("x-overflow", .string("drop-head")),
            ])
    }

    /// The topology a configuration needs: its jobs' queues (or `default`) and every retry tier.
    public init(config: CronqConfig) {
        var queues = Set(config.queues).union(config.worker.queues)
        if queues.isEmpty { queues = ["default"] }
        self.init(
            names: Names(prefix: config.amqp.prefix), queues: queues.sorted(), tiers: config.retryTiers,
            history: config.history,
            skipJobs: config.jobs.filter { $0.enabled && $0.overlap == .skip }.map(\.name),
            watchOutcomes: !config.notify.isEmpty
                || config.jobs.contains { $0.enabled && $0.pauseAfterFailures != nil },
            watchBreakers: config.notify.contains { $0.events.contains(.breaker) },
            replicas: config.amqp.replicas)
    }

    /// A RabbitMQ definitions document (`rabbitmqctl import_definitions`, `load_definitions`), stable
    /// byte for byte for the same input so it can be kept in git and compared in a test.
    public func definitionsJSON(vhost: String = "/") -> String {
        func args(_ a: [(key: String, value: Argument)]) -> JSONValue {
            var d: [String: JSONValue] = [:]
            for (k, v) in a {
                switch v {
                case .string(let s): d[k] = .string(s)
                case .int(let i): d[k] = .int(Int(i))
                case .bool(let b): d[k] = .bool(b)
                }
            }
            return .object(d)
        }
        let doc: JSONValue = .object([
            "exchanges": .array(
                exchanges.map {
                    .object([
                        "name": .string($0.name), "vhost": .string(vhost), "type": .string($0.kind),
                        "durable": .bool(true), "auto_delete": .bool(false), "internal": .bool(false),
                        "arguments": .object([:]),
                    ])
                }),
            "queues": .array(
                queues.map {
                    .object([
                        "name": .string($0.name), "vhost": .string(vhost), "durable": .bool(true),
                        "auto_delete": .bool(false), "arguments": args($0.arguments),
                    ])
                }),
            "bindings": .array(
                bindings.map {
                    .object([
                        "source": .string($0.exchange), "vhost": .string(vhost), "destination": .string($0.queue),
                        "destination_type": .string("queue"), "routing_key": .string($0.routingKey),
                        "arguments": args($0.arguments),
                    ])
                }),
        ])
        var w = JSONWriter()
        w.value(doc, pretty: true)
        return String(decoding: w.bytes, as: UTF8.self) + "\n"
    }
}
