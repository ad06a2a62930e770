import CronqCore

/// What one worker holds of one backend's limits, as a pure value: the permits and rate tokens it
/// was delivered (AMQP delivery tags on the guard channel), which request uses which, whether it
/// should be consuming more, and the backend's ``CircuitBreaker``.
///
/// Why permits are messages held unacked: `max_in_flight` must hold across every worker process, and
/// RabbitMQ is the only thing they share. A permit queue holds exactly N permits; a worker holds one
/// unacked delivery per call and gives it back (`basic.nack` requeue) when the call ends. A worker that
/// dies gives its permits back with its connection, as the broker requeues every unacked delivery
/// (immediately on a closed socket, within two heartbeats on a silent one). Tokens of `rate` are the
/// same kind of message, but used up (acked) when a call starts and published again into a queue
/// where they rest `burst / rate` before they come back; above 200 calls a second one token starts
/// several calls, and rests after the last of them (docs/decisions.md "Backend guard").
struct BackendGuard {
    /// What to do before a call to this backend may start.
    enum Take: Equatable {
        /// Start it, holding these (the driver acks the token and sends it to rest).
        case go(permit: UInt64?, token: UInt64?, probe: Bool)
        /// The breaker is open: the message waits elsewhere until then (no attempt used).
        case delay(until: Duration)
        /// No permit or token free here yet: it stays in line (unacked, no attempt used).
        case blocked
    }

    let backend: String
    let limits: BackendLimits
    private(set) var breaker: CircuitBreaker?
    /// Permits delivered and not in use, with how many calls each has served since it was delivered.
    private var freePermits: [(tag: UInt64, uses: Int)] = []
    private var permitOf: [UInt64: (tag: UInt64, uses: Int)] = [:]
    private var freeTokens: [UInt64] = []
    /// The token this worker is spending (``BackendLimits/Rate/callsPerToken`` above 1): held unacked
    /// while its calls start, sent to rest once they are used or ``creditWindow`` has passed. Rest starts
    /// after the last call, so no interval of `tokenRest` ever holds more than one round of any token.
    private var credit: (tag: UInt64, calls: Int, until: Duration)?
    /// Spent tokens the driver has yet to send to rest.
    private var spent: [UInt64] = []
    private var probes: Set<UInt64> = []
    /// Whether the driver was asked to consume the permit / token queue (and not yet to stop).
    private(set) var consumingPermits = false
    private(set) var consumingTokens = false
    /// The running consumers' tags: a new one for every consume, because RabbitMQ 3.10 crashed the channel
    /// (541 INTERNAL_ERROR) when a delivery for a cancelled consumer met a new consumer with its tag.
    var permitConsumerTag = ""
    var tokenConsumerTag = ""

    /// Permits delivered this many times or more are renewed instead of returned: RabbitMQ counts every
    /// return of a quorum queue message (nack included, up to 4.2) against the queue's `x-delivery-limit`
    /// and drops the message there, so a permit returned often enough would vanish. Half the limit leaves
    /// room for the returns no worker controls (connections that die holding it).
    static let permitRenewAfter = Int(Topology.generousDeliveryLimit / 2)
    /// Tags of delivered permits that reached ``permitRenewAfter``.
    private var worn: Set<UInt64> = []

    /// What ``settle(waiting:now:)`` gives back to the broker and asks of the consumers.
    struct Settled: Equatable {
        /// Unused permits and tokens, returned (nack, requeue).
        var release: [UInt64] = []
        /// Spent tokens (several calls each), to ack and send to rest.
        var rest: [UInt64] = []
        /// Worn permits, to ack and replace with a fresh one (ack first: a crash in between leaves one
        /// permit fewer, never one more).
        var renew: [UInt64] = []
        var consumePermits: Bool?
        var consumeTokens: Bool?
    }

    /// Calls one permit serves in a row before it goes back to the queue even if this worker has more
    /// to do: keeps the broker out of the hot path, but lets other workers' waiting calls have a turn.
    static let permitReuse = 16

    /// How long a token worth several calls waits for them to be started. Rest starts after the last call
    /// whatever this is, so it bounds only how long a worker with less work than the token is worth keeps
    /// it from the ring. Not shorter: at 10,000 calls/s a window as short as the rest (10 ms) made the
    /// worker wait for the token's return every round (11% of jobs/s in `make bench BENCH=guard`).
    static let creditWindow: Duration = .milliseconds(100)

    /// How long a worker with nothing waiting keeps what it holds (see ``settle(waiting:now:)``).
    static let idleHold: Duration = .milliseconds(200)
    private var idleSince: Duration?

    init(backend: String, limits: BackendLimits) {
        self.backend = backend
        self.limits = limits
        self.breaker = limits.breaker.map(CircuitBreaker.init)
    }

    var permitsHeld: Int { freePermits.count + permitOf.count }

    /// Asks for a call to start. Takes what it needs only when everything is there.
    mutating func take(request id: UInt64, now: Duration) -> Take {
        var probe = false
        if breaker != nil {
            switch breaker!.admit(now: now) {
            case .call: break
            case .probe: probe = true
            case .wait(let until): return .delay(until: until)
            }
        }
        let credited = credit.map { $0.calls > 0 && now < $0.until } ?? false
        if limits.maxInFlight != nil && freePermits.isEmpty || limits.rate != nil && freeTokens.isEmpty && !credited {
            if probe { breaker!.abandonProbe() }
            return .blocked
        }
        var permit: UInt64? = nil
        if limits.maxInFlight != nil {
            let p = freePermits.removeLast()
            permitOf[id] = p
            permit = p.tag
        }
        var token: UInt64? = nil
        if let rate = limits.rate {
            if credited {
                credit!.calls -= 1
            } else if rate.callsPerToken > 1 {
                if let old = credit { spent.append(old.tag) }
                credit = (freeTokens.removeLast(), rate.callsPerToken - 1, now + Self.creditWindow)
            } else {
                token = freeTokens.removeLast()
            }
        }
        if probe { probes.insert(id) }
        return .go(permit: permit, token: token, probe: probe)
    }

    /// - Parameter deliveries: its `x-delivery-count` (how often it was returned before).
    mutating func permitDelivered(_ tag: UInt64, deliveries: Int = 0) {
        freePermits.append((tag, 0))
        if deliveries >= Self.permitRenewAfter { worn.insert(tag) }
    }
    mutating func tokenDelivered(_ tag: UInt64) { freeTokens.append(tag) }

    /// A call ended: its permit is free again; the breaker learns the result. Returns what to announce,
    /// and whether the call was the breaker's half-open probe.
    mutating func finished(request id: UInt64, failed: Bool, now: Duration) -> (
        announce: CircuitBreaker.Signal?, probe: Bool
    ) {
        if let p = permitOf.removeValue(forKey: id) { freePermits.append((p.tag, p.uses + 1)) }
        let probe = probes.remove(id) != nil
        guard breaker != nil else { return (nil, probe) }
        return (failed ? breaker!.failed(probe: probe, now: now) : breaker!.succeeded(probe: probe, now: now), probe)
    }

    mutating func heard(_ signal: CircuitBreaker.Signal, now: Duration) {
        breaker?.heard(signal, now: now)
    }

    /// What goes back to the broker (``Settled``) and whether to consume, after a start loop that left
    /// `waiting` deliveries of this backend in line here. A permit that served its turn goes back. With
    /// deliveries waiting, free permits and tokens beyond their number go back; with none, everything goes back and
    /// the consumers stop, but only after ``idleHold``: between one call's end and the next delivery (an
    /// ack's round trip) a busy worker has nothing waiting for a moment, and giving everything back then
    /// would cost a release, a cancel and a consume per call. So an idle worker holds nothing for long,
    /// and a busy one holds no more than it has deliveries for.
    mutating func settle(waiting: Int, now: Duration) -> Settled {
        if let c = credit, c.calls == 0 || now >= c.until {
            spent.append(c.tag)
            credit = nil
        }
        let rest = spent
        spent.removeAll()
        if waiting > 0 { idleSince = nil } else if idleSince == nil { idleSince = now }
        let holding = waiting == 0 && now - idleSince! < Self.idleHold
        let keepCount = holding ? Int.max : waiting
        var release: [UInt64] = []
        var keep: [(tag: UInt64, uses: Int)] = []
        for p in freePermits {
            if keep.count < keepCount && p.uses < Self.permitReuse { keep.append(p) } else { release.append(p.tag) }
        }
        freePermits = keep
        if freeTokens.count > keepCount {
            release += freeTokens[keepCount...]
            freeTokens.removeSubrange(keepCount...)
        }
        // Holding keeps a consumer that runs; it never starts one.
        var permits: Bool? = nil
        var tokens: Bool? = nil
        if limits.maxInFlight != nil && (waiting > 0 || holding && consumingPermits) != consumingPermits {
            consumingPermits.toggle()
            permits = consumingPermits
        }
        if limits.rate != nil && (waiting > 0 || holding && consumingTokens) != consumingTokens {
            consumingTokens.toggle()
            tokens = consumingTokens
        }
        let renew = release.filter { worn.contains($0) }
        if !renew.isEmpty {
            worn.subtract(renew)
            release.removeAll { renew.contains($0) }
        }
        return Settled(release: release, rest: rest, renew: renew, consumePermits: permits, consumeTokens: tokens)
    }

    /// The connection is gone: every permit and token it held went back to the broker with it. The
    /// breaker's state is kept (it is about the backend, not the connection).
    mutating func connectionLost() {
        freePermits.removeAll()
        permitOf.removeAll()
        freeTokens.removeAll()
        // A token being spent went back unacked: the ring may hand it out again before its rest (the one
        // way a lost connection can let up to `callsPerToken` calls start early).
        credit = nil
        spent.removeAll()
        worn.removeAll()
        if !probes.isEmpty { breaker?.abandonProbe() }
        idleSince = nil
        probes.removeAll()
        consumingPermits = false
        consumingTokens = false
    }
}
