/// Something the broker told us asynchronously, produced by the frame dispatcher
/// (``AMQPConnection/nextEvent(timeout:)``).
public enum AMQPEvent: Sendable {
    /// Publisher confirm: the broker took responsibility for `deliveryTag` (and all before it if `multiple`).
    case ack(channel: UInt16, deliveryTag: UInt64, multiple: Bool)
    /// Publisher confirm: the broker could not take the message(s).
    case nack(channel: UInt16, deliveryTag: UInt64, multiple: Bool)
    /// A mandatory publish was unroutable. Its ack follows; match the two by `message_id`.
    case returned(AMQPReturn)
    /// A consumed message.
    case delivery(AMQPDelivery)
    /// The broker closed a channel (we already answered close-ok); reopen a channel to go on.
    case channelClosed(channel: UInt16, error: AMQPError)
    /// The broker cancelled a consumer (queue deleted, or a quorum queue leader change).
    case consumerCancelled(channel: UInt16, consumerTag: String)
    /// A resource alarm: publishing is refused until ``unblocked``.
    case blocked(reason: String)
    case unblocked
}
