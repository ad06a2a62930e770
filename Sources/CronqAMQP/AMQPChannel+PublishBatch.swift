/// One message to publish in a batch.
public struct OutgoingMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var message: AMQPMessage
    public var mandatory: Bool

    public init(exchange: String, routingKey: String, message: AMQPMessage, mandatory: Bool = true) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.message = message
        self.mandatory = mandatory
    }
}

extension AMQPChannel {
    /// Publishes `messages` pipelined on a confirm-mode channel and waits until the broker has settled
    /// every one, or `timeout` passes. Returns one outcome per message, in order; a message not
    /// settled in time is reported as `nil` (treat it as not published).
    ///
    /// Events that are not about these publishes (deliveries on other channels, blocked) are
    /// kept for the next ``AMQPConnection/nextEvent(timeout:)``.
    ///
    /// - Throws: ``AMQPError`` when the channel or connection dies; nothing of the batch may be
    ///   assumed published then.
    public func publishAndConfirm(_ messages: [OutgoingMessage], timeout: Duration = .seconds(30)) throws
        -> [PublishConfirms<Int>.Outcome?]
    {
        var confirms = PublishConfirms<Int>()
        var results = [PublishConfirms<Int>.Outcome?](repeating: nil, count: messages.count)
        var kept: [AMQPEvent] = []
        defer { connection.requeue(kept) }
        for (i, m) in messages.enumerated() {
            let seq = try publish(
                exchange: m.exchange, routingKey: m.routingKey, message: m.message, mandatory: m.mandatory)
            confirms.published(seq: seq, token: i)
        }
        let deadline = ContinuousClock.now + timeout
        while !confirms.isEmpty {
            let left = deadline - ContinuousClock.now
            if left <= .zero { break }
            guard let event = try connection.nextEvent(timeout: left) else { break }
            switch event {
            case .ack(let ch, _, _), .nack(let ch, _, _):
                guard ch == id else { kept.append(event); continue }
                for (token, outcome) in confirms.handle(event) { results[token] = outcome }
            case .returned(let r) where r.channel == id:
                _ = confirms.handle(event)
            case .channelClosed(let ch, let error) where ch == id:
                throw error
            default:
                kept.append(event)
            }
        }
        return results
    }
}

extension AMQPConnection {
    /// Puts events back in front of the queue, in order, for the next ``nextEvent(timeout:)``.
    func requeue(_ events: [AMQPEvent]) {
        guard !events.isEmpty else { return }
        let rest = Array(pendingEvents[pendingHead...])
        pendingEvents = events + rest
        pendingHead = 0
    }
}
