/// Tracks pipelined publishes on one confirm-mode channel until the broker settles each of them.
///
/// Pure bookkeeping, no I/O: feed it the sequence numbers you published and the confirm events you
/// read, and it tells you which publishes are settled and how. A `basic.return` carries no sequence
/// number, so ``AMQPChannel/publish(exchange:routingKey:message:mandatory:)`` stamps every confirmed
/// publish with its own in the `cronq-publish-id` header (``AMQPProperties/publishIDHeader``), and a return is matched
/// by that: never by `message_id`, which two publishes in flight can share (a double fire, two triggers
/// in the same second) and a foreign message can lack. The return is reported as a failure when its ack
/// arrives (with `mandatory`, RabbitMQ sends the return before the ack).
public struct PublishConfirms<Token> {
    /// How one publish ended.
    public enum Outcome: Sendable, Equatable {
        /// The broker has the message (persisted, for persistent messages to durable queues).
        case confirmed
        /// The broker refused it (`basic.nack`).
        case nacked
        /// No queue matched its routing key (`basic.return`), with the broker's reply text.
        case returned(replyCode: UInt16, replyText: String)
    }

    private var pending: [UInt64: Token] = [:]
    private var returned: [UInt64: (UInt16, String)] = [:]

    public init() {}

    public var inFlight: Int { pending.count }
    public var isEmpty: Bool { pending.isEmpty }

    /// Records a publish by its sequence number on the channel.
    public mutating func published(seq: UInt64, token: Token) {
        pending[seq] = token
    }

    /// Feeds one event; returns the publishes it settled, oldest first.
    public mutating func handle(_ event: AMQPEvent) -> [(token: Token, outcome: Outcome)] {
        switch event {
        case .returned(let r):
            // A return without our header (or naming nothing pending) cannot be matched; its publish
            // then settles as its ack says. cronq stamps every mandatory publish, so this is a foreign one.
            if let text = r.message.properties.headers?[AMQPProperties.publishIDHeader]?.stringValue,
                let seq = UInt64(text),
                pending[seq] != nil
            {
                returned[seq] = (r.replyCode, r.replyText)
            }
            return []
        case .ack(_, let tag, let multiple):
            return settle(tag, multiple: multiple, nacked: false)
        case .nack(_, let tag, let multiple):
            return settle(tag, multiple: multiple, nacked: true)
        default:
            return []
        }
    }

    /// Gives up on everything still pending (the channel or connection died): all of it failed.
    public mutating func abandonAll() -> [Token] {
        let tokens = pending.sorted { $0.key < $1.key }.map(\.value)
        pending.removeAll()
        returned.removeAll()
        return tokens
    }

    private mutating func settle(_ tag: UInt64, multiple: Bool, nacked: Bool) -> [(token: Token, outcome: Outcome)] {
        let seqs = multiple ? pending.keys.filter { $0 <= tag }.sorted() : (pending[tag] == nil ? [] : [tag])
        var settled: [(token: Token, outcome: Outcome)] = []
        settled.reserveCapacity(seqs.count)
        for seq in seqs {
            guard let token = pending.removeValue(forKey: seq) else { continue }
            var outcome: Outcome = nacked ? .nacked : .confirmed
            if let r = returned.removeValue(forKey: seq) { outcome = .returned(replyCode: r.0, replyText: r.1) }
            settled.append((token, outcome))
        }
        return settled
    }
}
