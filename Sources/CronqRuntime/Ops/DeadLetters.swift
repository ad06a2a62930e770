public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq dead`: list, show, replay and purge the dead-letter queue.
///
/// Every operation takes messages with `basic.get` *unacknowledged*; what it does not act on goes
/// back to the queue when the channel closes, so listing loses and reorders nothing, and an
/// interrupted replay or purge leaves every untouched message where it was. A replayed message is
/// acked only after its re-publish to `cronq.jobs` is confirmed (at-least-once).
public struct DeadLetters {
    public let connection: AMQPConnection
    public let names: Topology.Names

    public init(connection: AMQPConnection, names: Topology.Names) {
        self.connection = connection
        self.names = names
    }

    /// What operators see of a dead letter.
    public struct Entry: Sendable {
        public var messageID: String
        public var job: String
        public var reason: String
        public var status: Int
        public var attempts: Int
        public var deadAt: Int64?
        public var error: String
        public var queue: String
        public var routingKey: String
        public var message: AMQPMessage
        /// What a replay would make a worker send (nil when the body is not a valid job message).
        public var backend: String?
        public var method: String?
        public var path: String?

        init(_ d: AMQPDelivery) {
            let h = d.message.properties.headers ?? AMQPTable()
            message = d.message
            messageID = d.message.properties.messageID ?? "-"
            let parsed = try? JobMessage.parse(d.message.body)
            job = parsed?.job ?? Self.jobFromID(messageID)
            backend = parsed?.backend
            method = parsed?.request.method
            path = parsed?.request.path
            // A message the broker dead-lettered itself (delivery limit) has x-death, not cronq-dead-*.
            let xDeathReason: String? = {
                if case .array(let deaths)? = h["x-death"], case .table(let first)? = deaths.first {
                    return first["reason"]?.stringValue
                }
                return nil
            }()
            reason =
                h[JobMessageProperties.deadReasonHeader]?.stringValue ?? xDeathReason.map { "broker_\($0)" }
                ?? "unknown"
            status = Int(h[JobMessageProperties.deadStatusHeader]?.intValue ?? 0)
            attempts = Int(h[JobMessageProperties.attemptHeader]?.intValue ?? 1)
            deadAt =
                h[JobMessageProperties.deadAtHeader]?.stringValue.flatMap(Timestamp.parse)
                ?? (h["x-first-death-reason"] != nil ? d.message.properties.timestamp.map(Int64.init) : nil)
            error = h[JobMessageProperties.deadErrorHeader]?.stringValue ?? ""
            queue = h[JobMessageProperties.queueHeader]?.stringValue ?? h["x-first-death-queue"]?.stringValue ?? ""
            routingKey = d.routingKey
        }

        static func jobFromID(_ id: String) -> String { id.split(separator: "@").first.map(String.init) ?? "-" }
    }

    /// Which dead letters an operation applies to.
    public struct Filter: Sendable {
        public var job: String?
        public var reason: String?
        public var ids: Set<String> = []
        /// Dead at or after this instant (`--since`).
        public var deadSince: Int64?
        /// Dead at or before this instant (`--older-than`).
        public var deadBefore: Int64?

        public init(
            job: String? = nil, reason: String? = nil, ids: Set<String> = [], deadSince: Int64? = nil,
            deadBefore: Int64? = nil
        ) {
            self.job = job
            self.reason = reason
            self.ids = ids
            self.deadSince = deadSince
            self.deadBefore = deadBefore
        }

        public func matches(_ e: Entry) -> Bool {
            if let job, e.job != job { return false }
            if let reason, e.reason != reason { return false }
            if !ids.isEmpty && !ids.contains(e.messageID) { return false }
            if let deadSince, (e.deadAt ?? Int64.min) < deadSince { return false }
            if let deadBefore, (e.deadAt ?? Int64.max) > deadBefore { return false }
            return true
        }
    }

    /// Every dead letter (up to `limit` matches), oldest first; the queue is left exactly as it was.
    public func list(_ filter: Filter, limit: Int = Int.max) throws -> [Entry] {
        let ch = try connection.openChannel()
        defer { Self.giveBack(ch) }
        var out: [Entry] = []
        try Self.walk(ch, queue: names.deadQueue, filter, stop: { out.count >= limit }) { _, e in out.append(e) }
        return out
    }

    /// The counts an operation ended with.
    public struct Summary: Sendable, Equatable {
        public var matched = 0
        public var replayed = 0
        public var purged = 0
        public var skipped = 0
        public var failed = 0
        /// Not replayed: not signed with the configured `message_key` (see ``replay(_:limit:rate:toQueue:dryRun:messageKey:signUnsigned:progress:shouldStop:)``).
        public var unsigned = 0

        public init() {}
    }

    /// Re-publishes the selected dead letters to `cronq.jobs` and acks each once its publish is confirmed.
    ///
    /// The replay has attempt 1 again, `cronq-replayed` incremented, `app_id cronq-replay`, and none of
    /// the `x-*` or `cronq-dead-*` headers (RabbitMQ 3.10 silently drops a message whose `x-death`
    /// names a queue it dead-letters into again).
    /// - Parameters:
    ///   - rate: messages per second at most (nil: as fast as confirms allow).
    ///   - progress: called after each message with the running summary.
    ///   - shouldStop: polled between messages (Ctrl-C): stops cleanly, the rest stays in the dead queue.
    ///   - messageKey: with a key, a dead letter whose signature does not verify (planted in the dead
    ///     queue, or dead for `unauthenticated`) is not replayed but counted in `unsigned`, unless
    ///     `signUnsigned` says the operator vouches for it (after `cronq dead show`): then it is signed.
    ///   - each: every matching dead letter, and whether it is (or, dry, would be) replayed.
    public func replay(
        _ filter: Filter, limit: Int = Int.max, rate: Double? = nil, toQueue: String? = nil, dryRun: Bool = false,
        messageKey: Secret? = nil, signUnsigned: Bool = false, each: (Entry, _ willReplay: Bool) -> Void = { _, _ in },
        progress: (Summary) -> Void = { _ in }, shouldStop: () -> Bool = { false }
    ) throws -> Summary {
        let ch = try connection.openChannel()
        defer { Self.giveBack(ch) }
        let pub = try connection.openChannel()
        defer { pub.close() }
        try pub.enableConfirms()
        var summary = Summary()
        let start = ContinuousClock.now
        try Self.walk(
            ch, queue: names.deadQueue, filter, stop: { shouldStop() || summary.matched >= limit },
            skipped: { summary.skipped += 1 }
        ) { d, e in
            summary.matched += 1
            var signWith: Secret? = nil
            let unsigned = messageKey.map { !MessageSignature.isSigned(d.message, key: $0) } ?? false
            each(e, !unsigned || signUnsigned)
            if unsigned {
                guard signUnsigned else {
                    summary.unsigned += 1
                    progress(summary)
                    return
                }
                signWith = messageKey
            }
            if dryRun {
                progress(summary)
                return
            }
            if let rate, rate > 0 {
                let due = start + .milliseconds(Int64(Double(summary.matched - 1) * 1000 / rate))
                let wait = due - ContinuousClock.now
                if wait > .zero { LoopThread.sleep(seconds: Double(wait.totalMilliseconds) / 1000) }
            }
            let key = toQueue ?? Self.originalKey(e, names: names)
            let result = try pub.publishAndConfirm([
                OutgoingMessage(
                    exchange: names.jobsExchange, routingKey: key,
                    message: Self.replayMessage(e.message, signWith: signWith))
            ])
            if result.first == .confirmed {
                try ch.ack(d.deliveryTag)
                summary.replayed += 1
            } else {
                summary.failed += 1  // left unacked: it stays in the dead queue
            }
            progress(summary)
        }
        return summary
    }

    /// Deletes the selected dead letters (acks them); the rest stay.
    public func purge(_ filter: Filter, shouldStop: () -> Bool = { false }) throws -> Summary {
        let ch = try connection.openChannel()
        defer { Self.giveBack(ch) }
        var summary = Summary()
        try Self.walk(ch, queue: names.deadQueue, filter, stop: shouldStop, skipped: { summary.skipped += 1 }) { d, _ in
            try ch.ack(d.deliveryTag)
            summary.purged += 1
        }
        return summary
    }

    /// Takes the dead letters one by one, oldest first, and hands each one `filter` matches to `body`
    /// (the others to `skipped`), until `stop` says so or every one the queue counted at the start was
    /// taken. Whatever is not acked goes back when the caller gives the channel back.
    ///
    /// Selected by id (`cronq dead show`, a replay or purge of chosen ids from the dashboard), it goes on
    /// past that count until it has every id asked for or the queue stays empty: a dead letter another
    /// reader has just given back is not counted until the queue has requeued it, and "not found" right
    /// after the list page showed it is wrong. A wrong id costs that wait (2 s, ``nextDelivery(_:queue:)``).
    static func walk(
        _ ch: AMQPChannel, queue: String, _ filter: Filter, stop: () -> Bool, skipped: () -> Void = {},
        _ body: (AMQPDelivery, Entry) throws -> Void
    ) throws {
        let total = try ch.inspectQueue(queue).messageCount
        var taken = 0
        var matched = 0
        while !stop() && (taken < total || (!filter.ids.isEmpty && matched < filter.ids.count)) {
            guard let d = try nextDelivery(ch, queue: queue) else { return }
            taken += 1
            let e = Entry(d)
            guard filter.matches(e) else {
                skipped()
                continue
            }
            matched += 1
            try body(d, e)
        }
    }

    /// The next dead letter. The queue can look empty before `total` were taken because another reader
    /// (a `cronq dead list`, a dashboard page) holds some unacknowledged for a moment while it walks the
    /// queue, or has just given them back and the queue is still requeueing them: a list, replay or purge
    /// waits up to 2 s for them rather than stopping early (a dashboard dry run right after the dead-letter
    /// page once counted 0 of 3 that way).
    static func nextDelivery(_ ch: AMQPChannel, queue: String) throws -> AMQPDelivery? {
        for attempt in 0..<20 {
            if let d = try ch.get(queue: queue) { return d }
            if attempt < 19 { LoopThread.sleep(seconds: 0.1) }
        }
        return nil
    }

    /// Returns every dead letter taken and not acted on, in order, then closes the channel. A `basic.nack`
    /// with requeue is not a failed delivery from RabbitMQ 4.3 on, where closing the channel with messages
    /// unacked is: so reading the dead letters never uses up their delivery limit there (4.0-4.2 count every
    /// return; the README says how to lift the limit on those).
    static func giveBack(_ ch: AMQPChannel) {
        try? ch.nack(0, multiple: true, requeue: true)
        ch.close()
    }

    /// The work queue a dead letter came from, as a routing key on `cronq.jobs`.
    static func originalKey(_ e: Entry, names: Topology.Names) -> String {
        let workPrefix = names.jobsExchange + "."
        if e.queue.hasPrefix(workPrefix) { return String(e.queue.dropFirst(workPrefix.count)) }
        return e.routingKey
    }

    /// The replay of a dead letter: same body and id, fresh counters.
    public static func replayMessage(_ original: AMQPMessage, signWith key: Secret? = nil) -> AMQPMessage {
        var m = AMQPMessage(body: original.body, properties: Republish.carried(original.properties))
        if m.properties.messageID == nil, let job = try? JobMessage.parse(original.body) {
            m.properties.messageID = job.messageID
        }
        var h = m.properties.headers ?? AMQPTable()
        let replayed = (h[JobMessageProperties.replayedHeader]?.intValue ?? 0) + 1
        h.removeAll { $0.hasPrefix("cronq-dead-") }
        for k in [
            JobMessageProperties.attemptHeader, JobMessageProperties.firstAttemptAtHeader,
            JobMessageProperties.delayHeader, JobMessageProperties.queueHeader,
        ] {
            h[k] = nil
        }
        h[JobMessageProperties.replayedHeader] = .int32(Int32(clamping: replayed))
        m.properties.headers = h
        m.properties.appID = JobMessageProperties.appReplay
        m.properties.deliveryMode = 2
        m.properties.timestamp = UInt64(max(0, Date().timeIntervalSince1970))
        if let key { MessageSignature.apply(to: &m, key: key) }
        return m
    }
}
