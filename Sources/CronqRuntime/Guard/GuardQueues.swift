public import CronqAMQP
public import CronqCore

/// Creates each limited backend's permit and token queues and fills them exactly once, whichever of
/// many processes (workers starting together, `cronq topology apply`) gets there first.
///
/// Why a nonce: a queue holds the right number of permits only if exactly one process minted them,
/// and AMQP has no "created" flag. So every process declares the queue with the same arguments plus
/// one it picks at random (`x-max-length-bytes`, far above anything the queue will hold). The first
/// declare creates the queue; every later one differs in that argument and the broker refuses it (406),
/// which says "it exists, someone else minted". Only the creator mints. A creator that dies between
/// the two leaves too few permits (never too many): deleting the queue lets the next process make it again.
public enum GuardQueues {
    /// What was found or made, one line each for the log.
    public struct Report: Sendable, Equatable {
        public var created: [String] = []
        public var existing: [String] = []
    }

    /// Declares (and, when this process created them, fills) the guard queues `config` needs.
    /// - Throws: ``AMQPError`` when the broker refuses something other than the nonce (a user without
    ///   configure permission on queues nobody created yet, say).
    @discardableResult
    public static func prepare(_ connection: AMQPConnection, config: CronqConfig) throws -> Report {
        let names = Topology.Names(prefix: config.amqp.prefix)
        var report = Report()
        for backend in config.backends.values.sorted(by: { $0.name < $1.name }) {
            let limits = backend.limits
            if let n = limits.maxInFlight {
                let q = names.permitQueue(backend.name, n)
                if try createOnce(connection, q, config: config) {
                    try mint(connection, q, count: n, type: "cronq.permit")
                    report.created.append(q)
                } else {
                    report.existing.append(q)
                }
            }
            if let rate = limits.rate {
                let ready = names.tokenQueue(backend.name, rate)
                let rest = names.tokenRestQueue(backend.name, rate)
                let ch = try connection.openChannel()
                defer { ch.close() }
                try ch.declareQueue(
                    rest,
                    arguments: table(
                        config,
                        [
                            ("x-message-ttl", .int(rate.tokenRest.totalMilliseconds)),
                            ("x-dead-letter-exchange", .string("")), ("x-dead-letter-routing-key", .string(ready)),
                        ]))
                if try createOnce(connection, ready, config: config) {
                    try mint(connection, ready, count: rate.tokens, type: "cronq.token")
                    report.created.append(ready)
                } else {
                    report.existing.append(ready)
                }
            }
            if limits.breaker != nil {
                let q = names.breakerQueue(backend.name)
                let ch = try connection.openChannel()
                defer { ch.close() }
                try ch.declareQueue(
                    q, arguments: table(config, [("x-max-length", .int(1)), ("x-overflow", .string("drop-head"))]))
                for state in CircuitBreaker.State.allCases {
                    try ch.bindQueue(
                        q, exchange: names.eventsExchange,
                        routingKey: BreakerAnnouncement.routingKey(backend: backend.name, state: state.rawValue))
                }
            }
        }
        return report
    }

    /// Every guard queue `config` needs (to list or delete them).
    public static func names(_ config: CronqConfig) -> [String] {
        let names = Topology.Names(prefix: config.amqp.prefix)
        var out: [String] = []
        for b in config.backends.values.sorted(by: { $0.name < $1.name }) {
            if let n = b.limits.maxInFlight { out.append(names.permitQueue(b.name, n)) }
            if let r = b.limits.rate { out += [names.tokenQueue(b.name, r), names.tokenRestQueue(b.name, r)] }
            if b.limits.breaker != nil { out.append(names.breakerQueue(b.name)) }
        }
        return out
    }

    /// True when this call created the queue (so it must mint), false when it already existed.
    static func createOnce(_ connection: AMQPConnection, _ name: String, config: CronqConfig) throws -> Bool {
        let nonce = Int64.random(in: 1_000_000_000_000..<2_000_000_000_000)
        let ch = try connection.openChannel()
        defer { ch.close() }
        do {
            try ch.declareQueue(name, arguments: table(config, [("x-max-length-bytes", .int(nonce))]))
            return true
        } catch let e as AMQPError where e.code == .channelClosed && e.replyCode == 406 {
            return false
        }
    }

    static func mint(_ connection: AMQPConnection, _ queue: String, count: Int, type: String) throws {
        let ch = try connection.openChannel()
        defer { ch.close() }
        try ch.enableConfirms()
        let messages = (1...count).map { i in message(to: queue, body: "\(i)", type: type, mandatory: true) }
        let outcomes = try ch.publishAndConfirm(messages, timeout: .seconds(30))
        let missing = outcomes.filter { $0 != .confirmed }.count
        if missing > 0 {
            throw AMQPError(
                .timeout,
                detail:
                    "\(missing) of \(count) \(type) messages for \(queue) not confirmed; delete the queue to mint again"
            )
        }
    }

    /// A permit or token: persistent, its kind in `type`, nothing in the body that anyone reads.
    static func message(to queue: String, body: String, type: String, mandatory: Bool) -> OutgoingMessage {
        OutgoingMessage(
            exchange: "", routingKey: queue,
            message: AMQPMessage(
                body: Array(body.utf8),
                properties: AMQPProperties(contentType: "text/plain", deliveryMode: 2, type: type)),
            mandatory: mandatory)
    }

    /// A guard queue's arguments: a quorum queue (replicated like the rest on a cluster), with an explicit
    /// delivery limit (permits go back with nack, which 4.0-4.2 count; 20 would drop them soon).
    static func table(_ config: CronqConfig, _ extra: [(key: String, value: Topology.Argument)]) -> AMQPTable {
        var args: [(key: String, value: Topology.Argument)] = [("x-queue-type", .string("quorum"))] + extra
        args.append(("x-quorum-initial-group-size", .int(Int64(config.amqp.replicas))))
        args.append(("x-delivery-limit", .int(Topology.generousDeliveryLimit)))
        return TopologyDeclarer.table(args)
    }
}
