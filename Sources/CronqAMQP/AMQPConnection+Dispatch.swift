internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The frame dispatcher. rabbitmq-c 0.11 has no confirm or consume loop of its own that handles
/// every asynchronous method, so this is the one place that reads method frames and turns them into
/// ``AMQPEvent``s: confirms, returns, deliveries, channel and connection closes, blocked/unblocked.
extension AMQPConnection {
    /// Returns the next asynchronous event, waiting up to `timeout` (nil waits until one arrives,
    /// while still servicing heartbeats). Returns nil on timeout.
    ///
    /// - Throws: ``AMQPError`` when the connection dies (broker closed it, socket error, two missed
    ///   heartbeats). The connection is then unusable.
    public func nextEvent(timeout: Duration?) throws -> AMQPEvent? {
        if let event = takePending() { return event }
        guard let timeout else {
            while true {
                if let event = try readEvent(timeout: .seconds(1)) { return event }
            }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            if let event = try readEvent(timeout: max(left, .zero)) { return event }
            if ContinuousClock.now >= deadline { return nil }
        }
    }

    func takePending() -> AMQPEvent? {
        guard pendingHead < pendingEvents.count else { return nil }
        let event = pendingEvents[pendingHead]
        pendingHead += 1
        if pendingHead == pendingEvents.count {
            pendingEvents.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        return event
    }

    /// Reads frames until one of them is an event, or the timeout passes (returns nil).
    func readEvent(timeout: Duration) throws -> AMQPEvent? {
        try ensureAlive()
        let deadline = ContinuousClock.now + timeout
        while true {
            var frame = amqp_frame_t()
            let left = max(deadline - ContinuousClock.now, .zero)
            let (seconds, attoseconds) = left.components
            var tv = timeval(tv_sec: Int(seconds), tv_usec: suseconds_t(attoseconds / 1_000_000_000_000))
            let status = amqp_simple_wait_frame_noblock(state, &frame, &tv)
            if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            if status != AMQP_STATUS_OK.rawValue { throw fail(Self.libraryError(status)) }
            defer { amqp_maybe_release_buffers(state) }
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { continue }
            if let event = try dispatch(method: frame.payload.method, channel: frame.channel) { return event }
            if ContinuousClock.now >= deadline { return nil }
        }
    }

    private func dispatch(method: amqp_method_t, channel: UInt16) throws -> AMQPEvent? {
        switch method.id {
        case AMQP_BASIC_ACK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(channel: channel, deliveryTag: m.delivery_tag, multiple: m.multiple != 0)
        case AMQP_BASIC_NACK_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(channel: channel, deliveryTag: m.delivery_tag, multiple: m.multiple != 0)
        case AMQP_BASIC_RETURN_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let header = (
                code: m.reply_code, text: CDecode.string(m.reply_text), exchange: CDecode.string(m.exchange),
                key: CDecode.string(m.routing_key)
            )
            let message = try readContent(channel: channel)
            return .returned(
                AMQPReturn(
                    channel: channel, replyCode: header.code, replyText: header.text, exchange: header.exchange,
                    routingKey: header.key, message: message))
        case AMQP_BASIC_DELIVER_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = m.delivery_tag
            let redelivered = m.redelivered != 0
            let exchange = CDecode.string(m.exchange)
            let key = CDecode.string(m.routing_key)
            let consumerTag = CDecode.string(m.consumer_tag)
            let message = try readContent(channel: channel)
            return .delivery(
                AMQPDelivery(
                    channel: channel, deliveryTag: tag, redelivered: redelivered, exchange: exchange,
                    routingKey: key, consumerTag: consumerTag, message: message))
        case AMQP_CHANNEL_CLOSE_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = AMQPError(.channelClosed, replyCode: m.reply_code, detail: CDecode.string(m.reply_text))
            sendChannelCloseOk(channel)
            return .channelClosed(channel: channel, error: error)
        case AMQP_CONNECTION_CLOSE_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let error = AMQPError(.connectionClosed, replyCode: m.reply_code, detail: CDecode.string(m.reply_text))
            sendConnectionCloseOk()
            throw error
        case AMQP_CONNECTION_BLOCKED_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            isBlocked = true
            return .blocked(reason: CDecode.string(m.reason))
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            isBlocked = false
            return .unblocked
        case AMQP_BASIC_CANCEL_METHOD:
            let m = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            return .consumerCancelled(channel: channel, consumerTag: CDecode.string(m.consumer_tag))
        default:
            return nil
        }
    }

    /// Reads the header and body frames that follow a deliver/return/get-ok method.
    func readContent(channel: UInt16) throws -> AMQPMessage {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw fail(Self.error(from: reply, channel: channel))
        }
        defer { amqp_destroy_message(&message) }
        if message.body.len > maximumBodyBytes {
            var m = AMQPMessage(body: [], properties: CDecode.properties(message.properties))
            m.droppedBodyBytes = message.body.len
            return m
        }
        return CDecode.message(message)
    }
}
