import CronqAMQP
import CronqCore
import CronqHTTP
import Foundation
public import Logging
import Synchronization

/// The worker's event loop: one thread owns both AMQP connections and the curl multi handle and
/// waits on all of their sockets at once (`curl_multi_poll` with the AMQP descriptors as extras).
///
/// Per delivery: validate → HTTP request → outcome rules → ack (success), or publish a retry or a
/// dead letter on the confirm channel and ack the original when *that* publish is confirmed. A nack,
/// a return or a dead connection leaves the original unacked (or nacks it back), so the broker
/// redelivers it: at-least-once, with the `Idempotency-Key` for the backend to drop duplicates.
///
/// **Ownership and shutdown.** ``run()`` is called once, on a dedicated thread, and returns when the
/// worker has stopped. ``requestStop()`` may be called from any thread (a signal handler's queue): the
/// loop cancels its consumers, lets in-flight requests finish for up to the grace period, waits for
/// the confirms of their outcomes, closes its channels cleanly (so quorum queues apply the last acks)
/// and returns. Whatever is unfinished goes back to the queue unacked.
public final class WorkerLoop: @unchecked Sendable {
    // @unchecked: every stored property except `stopRequested` and `waker` is touched only by the
    // thread inside run(); those two are the thread-safe doors in.
    let options: WorkerOptions
    let names: Topology.Names
    /// What a delivery must be before anything is called for it.
    let admission: JobAdmission
    var logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let wakerBox = Mutex<HTTPClient.Waker?>(nil)

    private var http: HTTPClient!
    private var consumeConn: AMQPConnection?
    private var consumeChannel: AMQPChannel?
    private var publishConn: AMQPConnection?
    private var confirmChannel: AMQPChannel?
    private var eventsChannel: AMQPChannel?
    private var consumerQueues: [String: String] = [:]
    private var generation = 0
    private var nextRequestID: UInt64 = 1
    private var inFlight: [UInt64: Item] = [:]
    private var waiting: [Item] = []
    private var confirms = PublishConfirms<Pending>()
    private var unpublished: [Pending] = []
    /// Acks of the consume channel, sent coalesced once per loop turn.
    private var acks = AckCoalescer()
    /// Outcome events of this loop turn, published coalesced at its end.
    private var events = EventBatcher()
    /// Which broker endpoint to connect to, and what follows a connect, a failure or a loss.
    private var broker: BrokerConnector
    private var everConnected = false
    private var reconnectAt: ContinuousClock.Instant?
    private var draining = false
    private var drainDeadline: ContinuousClock.Instant?

    /// Counters since start, for logs, tests and metrics.
    public struct Stats: Sendable, Equatable {
        public var succeeded = 0
        public var retried = 0
        public var dead = 0
        public var publishFailures = 0
        public var reconnects = 0
        public var connected = false
    }
    private let statsBox = Mutex(Stats())
    public var stats: Stats { statsBox.withLock { $0 } }

    /// One delivery being worked on.
    struct Item {
        var delivery: AMQPDelivery
        var generation: Int
        var queue: String
        var message: JobMessage?
        var attempt: Int
        var firstAttemptAt: Int64
        var started: ContinuousClock.Instant
    }

    /// A publish whose confirm will let us ack `item`.
    struct Pending {
        var item: Item
        var outgoing: OutgoingMessage
        var kind: Kind
        var event: OutcomeEvent
        /// Not published again before this (a dead letter the broker could not route waits, unacked).
        var notBefore: ContinuousClock.Instant? = nil
        enum Kind { case retry(tier: String), dead(reason: String) }
    }

    public init(options: WorkerOptions, logger: Logger) {
        self.options = options
        self.admission = JobAdmission(config: options.config)
        self.broker = BrokerConnector(endpoints: options.config.amqp.endpoints, maximumDelay: options.maxReconnectDelay)
        self.names = Topology.Names(prefix: options.config.amqp.prefix)
        self.logger = logger
    }

    /// Asks the loop to stop gracefully. Safe from any thread, any number of times.
    public func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wakerBox.withLock { $0?.wake() }
    }

    private func bump(_ f: (inout Stats) -> Void) { statsBox.withLock { f(&$0) } }

    // MARK: - The loop

    /// Runs until stopped. Call on a dedicated thread (it blocks).
    public func run() {
        // Every backend may have `concurrency` requests in flight: keep that many connections each.
        http = HTTPClient(keepConnections: options.concurrency * max(1, options.config.backends.count))
        wakerBox.withLock { $0 = http.waker }
        logger.info(
            "worker starting",
            metadata: [
                "queues": "\(options.queues.joined(separator: ","))", "concurrency": "\(options.concurrency)",
                "broker": "\(broker.description)",
            ])
        while true {
            if stopRequested.load(ordering: .relaxed) && !draining { beginDrain() }
            if draining {
                let idle = inFlight.isEmpty && confirms.isEmpty && unpublished.isEmpty
                if idle || ContinuousClock.now >= drainDeadline! || consumeConn == nil && inFlight.isEmpty { break }
            }
            if consumeConn == nil && !draining { connectIfDue() }
            do {
                try pumpConnections()
                startWaiting()
                try flushUnpublished()
                try flushAcks()
                flushEvents()
            } catch let e as AMQPError {
                connectionLost(e)
            } catch {
                connectionLost(AMQPError(.protocolError, detail: "\(error)"))
            }
            var fds: [Int32] = []
            var buffered = false
            let connections = [consumeConn, publishConn].compactMap { $0 }
            for c in connections {
                fds.append(c.fileDescriptor)
                if c.hasBufferedInput { buffered = true }
                c.batchWrites(false)  // what this turn wrote goes out before we wait
            }
            let wait: Duration = buffered ? .zero : (consumeConn == nil ? .milliseconds(50) : .milliseconds(250))
            let (finished, _) = http.poll(timeout: wait, extraDescriptors: fds)
            // One turn's acks, outcome publishes and events leave in a few segments, not one each.
            for c in connections { c.batchWrites(true) }
            for (id, result) in finished { finish(id, result) }
        }
        shutdown()
    }

    private func beginDrain() {
        draining = true
        uncork()  // cancel waits for cancel-ok: nothing may sit in a corked socket meanwhile
        drainDeadline = ContinuousClock.now + options.grace
        logger.info(
            "stopping: consumers cancelled, finishing in-flight requests",
            metadata: [
                "in_flight": "\(inFlight.count)", "grace_s": "\(options.grace.totalSeconds)",
            ])
        if let ch = consumeChannel {
            for tag in consumerQueues.keys { try? ch.cancel(consumerTag: tag) }
        }
        // Deliveries not started yet go back now.
        for item in waiting where item.generation == generation {
            try? consumeChannel?.nack(item.delivery.deliveryTag, requeue: true)
            acks.settledElsewhere(item.delivery.deliveryTag)
        }
        waiting.removeAll()
    }

    private func shutdown() {
        if !inFlight.isEmpty {
            logger.warning(
                "grace period over: unfinished requests go back to the queue unacked",
                metadata: ["count": "\(inFlight.count)"])
        }
        try? flushAcks()
        flushEvents()
        uncork()
        // Closing the channels is a close/close-ok handshake: the broker has applied our acks by then.
        consumeChannel?.close()
        confirmChannel?.close()
        eventsChannel?.close()
        consumeConn?.close()
        publishConn?.close()
        consumeConn = nil
        publishConn = nil
        wakerBox.withLock { $0 = nil }
        let s = stats
        logger.info(
            "worker stopped",
            metadata: [
                "succeeded": "\(s.succeeded)", "retried": "\(s.retried)", "dead": "\(s.dead)",
                "reconnects": "\(s.reconnects)",
            ])
    }

    // MARK: - Connections

    private func connectIfDue() {
        if let at = reconnectAt, ContinuousClock.now < at { return }
        do {
            let url = try broker.next()
            let publish = try AMQPConnection(url: url, name: "cronq-worker/\(getpid()) publish")
            broker.declared(
                try TopologyDeclarer(connection: publish).apply(
                    Topology(config: options.config), verifyWhenRefused: true),
                logger: logger)
            let confirm = try publish.openChannel()
            try confirm.enableConfirms()
            let events = try publish.openChannel()
            let consume = try AMQPConnection(url: url, name: "cronq-worker/\(getpid()) consume")
            consume.maximumBodyBytes = JobMessage.maxBodyBytes
            let ch = try consume.openChannel()
            try ch.setPrefetch(UInt16(clamping: options.concurrency))
            generation += 1
            publishConn = publish
            confirmChannel = confirm
            eventsChannel = events
            consumeConn = consume
            consumeChannel = ch
            consumerQueues = [:]
            acks.reset()
            // Serial jobs' queues first, each consumer with prefetch 1 (QoS is per consumer, set before
            // it starts): with the queue's single active consumer, one run at a time cluster-wide.
            let serial = options.queues.filter { $0.hasPrefix(CronqConfig.serialQueuePrefix) }
            if !serial.isEmpty {
                try ch.setPrefetch(1)
                for q in serial { consumerQueues[try ch.consume(queue: names.workQueue(q))] = q }
                try ch.setPrefetch(UInt16(clamping: options.concurrency))
            }
            for q in options.queues where !q.hasPrefix(CronqConfig.serialQueuePrefix) {
                let tag = try ch.consume(queue: names.workQueue(q))
                consumerQueues[tag] = q
            }
            if everConnected { bump { $0.reconnects += 1 } }
            everConnected = true
            bump { $0.connected = true }
            CronqMetrics.workerConnected(true)
            broker.connected(url)
            reconnectAt = nil
            logger.info(
                "connected",
                metadata: [
                    "queues": "\(options.queues.map(names.workQueue).joined(separator: ","))", "endpoint": "\(url)",
                ])
        } catch {
            teardown()
            var (delay, metadata) = broker.connectFailed()
            metadata["error"] = "\(error)"
            reconnectAt = ContinuousClock.now + delay
            logger.error("cannot connect to the broker; retrying", metadata: metadata)
        }
    }

    private func teardown() {
        bump { $0.connected = false }
        CronqMetrics.workerConnected(false)
        consumeConn?.close()
        publishConn?.close()
        consumeConn = nil
        publishConn = nil
        consumeChannel = nil
        confirmChannel = nil
        eventsChannel = nil
        consumerQueues = [:]
        acks.reset()
        _ = events.drain()  // best effort: a lost connection's events are not worth holding
    }

    /// Everything tied to the old connections is void: their delivery tags cannot be acked, so the
    /// broker will redeliver those messages. In-flight requests still finish; their results are dropped.
    private func connectionLost(_ error: AMQPError) {
        logger.error(
            "broker connection lost; unacked messages will be redelivered",
            metadata: [
                "error": "\(error)", "in_flight": "\(inFlight.count)", "awaiting_confirm": "\(confirms.inFlight)",
            ])
        _ = confirms.abandonAll()
        unpublished.removeAll()
        waiting.removeAll()
        teardown()
        generation += 1
        reconnectAt = ContinuousClock.now + broker.lost()
    }

    /// Reads every event both connections have ready (this also services heartbeats).
    private func pumpConnections() throws {
        if let c = consumeConn {
            var n = 0
            while n < 1024, let event = try c.nextEvent(timeout: .zero) {
                handleConsumeEvent(event)
                n += 1
            }
        }
        if let p = publishConn {
            var n = 0
            while n < 4096, let event = try p.nextEvent(timeout: .zero) {
                try handlePublishEvent(event)
                n += 1
            }
        }
    }

    private func handleConsumeEvent(_ event: AMQPEvent) {
        switch event {
        case .delivery(let d):
            accept(d)
        case .consumerCancelled(_, let tag):
            logger.warning(
                "the broker cancelled a consumer (queue deleted or moved); reconnecting",
                metadata: ["queue": "\(consumerQueues[tag] ?? tag)"])
            connectionLost(AMQPError(.channelClosed, detail: "consumer cancelled by the broker"))
        case .channelClosed(_, let e):
            connectionLost(e)
        default:
            break
        }
    }

    private func handlePublishEvent(_ event: AMQPEvent) throws {
        switch event {
        case .ack, .nack, .returned:
            for (pending, outcome) in confirms.handle(event) { settled(pending, outcome) }
        case .channelClosed(_, let e):
            throw e
        case .blocked(let reason):
            logger.warning(
                "broker blocked publishing (resource alarm); outcomes wait unacked", metadata: ["reason": "\(reason)"])
        case .unblocked:
            logger.info("broker unblocked publishing")
        default:
            break
        }
    }

    // MARK: - Deliveries

    private func accept(_ d: AMQPDelivery) {
        let queue = d.consumerTag.flatMap { consumerQueues[$0] } ?? d.routingKey
        acks.delivered(d.deliveryTag)
        let now = Int64(Date().timeIntervalSince1970)
        let attempt = Republish.attempt(of: d.message)
        var item = Item(
            delivery: d, generation: generation, queue: queue, message: nil, attempt: attempt,
            firstAttemptAt: Republish.firstAttemptAt(of: d.message) ?? now, started: .now)
        if d.redelivered {
            let count = d.message.properties.headers?["x-delivery-count"]?.intValue ?? 0
            logger.notice(
                "redelivered message",
                metadata: [
                    "message_id": "\(d.message.properties.messageID ?? "-")", "delivery_count": "\(count)",
                    "queue": "\(queue)",
                ])
        }
        switch admission.admit(d.message) {
        case .success(let m):
            item.message = m
            waiting.append(item)
        case .failure(let refusal):
            let id = d.message.properties.messageID ?? "-"
            let event = OutcomeEvent(
                event: "dead", job: "unknown", messageID: id, attempt: attempt, reason: refusal.reason.rawValue,
                error: refusal.detail, queue: queue, at: now)
            guard !refusal.rejectToBroker else {
                // Too big to copy: the broker dead-letters it whole (x-death reason `rejected`).
                do { try consumeChannel?.nack(d.deliveryTag, requeue: false) } catch let e as AMQPError {
                    connectionLost(e); return
                } catch {}
                acks.settledElsewhere(d.deliveryTag)
                recordDead(event, reason: refusal.reason.rawValue, attempt: attempt, via: "broker reject")
                return
            }
            deadLetter(item, reason: refusal.reason.rawValue, status: nil, error: refusal.detail, event: event)
        }
    }

    private func startWaiting() {
        while inFlight.count < options.concurrency, !waiting.isEmpty, !draining {
            var item = waiting.removeFirst()
            guard item.generation == generation, let m = item.message, let backend = options.config.backends[m.backend]
            else { continue }
            item.started = .now
            let id = nextRequestID
            nextRequestID += 1
            inFlight[id] = item
            let messageID = item.delivery.message.properties.messageID ?? m.messageID
            CronqMetrics.inFlight(inFlight.count)
            http.start(
                BackendRequest.make(
                    m, messageID: messageID, attempt: item.attempt, backend: backend,
                    now: Int64(Date().timeIntervalSince1970)),
                id: id)
        }
    }

    private func finish(_ id: UInt64, _ result: Result<HTTPResponse, HTTPError>) {
        guard let item = inFlight.removeValue(forKey: id), let m = item.message else { return }
        let durationMs = Int((ContinuousClock.now - item.started).totalMilliseconds)
        CronqMetrics.inFlight(inFlight.count)
        CronqMetrics.requestDuration(durationMs)
        if case .success(let r) = result { CronqMetrics.httpStatus(r.status) } else { CronqMetrics.httpStatus(nil) }
        let messageID = item.delivery.message.properties.messageID ?? m.messageID
        guard item.generation == generation, consumeConn != nil else {
            logger.warning(
                "request finished after its connection was lost; the broker redelivers it",
                metadata: [
                    "job": "\(m.job)", "message_id": "\(messageID)",
                ])
            return
        }
        let now = Int64(Date().timeIntervalSince1970)
        let call = BackendRequest.callResult(result)
        var status: Int? = nil
        if case .response(let s, _) = call { status = s }
        let decision = OutcomeRules.classify(
            call, attempt: item.attempt, firstAttemptAt: item.firstAttemptAt, now: now, policy: m.retry)
        switch decision {
        case .succeed:
            acks.ready(item.delivery.deliveryTag)
            bump { $0.succeeded += 1 }
            CronqMetrics.job(admission.metricsJob(m.job), outcome: "success")
            logger.info(
                "outcome",
                metadata: [
                    "outcome": "success", "job": "\(m.job)", "message_id": "\(messageID)", "attempt": "\(item.attempt)",
                    "status": "\(status ?? 0)", "duration_ms": "\(durationMs)",
                ])
            emit(
                OutcomeEvent(
                    event: "succeeded", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt,
                    attempt: item.attempt,
                    status: status, durationMs: durationMs, queue: item.queue, at: now))
        case .retry(let tier, _, let next):
            let error = errorText(result)
            var out = Republish.retry(
                item.delivery.message, tier: tier, nextAttempt: next, firstAttemptAt: item.firstAttemptAt)
            out.properties.messageID = messageID
            let pending = Pending(
                item: item,
                outgoing: OutgoingMessage(
                    exchange: names.retryExchange, routingKey: item.delivery.routingKey, message: out),
                kind: .retry(tier: tier),
                event: OutcomeEvent(
                    event: "retrying", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt,
                    attempt: item.attempt,
                    status: status, durationMs: durationMs, tier: tier, error: error, queue: item.queue, at: now))
            publish(pending)
        case .dead(let reason, let st, let error):
            deadLetter(
                item, reason: reason, status: st, error: error,
                event: OutcomeEvent(
                    event: "dead", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt, attempt: item.attempt,
                    status: st, durationMs: durationMs, reason: reason, error: error, queue: item.queue, at: now))
        }
    }

    private func errorText(_ r: Result<HTTPResponse, HTTPError>) -> String {
        switch r {
        case .success(let resp): return "HTTP \(resp.status)"
        case .failure(let e): return e.description
        }
    }

    private var secrets: [Secret] {
        options.config.backends.values.flatMap { [$0.token] + $0.signingSecrets }
            + (options.config.amqp.messageKey.map { [$0] } ?? [])
    }

    private func deadLetter(_ item: Item, reason: String, status: Int?, error: String, event: OutcomeEvent) {
        let now = Int64(Date().timeIntervalSince1970)
        let out = Republish.dead(
            item.delivery.message, reason: reason, status: status, error: error, attempt: item.attempt,
            queue: names.workQueue(item.queue), at: now, scrub: secrets)
        var e = event
        e.error = Republish.safeError(error, scrub: secrets)
        publish(
            Pending(
                item: item,
                outgoing: OutgoingMessage(
                    exchange: names.deadExchange, routingKey: item.delivery.routingKey, message: out),
                kind: .dead(reason: reason), event: e))
    }

    // MARK: - Publishing outcomes

    private func publish(_ p: Pending) {
        unpublished.append(p)
        do { try flushUnpublished() } catch let e as AMQPError { connectionLost(e) } catch {}
    }

    private func flushUnpublished() throws {
        guard let ch = confirmChannel, let conn = publishConn, !conn.isBlocked else { return }
        var i = 0
        let now = ContinuousClock.now
        while i < unpublished.count {
            let p = unpublished[i]
            guard p.item.generation == generation else { unpublished.remove(at: i); continue }
            if let notBefore = p.notBefore, notBefore > now { i += 1; continue }
            do {
                let seq = try ch.publish(
                    exchange: p.outgoing.exchange, routingKey: p.outgoing.routingKey, message: p.outgoing.message)
                confirms.published(seq: seq, token: p)
                unpublished.remove(at: i)
            } catch let e as AMQPError where e.code == .blocked {
                return
            }
        }
    }

    private func uncork() {
        consumeConn?.batchWrites(false)
        publishConn?.batchWrites(false)
    }

    /// Sends the acks that became due this turn (see ``AckCoalescer``).
    private func flushAcks() throws {
        guard let ch = consumeChannel else { return }
        let due = acks.flush()
        if let upTo = due.multipleUpTo { try ch.ack(upTo, multiple: true) }
        for tag in due.singles { try ch.ack(tag) }
    }

    private func settled(_ p: Pending, _ outcome: PublishConfirms<Pending>.Outcome) {
        let item = p.item
        guard item.generation == generation, let consume = consumeChannel else { return }
        let job = p.event.job
        switch outcome {
        case .confirmed:
            acks.ready(item.delivery.deliveryTag)
            switch p.kind {
            case .retry(let tier):
                bump { $0.retried += 1 }
                CronqMetrics.job(admission.metricsJob(job), outcome: "retry")
                CronqMetrics.retry(tier: admission.metricsTier(tier))
                logger.info(
                    "outcome",
                    metadata: [
                        "outcome": "retry", "job": "\(job)", "message_id": "\(p.event.messageID)",
                        "attempt": "\(item.attempt)",
                        "status": "\(p.event.status ?? 0)", "delay": "\(tier)", "error": "\(p.event.error ?? "")",
                        "duration_ms": "\(p.event.durationMs ?? 0)",
                    ])
                emit(p.event)
            case .dead(let reason):
                recordDead(p.event, reason: reason, attempt: item.attempt)
            }
        case .nacked, .returned:
            bump { $0.publishFailures += 1 }
            if case .retry(let tier) = p.kind, case .returned = outcome {
                // No queue for this tier (a producer asked for a tier this deployment does not have).
                let reason = "retry tier \(tier) does not exist (no queue \(names.retryQueue(tier)))"
                deadLetter(
                    item, reason: "malformed", status: p.event.status, error: reason,
                    event: OutcomeEvent(
                        event: "dead", job: job, messageID: p.event.messageID, attempt: item.attempt,
                        reason: "malformed", error: reason, queue: item.queue, at: Int64(Date().timeIntervalSince1970)))
                return
            }
            if case .dead = p.kind, case .returned = outcome {
                // No queue behind the dead-letter exchange (unbound or deleted): a topology problem, not
                // this message's. Requeueing would spin it through the broker and burn its delivery
                // limit; it is held unacked instead, and its dead letter published again in a while.
                logger.error(
                    "dead letter unroutable (is \(names.deadQueue) bound to \(names.deadExchange)?); held unacked, retrying",
                    metadata: [
                        "job": "\(job)", "message_id": "\(p.event.messageID)", "retry_in_s": "5",
                    ])
                var again = p
                again.notBefore = ContinuousClock.now + .seconds(5)
                unpublished.append(again)
                return
            }
            logger.error(
                "outcome publish refused by the broker; the message goes back to its queue",
                metadata: [
                    "job": "\(job)", "message_id": "\(p.event.messageID)", "publish": "\(outcome)",
                ])
            do { try consume.nack(item.delivery.deliveryTag, requeue: true) } catch let e as AMQPError {
                connectionLost(e); return
            } catch {}
            acks.settledElsewhere(item.delivery.deliveryTag)
        }
    }

    /// A dead letter is durable (its publish confirmed, or the broker took it on a reject): counted,
    /// logged and announced, the same way whichever path it took.
    private func recordDead(_ event: OutcomeEvent, reason: String, attempt: Int, via: String? = nil) {
        bump { $0.dead += 1 }
        CronqMetrics.job(admission.metricsJob(event.job), outcome: "dead")
        CronqMetrics.dead(reason: reason)
        var metadata: Logger.Metadata = [
            "outcome": "dead", "job": "\(event.job)", "message_id": "\(event.messageID)", "attempt": "\(attempt)",
            "reason": "\(reason)", "status": "\(event.status ?? 0)", "error": "\(event.error ?? "")",
        ]
        if let via { metadata["via"] = "\(via)" }
        logger.warning("outcome", metadata: metadata)
        emit(event)
    }

    /// Best effort: an event that cannot be published never blocks or fails a job. It leaves at the end
    /// of the loop turn, with the turn's other events of the same job and kind (see ``EventBatcher``).
    private func emit(_ event: OutcomeEvent) {
        guard eventsChannel != nil else { return }
        events.add(event)
    }

    private func flushEvents() {
        guard !events.isEmpty else { return }
        let batches = events.drain()
        guard let ch = eventsChannel, let conn = publishConn, !conn.isBlocked else { return }
        let now = UInt64(max(0, Date().timeIntervalSince1970))
        for b in batches {
            let message = AMQPMessage(
                body: b.body,
                properties: AMQPProperties(
                    contentType: b.count == 1 ? "application/json" : "application/x-ndjson", deliveryMode: 2,
                    messageID: b.messageID,
                    timestamp: now, type: "cronq.event", appID: "cronq-worker"))
            do {
                try ch.publish(
                    exchange: names.eventsExchange, routingKey: b.routingKey, message: message, mandatory: false)
            } catch let e as AMQPError where e.isConnectionFatal {
                connectionLost(e)
                return
            } catch {}
        }
    }
}
