import CronqAMQP
import CronqCore
import DequeModule

/// Everything a worker decides, as a pure state machine: events in, actions out.
///
/// Why: the worker's rules (which outcome, when a delivery may be acked, what a lost connection voids,
/// what a graceful stop gives back) used to live in the loop that also owned the sockets, so they could
/// only be tested by starting processes and sleeping. Here they take events (a delivery, a finished
/// request, a confirm, a lost connection, a stop, a tick with `now`) and return ``Action``s; the driver
/// (``WorkerLoop``) owns the AMQP connections and the curl multi handle, performs the actions and feeds
/// back what happened. No I/O and no clock reads happen in here, so every row of DESIGN.md's outcome
/// rules, every reconnect generation and every drain can be driven by a table test.
///
/// The AMQP message types it handles are values (`AMQPDelivery`, `AMQPMessage`); nothing in here can
/// open, read or write a socket.
struct WorkerStateMachine {
    /// What the driver must do, in order.
    ///
    /// The cases that carry a job, a publish or a record are `indirect` (boxed): an enum is as large as its
    /// largest case, and an action was copied and destroyed field by field through the runtime's generic
    /// witnesses as it went through the array; boxed, a copy is a retain (callgrind: -2.5% a job).
    enum Action {
        /// Start an HTTP request; report its end with ``requestFinished(_:_:now:)``.
        indirect case startRequest(id: UInt64, job: JobMessage, messageID: String, attempt: Int)
        /// Publish on the confirm channel, then report the sequence number with ``published(seq:_:)``,
        /// or ``publishDeferred(_:)`` when the broker blocks publishing.
        indirect case publish(OutgoingMessage, PublishToken)
        /// `basic.ack` on the consume channel (`multiple` acks every delivery up to the tag).
        case ack(UInt64, multiple: Bool)
        /// `basic.nack` on the consume channel.
        case nack(UInt64, requeue: Bool)
        /// Cancel every consumer (a graceful stop begins).
        case cancelConsumers
        /// Publish these event messages on the events channel (best effort, never confirmed).
        case publishEvents([EventBatcher.Batch])
        /// Close both connections; they are void (their delivery tags cannot be acked any more).
        case closeConnections
        /// Something worth a log line, a counter and a metric.
        indirect case record(WorkerRecord)
        /// The drain is over (or the grace period is): close cleanly and return.
        case finish
        /// Consume a guard queue (permits or rate tokens) on the guard channel, with this prefetch.
        case guardConsume(queue: String, consumerTag: String, prefetch: Int)
        case guardCancel(consumerTag: String)
        /// `basic.ack` on the guard channel (a rate token used up).
        case guardAck(UInt64)
        /// `basic.nack` requeue on the guard channel (a permit or token given back).
        case guardRelease(UInt64)
        /// Best effort on the events channel: a used token sent to rest, a breaker announcement.
        case guardPublish(OutgoingMessage)
    }

    /// One publish awaiting its confirm; opaque to the driver, which hands it back.
    struct PublishToken {
        var item: Item
        var kind: Kind
        var event: OutcomeEvent
        /// When the outcome was decided (Unix seconds), for the dead letter's `cronq-dead-at`.
        var decidedAt: Int64
        /// Not published again before this (a dead letter the broker could not route waits, unacked).
        var notBefore: Duration?
        enum Kind {
            case retry(tier: String, nextAttempt: Int)
            case dead(reason: String)
            /// The backend's breaker is open: the message waits in `tier` with its attempt unchanged.
            case delay(tier: String)
        }
    }

    /// The two clocks the machine needs, read by the driver: Unix seconds for messages and events, and
    /// a monotonic offset for durations and deadlines (so a clock step cannot stretch a request).
    struct Now: Sendable {
        var wall: Int64
        var monotonic: Duration
        init(wall: Int64, monotonic: Duration) {
            self.wall = wall
            self.monotonic = monotonic
        }
    }

    struct Configuration: Sendable {
        var concurrency: Int
        var grace: Duration
        var names: Topology.Names
        var admission: JobAdmission
        /// Removed from every error text a dead letter or an event carries.
        var secrets: [Secret]
        /// Backends with `max_in_flight`, `rate` or a breaker.
        var limits: [String: BackendLimits]
        /// Names this worker in its breaker announcements (so it can skip its own).
        var workerID: String

        init(options: WorkerOptions, workerID: String = "worker") {
            let config = options.config
            self.limits = config.backends.filter { !$0.value.limits.isEmpty }.mapValues(\.limits)
            self.workerID = workerID
            self.concurrency = options.concurrency
            self.grace = options.grace
            self.names = Topology.Names(prefix: config.amqp.prefix)
            self.admission = JobAdmission(config: config)
            self.secrets =
                config.backends.values.flatMap { [$0.token] + $0.signingSecrets }
                + (config.amqp.messageKey.map { [$0] } ?? [])
        }
    }

    /// One delivery being worked on.
    struct Item {
        var delivery: AMQPDelivery
        var generation: Int
        var queue: String
        /// Nil for a delivery refused before it was parsed (it is only dead-lettered).
        var message: JobMessage?
        var attempt: Int
        var firstAttemptAt: Int64
        var started: Duration
    }

    let configuration: Configuration
    private(set) var connected = false
    /// Bumped on every connect and every loss: anything tagged with an older one is void.
    private(set) var generation = 0
    private var consumerQueues: [String: String] = [:]
    private(set) var nextRequestID: UInt64 = 1
    private var inFlight: [UInt64: Item] = [:]
    /// Deliveries admitted and not started yet, oldest first: a turn's burst is started from the front.
    var waiting: Deque<Item> = []
    private var confirms = PublishConfirms<PublishToken>()
    var unpublished: [PublishToken] = []
    private var acks = AckCoalescer()
    private var events = EventBatcher()
    /// One per backend with limits (see ``BackendGuard``).
    var guards: [String: BackendGuard]
    private(set) var draining = false
    private var drainDeadline: Duration?

    init(_ configuration: Configuration) {
        self.configuration = configuration
        self.guards = Dictionary(
            uniqueKeysWithValues: configuration.limits.map { ($0.key, BackendGuard(backend: $0.key, limits: $0.value)) }
        )
    }

    var requestsInFlight: Int { inFlight.count }
    var isDraining: Bool { draining }

    // MARK: - Connection

    /// Both connections are open and the consumers started (`tag → queue`).
    mutating func connected(consumers: [String: String]) {
        generation += 1
        connected = true
        consumerQueues = consumers
        acks.reset()
    }

    /// A connection died (or the broker cancelled a consumer): every delivery tag of it is void, so the
    /// broker will redeliver those messages. Requests in flight still finish; their results are dropped.
    mutating func connectionLost(_ error: String) -> [Action] {
        let record = WorkerRecord.connectionLost(
            error: error, inFlight: inFlight.count, awaitingConfirm: confirms.inFlight)
        _ = confirms.abandonAll()
        unpublished.removeAll()
        waiting.removeAll()
        consumerQueues = [:]
        acks.reset()
        _ = events.drain()  // best effort: a lost connection's events are not worth holding
        for b in guards.keys { guards[b]!.connectionLost() }
        connected = false
        generation += 1
        return [.record(record), .closeConnections]
    }

    /// The broker cancelled a consumer (its queue was deleted or moved): reconnect to consume again.
    mutating func consumerCancelled(tag: String) -> [Action] {
        [.record(.consumerCancelled(queue: consumerQueues[tag] ?? tag))]
            + connectionLost("consumer cancelled by the broker")
    }

    // MARK: - Deliveries

    mutating func delivery(_ d: AMQPDelivery, now: Now) -> [Action] {
        let queue = d.consumerTag.flatMap { consumerQueues[$0] } ?? d.routingKey
        acks.delivered(d.deliveryTag)
        let attempt = Republish.attempt(of: d.message)
        var out: [Action] = []
        if d.redelivered {
            out.append(
                .record(
                    .redelivered(
                        messageID: d.message.properties.messageID ?? "-",
                        deliveryCount: d.message.properties.headers?["x-delivery-count"]?.intValue.map {
                            Int(clamping: $0)
                        } ?? 0, queue: queue)))
        }
        switch configuration.admission.admit(d.message) {
        case .success(let m):
            waiting.append(
                Item(
                    delivery: d, generation: generation, queue: queue, message: m, attempt: attempt,
                    firstAttemptAt: Republish.firstAttemptAt(of: d.message) ?? now.wall, started: now.monotonic))
        case .failure(let refusal):
            let event = OutcomeEvent(
                event: "dead", job: "unknown", messageID: d.message.properties.messageID ?? "-", attempt: attempt,
                reason: refusal.reason.rawValue, error: refusal.detail, queue: queue, at: now.wall)
            guard !refusal.rejectToBroker else {
                // Too big to copy: the broker dead-letters it whole (x-death reason `rejected`).
                acks.settledElsewhere(d.deliveryTag)
                out.append(.nack(d.deliveryTag, requeue: false))
                out.append(
                    contentsOf: recordDead(
                        event, reason: refusal.reason.rawValue, attempt: attempt, via: "broker reject"))
                return out
            }
            let item = Item(
                delivery: d, generation: generation, queue: queue, message: nil, attempt: attempt,
                firstAttemptAt: now.wall, started: now.monotonic)
            deadLetter(
                item, reason: refusal.reason.rawValue, error: refusal.detail, event: event, now: now)
        }
        return out
    }

    /// A request started by ``Action/startRequest(id:job:messageID:attempt:)`` ended.
    mutating func requestFinished(_ id: UInt64, _ call: CallResult, now: Now) -> [Action] {
        guard let item = inFlight.removeValue(forKey: id), let m = item.message else { return [] }
        let durationMs = Int((now.monotonic - item.started).totalMilliseconds)
        let messageID = item.delivery.message.properties.messageID ?? m.messageID
        var done: [Action] = [.record(.requestFinished(durationMs: durationMs))]
        var failedProbe = false
        if guards[m.backend] != nil {
            let (actions, probeFailed) = guardFinished(id, backend: m.backend, call: call, now: now)
            done += actions
            failedProbe = probeFailed
        }
        guard item.generation == generation, connected else {
            done.append(.record(.resultAfterLoss(job: m.job, messageID: messageID)))
            return done
        }
        // The probe of an open breaker failed: its message waits like the others, its attempt unchanged
        // (the probe tests the backend, it is not the job's try; long outages would otherwise use attempts up).
        if failedProbe, let coolDown = configuration.limits[m.backend]?.breaker?.coolDown,
            delay(item, m, until: now.monotonic + coolDown, now: now)
        {
            return done
        }
        var status: Int? = nil
        if case .response(let s, _) = call { status = s }
        switch OutcomeRules.classify(
            call, attempt: item.attempt, firstAttemptAt: item.firstAttemptAt, now: now.wall, policy: m.retry)
        {
        case .succeed:
            acks.ready(item.delivery.deliveryTag)
            add(
                OutcomeEvent(
                    event: "succeeded", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt,
                    attempt: item.attempt, status: status, durationMs: durationMs, queue: item.queue, at: now.wall))
            done.append(
                .record(
                    .succeeded(
                        job: m.job, messageID: messageID, attempt: item.attempt, status: status ?? 0,
                        durationMs: durationMs)))
            return done
        case .retry(let tier, _, let next):
            unpublished.append(
                PublishToken(
                    item: item, kind: .retry(tier: tier, nextAttempt: next),
                    event: OutcomeEvent(
                        event: "retrying", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt,
                        attempt: item.attempt, status: status, durationMs: durationMs, tier: tier,
                        error: Self.errorText(call), queue: item.queue, at: now.wall),
                    decidedAt: now.wall))
            return done
        case .dead(let reason, let st, let error):
            deadLetter(
                item, reason: reason, error: error,
                event: OutcomeEvent(
                    event: "dead", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt, attempt: item.attempt,
                    status: st, durationMs: durationMs, reason: reason, error: error, queue: item.queue, at: now.wall),
                now: now)
            return done
        }
    }

    static func errorText(_ call: CallResult) -> String {
        switch call {
        case .response(let status, _): return "HTTP \(status)"
        case .failure(_, let error): return error
        }
    }

    mutating func deadLetter(
        _ item: Item, reason: String, error: String, event: OutcomeEvent, now: Now
    ) {
        var e = event
        e.error = Republish.safeError(error, scrub: configuration.secrets)
        unpublished.append(PublishToken(item: item, kind: .dead(reason: reason), event: e, decidedAt: now.wall))
    }

    /// The message a token publishes, built when it is published (a retry or a dead letter).
    func outgoing(_ p: PublishToken) -> OutgoingMessage {
        let names = configuration.names
        let item = p.item
        switch p.kind {
        case .retry(let tier, let next):
            var message = Republish.retry(
                item.delivery.message, tier: tier, nextAttempt: next, firstAttemptAt: item.firstAttemptAt)
            message.properties.messageID = p.event.messageID
            return OutgoingMessage(
                exchange: names.retryExchange, routingKey: item.delivery.routingKey, message: message)
        case .delay(let tier):
            var message = Republish.retry(
                item.delivery.message, tier: tier, nextAttempt: item.attempt, firstAttemptAt: item.firstAttemptAt)
            message.properties.messageID = p.event.messageID
            return OutgoingMessage(
                exchange: names.retryExchange, routingKey: item.delivery.routingKey, message: message)
        case .dead(let reason):
            let message = Republish.dead(
                item.delivery.message, reason: reason, status: p.event.status, error: p.event.error ?? "",
                attempt: item.attempt, queue: names.workQueue(item.queue), at: p.decidedAt,
                scrub: configuration.secrets)
            return OutgoingMessage(exchange: names.deadExchange, routingKey: item.delivery.routingKey, message: message)
        }
    }

    // MARK: - Publishes

    /// The driver published `token` and got this sequence number for its confirm.
    mutating func published(seq: UInt64, _ token: PublishToken) {
        confirms.published(seq: seq, token: token)
    }

    /// The broker blocks publishing: the token waits for the next tick.
    mutating func publishDeferred(_ token: PublishToken) {
        unpublished.append(token)
    }

    /// A confirm, nack or return arrived on the confirm channel.
    mutating func confirmEvent(_ event: AMQPEvent, now: Now) -> [Action] {
        var out: [Action] = []
        for (token, outcome) in confirms.handle(event) { out += settled(token, outcome, now: now) }
        return out
    }

    private mutating func settled(_ p: PublishToken, _ outcome: PublishConfirms<PublishToken>.Outcome, now: Now)
        -> [Action]
    {
        let item = p.item
        guard item.generation == generation, connected else { return [] }
        switch outcome {
        case .confirmed:
            acks.ready(item.delivery.deliveryTag)
            switch p.kind {
            case .retry(let tier, _):
                add(p.event)
                return [
                    .record(
                        .retried(
                            job: p.event.job, messageID: p.event.messageID, attempt: item.attempt,
                            status: p.event.status ?? 0, tier: tier, error: p.event.error ?? "",
                            durationMs: p.event.durationMs ?? 0))
                ]
            case .dead(let reason):
                return recordDead(p.event, reason: reason, attempt: item.attempt, via: nil)
            case .delay(let tier):
                return [
                    .record(
                        .delayed(
                            job: p.event.job, messageID: p.event.messageID, backend: item.message?.backend ?? "-",
                            tier: tier, attempt: item.attempt))
                ]
            }
        case .nacked, .returned:
            var out: [Action] = [.record(.publishFailed)]
            if let tier = p.kind.tier, case .returned = outcome {
                // No queue for this tier (a producer asked for a tier this deployment does not have).
                let reason = "retry tier \(tier) does not exist (no queue \(configuration.names.retryQueue(tier)))"
                deadLetter(
                    item, reason: DeadReason.malformed.rawValue, error: reason,
                    event: OutcomeEvent(
                        event: "dead", job: p.event.job, messageID: p.event.messageID, attempt: item.attempt,
                        reason: DeadReason.malformed.rawValue, error: reason, queue: item.queue, at: now.wall),
                    now: now)
                return out
            }
            if case .dead = p.kind, case .returned = outcome {
                // No queue behind the dead-letter exchange (unbound or deleted): a topology problem, not
                // this message's. Requeueing would spin it through the broker and burn its delivery
                // limit; it is held unacked instead, and its dead letter published again in a while.
                var again = p
                again.notBefore = now.monotonic + Self.unroutableDeadLetterPause
                unpublished.append(again)
                out.append(
                    .record(
                        .deadLetterUnroutable(
                            job: p.event.job, messageID: p.event.messageID,
                            retryInSeconds: Int(Self.unroutableDeadLetterPause.totalSeconds),
                            deadQueue: configuration.names.deadQueue, deadExchange: configuration.names.deadExchange)))
                return out
            }
            acks.settledElsewhere(item.delivery.deliveryTag)
            out.append(
                .record(.publishRefused(job: p.event.job, messageID: p.event.messageID, outcome: "\(outcome)")))
            out.append(.nack(item.delivery.deliveryTag, requeue: true))
            return out
        }
    }

    static let unroutableDeadLetterPause: Duration = .seconds(5)

    /// Moves a delivery into flight and says so.
    mutating func start(_ item: inout Item, _ m: JobMessage, now: Now) -> Action {
        item.started = now.monotonic
        let id = nextRequestID
        nextRequestID += 1
        inFlight[id] = item
        return .startRequest(
            id: id, job: m, messageID: item.delivery.message.properties.messageID ?? m.messageID, attempt: item.attempt)
    }

    /// A dead letter is durable (its publish confirmed, or the broker took it on a reject): counted,
    /// logged and announced, the same way whichever path it took.
    private mutating func recordDead(_ event: OutcomeEvent, reason: String, attempt: Int, via: String?) -> [Action] {
        add(event)
        return [
            .record(
                .dead(
                    job: event.job, messageID: event.messageID, attempt: attempt, reason: reason,
                    status: event.status ?? 0, error: event.error ?? "", via: via))
        ]
    }

    /// Best effort: an event that cannot be published never blocks or fails a job. It leaves at the end
    /// of the loop turn, with the turn's other events of the same job and kind (see ``EventBatcher``).
    private mutating func add(_ event: OutcomeEvent) {
        guard connected else { return }
        events.add(event)
    }

    // MARK: - Stop and tick

    /// Begins a graceful stop: consumers are cancelled, deliveries not started go back now, requests in
    /// flight get until `now + grace`.
    mutating func stop(now: Now) -> [Action] {
        guard !draining else { return [] }
        draining = true
        drainDeadline = now.monotonic + configuration.grace
        var out: [Action] = [
            .record(.stopping(inFlight: inFlight.count, graceSeconds: configuration.grace.totalSeconds)),
            .cancelConsumers,
        ]
        for item in waiting where item.generation == generation {
            acks.settledElsewhere(item.delivery.deliveryTag)
            out.append(.nack(item.delivery.deliveryTag, requeue: true))
        }
        waiting.removeAll()
        return out
    }

    /// Once per loop turn: start what may start, publish what is due, send the acks that became due and
    /// this turn's events; finish a drain that is done or out of time.
    /// - Parameter canPublish: false while the broker blocks publishing (resource alarm).
    mutating func tick(now: Now, canPublish: Bool) -> [Action] {
        var out: [Action] = guards.isEmpty ? [] : startGuarded(now: now)
        while guards.isEmpty, inFlight.count < configuration.concurrency, !waiting.isEmpty, !draining {
            var item = waiting.removeFirst()
            guard item.generation == generation, let m = item.message else { continue }
            out.append(start(&item, m, now: now))
        }
        if canPublish && connected && !unpublished.isEmpty {
            // One pass (removing each published token in place moved the rest every time).
            var kept: [PublishToken] = []
            for p in unpublished where p.item.generation == generation {
                if let notBefore = p.notBefore, notBefore > now.monotonic {
                    kept.append(p)
                } else {
                    out.append(.publish(outgoing(p), p))
                }
            }
            unpublished = kept
        }
        if connected {
            let due = acks.flush()
            if let upTo = due.multipleUpTo { out.append(.ack(upTo, multiple: true)) }
            for tag in due.singles { out.append(.ack(tag, multiple: false)) }
        }
        if !events.isEmpty {
            let batches = events.drain()
            if canPublish { out.append(.publishEvents(batches)) }
        }
        if draining {
            let idle = inFlight.isEmpty && confirms.isEmpty && unpublished.isEmpty
            let late = drainDeadline.map { now.monotonic >= $0 } ?? true
            if idle || late || !connected && inFlight.isEmpty {
                if !inFlight.isEmpty { out.append(.record(.graceOver(unfinished: inFlight.count))) }
                out.append(.finish)
            }
        }
        return out
    }
}
