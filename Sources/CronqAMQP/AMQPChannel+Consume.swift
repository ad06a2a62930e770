internal import CRabbitMQ

extension AMQPChannel {
    /// Sets how many unacknowledged deliveries the broker may push to this channel's consumers.
    public func setPrefetch(_ count: UInt16) throws {
        try connection.ensureOpen(id)
        amqp_basic_qos(state, id, 0, count, 0)
        try connection.checkReply(channel: id)
    }

    /// Starts a consumer. Deliveries arrive as ``AMQPEvent/delivery(_:)`` from
    /// ``AMQPConnection/nextEvent(timeout:)``; since the dispatcher is the only reader, no delivery can
    /// arrive before there is somewhere to put it. Returns the consumer tag.
    @discardableResult
    public func consume(
        queue: String, consumerTag: String = "", noAck: Bool = false, exclusive: Bool = false,
        arguments: AMQPTable = AMQPTable()
    ) throws -> String {
        try connection.ensureOpen(id)
        let arena = CArena()
        let ok = amqp_basic_consume(
            state, id, arena.bytes(queue), arena.bytes(consumerTag), 0, noAck ? 1 : 0, exclusive ? 1 : 0,
            arena.table(arguments))
        try connection.checkReply(channel: id)
        guard let ok else { throw AMQPError(.protocolError, detail: "basic.consume-ok missing") }
        return CDecode.string(ok.pointee.consumer_tag)
    }

    /// Cancels a consumer. Deliveries already on the wire still arrive as events afterwards.
    public func cancel(consumerTag: String) throws {
        try connection.ensureOpen(id)
        let arena = CArena()
        amqp_basic_cancel(state, id, arena.bytes(consumerTag))
        try connection.checkReply(channel: id)
    }

    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) throws {
        try connection.ensureOpen(id)
        let status = amqp_basic_ack(state, id, deliveryTag, multiple ? 1 : 0)
        if status != AMQP_STATUS_OK.rawValue { throw connection.fail(AMQPConnection.libraryError(status)) }
    }

    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws {
        try connection.ensureOpen(id)
        let status = amqp_basic_nack(state, id, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        if status != AMQP_STATUS_OK.rawValue { throw connection.fail(AMQPConnection.libraryError(status)) }
    }

    public func reject(_ deliveryTag: UInt64, requeue: Bool) throws {
        try connection.ensureOpen(id)
        let status = amqp_basic_reject(state, id, deliveryTag, requeue ? 1 : 0)
        if status != AMQP_STATUS_OK.rawValue { throw connection.fail(AMQPConnection.libraryError(status)) }
    }

    /// The message at the head of a queue, left there: `basic.get`, then `basic.nack` with requeue. A nack,
    /// not a reject: from RabbitMQ 4.3 a nack-requeue is not a failed delivery, so inspecting never uses up
    /// the queue's delivery limit (4.0-4.2 count every return: see the README's cluster notes). Nil when
    /// the queue is empty.
    public func peek(queue: String) throws -> AMQPMessage? {
        guard let d = try get(queue: queue) else { return nil }
        try nack(d.deliveryTag, requeue: true)
        return d.message
    }

    /// Fetches one message (`basic.get`); nil when the queue is empty. With `noAck: false` the message
    /// stays unacknowledged until ``ack(_:multiple:)``/``nack(_:multiple:requeue:)`` or the channel closes.
    public func get(queue: String, noAck: Bool = false) throws -> AMQPDelivery? {
        try connection.ensureOpen(id)
        let arena = CArena()
        let reply = amqp_basic_get(state, id, arena.bytes(queue), noAck ? 1 : 0)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            let error = AMQPConnection.error(from: reply, channel: id)
            if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD {
                connection.sendChannelCloseOk(id)
                throw error
            }
            if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD {
                connection.sendConnectionCloseOk()
            }
            throw connection.fail(error)
        }
        if reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD { return nil }
        guard reply.reply.id == AMQP_BASIC_GET_OK_METHOD, let decoded = reply.reply.decoded else {
            throw connection.fail(AMQPError(.protocolError, detail: "unexpected reply to basic.get"))
        }
        let ok = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let tag = ok.delivery_tag
        let redelivered = ok.redelivered != 0
        let exchange = CDecode.string(ok.exchange)
        let key = CDecode.string(ok.routing_key)
        let message = try connection.readContent(channel: id)
        return AMQPDelivery(
            channel: id, deliveryTag: tag, redelivered: redelivered, exchange: exchange, routingKey: key,
            consumerTag: nil, message: message)
    }
}
