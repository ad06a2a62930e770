/// Tracks pipelined publishes on one confirm-mode channel until the broker settles each of them.
///
/// Pure bookkeeping, no I/O: feed it the sequence numbers you published and the confirm events you
/// read, and it tells you which publishes are settled and how. A `basic.return` carries no sequence
/// number, so returns are matched by `message_id` and reported as failures when their ack arrives
/// (with `mandatory`, RabbitMQ sends the return before the ack).
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

    private struct Pending {
        var token: Token
        var messageID: String?
    }

    private var pending: [UInt64: Pending] = [:]
    private var returnedIDs: [String: (UInt16, String)] = [:]

    public init() {}

    public var inFlight: Int { pending.count }
    public var isEmpty: Bool { pending.isEmpty }

    /// Records a publish. `messageID` must be set for returns to be matched.
    public mutating func published(seq: UInt64, messageID: String?, token: Token) {
        pending[seq] = Pending(token: token, messageID: messageID)
    }

    /// Feeds one event; returns the publishes it settled, oldest first.
    public mutating func handle(_ event: AMQPEvent) -> [(token: Token, outcome: Outcome)] {
        switch event {
        case .returned(let r):
            if let id = r.message.properties.messageID { returnedIDs[id] = (r.replyCode, r.replyText) }
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
        let tokens = pending.sorted { $0.key < $1.key }.map(\.value.token)
        pending.removeAll()
        returnedIDs.removeAll()
        return tokens
    }

    private mutating func settle(_ tag: UInt64, multiple: Bool, nacked: Bool) -> [(token: Token, outcome: Outcome)] {
        let seqs = multiple ? pending.keys.filter { $0 <= tag }.sorted() : (pending[tag] == nil ? [] : [tag])
        var settled: [(token: Token, outcome: Outcome)] = []
        settled.reserveCapacity(seqs.count)
        for seq in seqs {
            guard let p = pending.removeValue(forKey: seq) else { continue }
            var outcome: Outcome = nacked ? .nacked : .confirmed
            if let id = p.messageID, let r = returnedIDs.removeValue(forKey: id) {
                outcome = .returned(replyCode: r.0, replyText: r.1)
            }
            settled.append((p.token, outcome))
        }
        return settled
    }
}
