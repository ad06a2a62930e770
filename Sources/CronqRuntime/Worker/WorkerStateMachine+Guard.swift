import CronqAMQP
import CronqCore
import DequeModule

/// The backend guard's part of the worker's decisions (DESIGN.md "Backend guard and notifications"):
/// which waiting delivery may start given the permits, tokens and breakers of its backend, what goes
/// back to the broker, and what a breaker change announces. Pure like the rest of the machine.
extension WorkerStateMachine {
    /// Consumer tags on the guard channel: they say what a delivery there is.
    static let permitTagPrefix = "cronq-permit:"
    static let tokenTagPrefix = "cronq-token:"
    static let breakerTag = "cronq-breaker"

    /// A delivery on the guard channel: a permit, a rate token, or another worker's breaker announcement.
    mutating func guardDelivery(_ d: AMQPDelivery, now: Now) -> [Action] {
        let tag = d.consumerTag ?? ""
        if tag == Self.breakerTag {
            guard let a = BreakerAnnouncement.decode(d.message.body), a.by != configuration.workerID,
                let signal = CircuitBreaker.Signal(rawValue: a.state), guards[a.backend]?.breaker != nil
            else { return [] }
            let before = guards[a.backend]!.breaker!.state
            guards[a.backend]!.heard(signal, now: now.monotonic)
            let after = guards[a.backend]!.breaker!.state
            return before == after
                ? [] : [.record(.breaker(backend: a.backend, state: after.rawValue, announcedBy: a.by))]
        }
        // `cronq-permit:<backend>:<n>`: the backend is what lies between the prefix and the last colon.
        func backend(after prefix: String) -> String? {
            guard tag.hasPrefix(prefix), let colon = tag.lastIndex(of: ":") else { return nil }
            let b = String(tag[tag.index(tag.startIndex, offsetBy: prefix.count)..<colon])
            return guards[b] != nil ? b : nil
        }
        if let b = backend(after: Self.permitTagPrefix) {
            let returns = d.message.properties.headers?["x-delivery-count"]?.intValue ?? 0
            guards[b]!.permitDelivered(d.deliveryTag, deliveries: Int(clamping: returns))
            return []
        }
        if let b = backend(after: Self.tokenTagPrefix) {
            guards[b]!.tokenDelivered(d.deliveryTag)
            return []
        }
        return [.guardRelease(d.deliveryTag)]  // not ours to keep: a consumer of an earlier config
    }

    /// The start loop when some backend has limits: a delivery whose backend has no permit or token
    /// free here stays in line (unacked, no attempt used) and lets later ones of other backends pass.
    mutating func startGuarded(now: Now) -> [Action] {
        var out: [Action] = []
        var inLine: [String: Int] = [:]
        var i = 0
        while i < waiting.count {
            guard waiting[i].generation == generation, let m = waiting[i].message else {
                waiting.remove(at: i)
                continue
            }
            inLine[m.backend, default: 0] += 1
            guard requestsInFlight < configuration.concurrency, !draining else {
                i += 1
                continue
            }
            if guards[m.backend] != nil {
                switch guards[m.backend]!.take(request: nextRequestID, now: now.monotonic) {
                case .blocked:
                    i += 1
                    continue
                case .delay(let until):
                    let item = waiting.remove(at: i)
                    inLine[m.backend]! -= 1
                    if !delay(item, m, until: until, now: now) {
                        waiting.insert(item, at: i)  // no tier to wait in: it waits here
                        inLine[m.backend]! += 1
                        i += 1
                    }
                    continue
                case .go(_, let token, let probe):
                    if let token, let rate = configuration.limits[m.backend]?.rate {
                        out.append(.guardAck(token))
                        out.append(.guardPublish(Self.restingToken(configuration.names, m.backend, rate)))
                    }
                    if probe { out += announce(m.backend, .halfOpen, now: now) }
                }
            }
            var item = waiting.remove(at: i)
            inLine[m.backend]! -= 1
            out.append(start(&item, m, now: now))
        }
        // Without a connection there is nothing to give back or consume (the broker took it all back).
        for backend in guards.keys.sorted() where connected {
            let settled = guards[backend]!.settle(waiting: inLine[backend] ?? 0, now: now.monotonic)
            out += settled.release.map(Action.guardRelease)
            let limits = guards[backend]!.limits
            if let rate = limits.rate {
                for token in settled.rest {
                    out.append(.guardAck(token))
                    out.append(.guardPublish(Self.restingToken(configuration.names, backend, rate)))
                }
            }
            if let n = limits.maxInFlight {
                for permit in settled.renew {
                    out.append(.guardAck(permit))
                    out.append(.guardPublish(Self.freshPermit(configuration.names, backend, n)))
                    out.append(.record(.permitRenewed(backend: backend)))
                }
            }
            let prefetch = min(configuration.concurrency, 1000)
            if let permits = settled.consumePermits, let n = limits.maxInFlight {
                out.append(
                    Self.consumer(
                        permits, prefix: Self.permitTagPrefix + backend, id: nextRequestID,
                        queue: configuration.names.permitQueue(backend, n), prefetch: min(prefetch, n),
                        tag: &guards[backend]!.permitConsumerTag))
            }
            if let tokens = settled.consumeTokens, let rate = limits.rate {
                out.append(
                    Self.consumer(
                        tokens, prefix: Self.tokenTagPrefix + backend, id: nextRequestID,
                        queue: configuration.names.tokenQueue(backend, rate), prefetch: min(prefetch, rate.tokens),
                        tag: &guards[backend]!.tokenConsumerTag))
            }
        }
        return out
    }

    /// Starts a guard consumer under a new tag (`<prefix>:<id>`, remembered in `tag`), or cancels the one
    /// that runs.
    static func consumer(_ on: Bool, prefix: String, id: UInt64, queue: String, prefetch: Int, tag: inout String)
        -> Action
    {
        guard on else { return .guardCancel(consumerTag: tag) }
        tag = "\(prefix):\(id)"
        return .guardConsume(queue: queue, consumerTag: tag, prefetch: prefetch)
    }

    /// A used token goes to rest; the broker dead-letters it back to the ready queue afterwards.
    static func restingToken(_ names: Topology.Names, _ backend: String, _ rate: BackendLimits.Rate) -> OutgoingMessage
    {
        GuardQueues.message(to: names.tokenRestQueue(backend, rate), body: "t", type: "cronq.token", mandatory: false)
    }

    /// A permit minted again in place of a worn one (``BackendGuard/permitRenewAfter``).
    static func freshPermit(_ names: Topology.Names, _ backend: String, _ maxInFlight: Int) -> OutgoingMessage {
        GuardQueues.message(
            to: names.permitQueue(backend, maxInFlight), body: "renewed", type: "cronq.permit", mandatory: false)
    }

    /// The breaker of `m`'s backend is open: the message waits in the smallest of its retry tiers that
    /// covers the rest of the cool-down (the largest when none does), its attempt unchanged; past its
    /// `max_duration` it is dead instead. False when the job has no retry tier at all.
    mutating func delay(_ item: Item, _ m: JobMessage, until: Duration, now: Now) -> Bool {
        let tiers = m.retry.backoff.compactMap { name in DurationText.parse(name).map { (name, $0) } }
        guard let largest = tiers.max(by: { $0.1 < $1.1 }) else { return false }
        let rest = until - now.monotonic
        let tier = tiers.filter { $0.1 >= rest }.min(by: { $0.1 < $1.1 }) ?? largest
        let messageID = item.delivery.message.properties.messageID ?? m.messageID
        if now.wall + tier.1.totalSeconds - item.firstAttemptAt > Int64(m.retry.maxDurationS) {
            let error = "backend \(m.backend) unavailable (breaker open); max_duration_s \(m.retry.maxDurationS) passed"
            deadLetter(
                item, reason: DeadReason.exhausted.rawValue, error: error,
                event: OutcomeEvent(
                    event: "dead", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt, attempt: item.attempt,
                    reason: DeadReason.exhausted.rawValue, error: error, queue: item.queue, at: now.wall),
                now: now)
            return true
        }
        unpublished.append(
            PublishToken(
                item: item, kind: .delay(tier: tier.0),
                event: OutcomeEvent(
                    event: "delayed", job: m.job, messageID: messageID, scheduledAt: m.scheduledAt,
                    attempt: item.attempt, tier: tier.0, queue: item.queue, at: now.wall),
                decidedAt: now.wall))
        return true
    }

    /// A guarded call ended: its permit is free again and the breaker hears how it went. Also says
    /// whether it was the breaker's probe and failed (so the breaker is open again).
    mutating func guardFinished(_ id: UInt64, backend: String, call: CallResult, now: Now) -> (
        [Action], probeFailed: Bool
    ) {
        let failed: Bool
        switch call {
        case .response(let status, _): failed = status >= 500
        case .failure(let retryable, _): failed = retryable
        }
        let (changed, probe) = guards[backend]!.finished(request: id, failed: failed, now: now.monotonic)
        guard let changed else { return ([], false) }
        return (announce(backend, changed, now: now), probe && failed && changed == .open)
    }

    /// Tells every worker (and, for changes, the leader's notifier and `cronq status`) what happened here.
    func announce(_ backend: String, _ signal: CircuitBreaker.Signal, now: Now) -> [Action] {
        let a = BreakerAnnouncement(
            backend: backend, state: signal.rawValue, by: configuration.workerID, at: now.wall,
            coolDownMs: configuration.limits[backend]?.breaker?.coolDown.totalMilliseconds ?? 0)
        let publish = Action.guardPublish(
            OutgoingMessage(
                exchange: configuration.names.eventsExchange, routingKey: a.routingKey, message: a.message,
                mandatory: false))
        guard let state = CircuitBreaker.State(rawValue: signal.rawValue) else { return [publish] }
        return [publish, .record(.breaker(backend: backend, state: state.rawValue, announcedBy: nil))]
    }
}

extension WorkerStateMachine.PublishToken.Kind {
    /// The retry tier a retry or a delay is published to.
    var tier: String? {
        switch self {
        case .retry(let tier, _), .delay(let tier): tier
        case .dead: nil
        }
    }
}
