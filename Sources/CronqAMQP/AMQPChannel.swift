internal import CRabbitMQ

/// A channel on an ``AMQPConnection``. Like its connection it is confined to the thread that drives it.
///
/// Every method is synchronous: it sends one AMQP method and, for methods with a reply, waits for that
/// reply (rabbitmq-c queues any other frame that arrives meanwhile for ``AMQPConnection/nextEvent(timeout:)``).
/// A broker error closes the channel and throws ``AMQPError`` `.channelClosed` with the reply code;
/// open a new channel to go on — the connection stays usable.
public struct AMQPChannel {
    public let connection: AMQPConnection
    public let id: UInt16

    var state: amqp_connection_state_t { connection.state }

    /// The exchange kinds RabbitMQ knows without plugins.
    public enum ExchangeKind: String, Sendable {
        case direct, fanout, topic, headers
    }

    public func declareExchange(
        _ name: String, kind: ExchangeKind, durable: Bool = true, autoDelete: Bool = false,
        arguments: AMQPTable = AMQPTable()
    ) throws {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_exchange_declare(
            state, id, arena.bytes(name), arena.bytes(kind.rawValue), 0, durable ? 1 : 0, autoDelete ? 1 : 0, 0,
            arena.table(arguments))
        try connection.checkReply(channel: id)
    }

    /// Checks that an exchange exists (passive declare); a missing one throws 404 and closes the channel.
    public func checkExchange(_ name: String) throws {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_exchange_declare(state, id, arena.bytes(name), arena.bytes("direct"), 1, 0, 0, 0, amqp_empty_table)
        try connection.checkReply(channel: id)
    }

    /// What a queue declare reports.
    public struct QueueInfo: Sendable, Equatable {
        public var name: String
        public var messageCount: UInt32
        public var consumerCount: UInt32
    }

    /// Declares a queue. An empty name asks the broker for a server-named queue.
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = AMQPTable()
    ) throws -> QueueInfo {
        try connection.ensureOpen(id)
        let arena = CArena()
        let ok = amqp_queue_declare(
            state, id, arena.bytes(name), 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0,
            arena.table(arguments))
        try connection.checkReply(channel: id)
        guard let ok else { throw AMQPError(.protocolError, detail: "queue.declare-ok missing") }
        return QueueInfo(
            name: CDecode.string(ok.pointee.queue), messageCount: ok.pointee.message_count,
            consumerCount: ok.pointee.consumer_count)
    }

    /// Passive declare: the queue's ready-message and consumer counts. Exact even for quorum queues,
    /// unlike `rabbitmqctl list_queues` and the management API, which lag by seconds.
    /// A missing queue throws 404 NOT_FOUND and closes the channel.
    public func inspectQueue(_ name: String) throws -> QueueInfo {
        try connection.ensureOpen(id)
        let arena = CArena()
        let ok = amqp_queue_declare(state, id, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        try connection.checkReply(channel: id)
        guard let ok else { throw AMQPError(.protocolError, detail: "queue.declare-ok missing") }
        return QueueInfo(name: name, messageCount: ok.pointee.message_count, consumerCount: ok.pointee.consumer_count)
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = AMQPTable())
        throws
    {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_queue_bind(
            state, id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), arena.table(arguments))
        try connection.checkReply(channel: id)
    }

    /// Removes a binding (tests take a queue off its exchange to make publishes unroutable).
    public func unbindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = AMQPTable())
        throws
    {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_queue_unbind(
            state, id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), arena.table(arguments))
        try connection.checkReply(channel: id)
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) throws -> UInt32 {
        try connection.ensureOpen(id)
        let arena = CArena()
        let ok = amqp_queue_delete(state, id, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        try connection.checkReply(channel: id)
        return ok?.pointee.message_count ?? 0
    }

    public func deleteExchange(_ name: String) throws {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_exchange_delete(state, id, arena.bytes(name), 0)
        try connection.checkReply(channel: id)
    }

    /// Purges a queue's ready messages; returns how many were removed.
    @discardableResult
    public func purgeQueue(_ name: String) throws -> UInt32 {
        try connection.ensureOpen(id)
        let arena = CArena()
        let ok = amqp_queue_purge(state, id, arena.bytes(name))
        try connection.checkReply(channel: id)
        return ok?.pointee.message_count ?? 0
    }

    /// Closes the channel. Errors are ignored: the channel is gone either way.
    public func close() {
        guard connection.channels[id]?.isOpen == true, !connection.isDead else { return }
        connection.channels[id]?.isOpen = false
        _ = amqp_channel_close(state, id, Int32(AMQP_REPLY_SUCCESS))
    }

    public var isOpen: Bool { !connection.isDead && connection.channels[id]?.isOpen == true }
}
