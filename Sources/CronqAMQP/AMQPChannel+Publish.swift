internal import CRabbitMQ

extension AMQPChannel {
    /// Puts the channel in publisher-confirm mode. From then on every publish gets a sequence number
    /// (returned by ``publish(exchange:routingKey:message:mandatory:)``), and the broker answers with
    /// ``AMQPEvent/ack(channel:deliveryTag:multiple:)`` or `nack` carrying that number.
    public func enableConfirms() throws {
        try connection.ensureOpen(id)
        amqp_confirm_select(state, id)
        try connection.checkReply(channel: id)
        connection.channels[id]?.confirmMode = true
        connection.channels[id]?.nextPublishSeqNo = 1
    }

    /// Publishes one message without waiting. In confirm mode, returns its sequence number; track it
    /// with ``PublishConfirms``. Returns 0 when the channel is not in confirm mode.
    ///
    /// - Throws: `.blocked` while the broker has blocked publishing (resource alarm); `.peerSilent` when
    ///   the broker has stopped reading; `.connectionClosed`/`.socket` when the connection died.
    @discardableResult
    public func publish(exchange: String, routingKey: String, message: AMQPMessage, mandatory: Bool = true) throws
        -> UInt64
    {
        try connection.ensureOpen(id)
        try connection.pumpIfDue()
        try connection.ensureOpen(id)
        if connection.isBlocked {
            throw AMQPError(.blocked, detail: "the broker blocked publishing; waiting for it to unblock")
        }
        try connection.ensureSendRoom(for: message.body.count + 512)
        let seq = connection.channels[id]?.confirmMode == true ? connection.channels[id]!.nextPublishSeqNo : 0
        var properties = message.properties
        if seq > 0 && mandatory {
            // What a `basic.return` is matched by (see ``PublishConfirms``); replaces any value a
            // re-published message brought along.
            var h = properties.headers ?? AMQPTable()
            h[AMQPProperties.publishIDHeader] = .string(String(seq))
            properties.headers = h
        }
        let arena = CArena()
        var props = arena.properties(properties)
        let status = message.body.withUnsafeBufferPointer { body in
            amqp_basic_publish(
                state, id, arena.bytes(exchange), arena.bytes(routingKey), mandatory ? 1 : 0, 0, &props,
                amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
        }
        if status != AMQP_STATUS_OK.rawValue {
            throw connection.fail(AMQPConnection.libraryError(status))
        }
        guard seq > 0 else { return 0 }
        connection.channels[id]!.nextPublishSeqNo += 1
        return seq
    }
}
