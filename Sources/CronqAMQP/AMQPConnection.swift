internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#endif

/// One AMQP 0-9-1 connection to RabbitMQ, over rabbitmq-c.
///
/// **Threading.** rabbitmq-c forbids using a connection from more than one thread, so this class is
/// deliberately not `Sendable`: the compiler refuses to share it between tasks or threads. Create it on
/// the thread that will drive it (a dedicated `Thread`, never Swift's cooperative pool: every call here
/// may block on the socket), and use it only there. Other threads talk to that thread through a
/// queue, as the runtime's services do.
///
/// **Liveness.** Heartbeats are serviced inside rabbitmq-c's calls only, so the owner must call
/// ``nextEvent(timeout:)`` (or ``pump()``) at least every heartbeat/2. A peer silent for two
/// heartbeats surfaces as `.peerSilent` from the next call. `amqp_basic_publish` has no timeout and
/// can block forever on a dead peer or a full send buffer: ``publish(on:exchange:routingKey:message:mandatory:)``
/// checks liveness and send-buffer room before writing, and refuses while the broker has blocked us.
///
/// **Errors.** Every failure is an ``AMQPError``. After an error with `isConnectionFatal`, the
/// connection is dead: drop it and make a new one (see ``ReconnectBackoff``).
public final class AMQPConnection {
    let state: amqp_connection_state_t
    public let url: AMQPURL
    private(set) var isDead = false
    /// The broker sent `connection.blocked` (a resource alarm) and has not unblocked yet.
    public internal(set) var isBlocked = false
    /// Bodies larger than this are not copied out of rabbitmq-c's buffers: the message arrives with an
    /// empty body and ``AMQPMessage/droppedBodyBytes`` set, for the caller to reject it (a worker
    /// accepts 1 MiB; a publisher could send up to the broker's `max_message_size`).
    public var maximumBodyBytes = Int.max
    var channels: [UInt16: ChannelState] = [:]
    private var nextChannelID: UInt16 = 1
    var pendingEvents: [AMQPEvent] = []
    var pendingHead = 0
    private var lastPump = ContinuousClock.now
    private let sendBufferSize: Int
    private var writesBatched = false
    /// What ``ensureSendRoom(for:)`` knows at most sits unsent in the socket.
    private var unsentUpperBound = Int.max / 2
    private var publishesSinceCheck = 0

    struct ChannelState {
        var isOpen = true
        var confirmMode = false
        var nextPublishSeqNo: UInt64 = 1
    }

    /// Connects, logs in and advertises the `connection.blocked`, `publisher_confirms` and
    /// `consumer_cancel_notify` capabilities.
    ///
    /// `name` is shown by the management UI and `rabbitmqctl list_connections` (client property
    /// `connection_name`), so operators can tell a ticker from a worker.
    ///
    /// - Throws: ``AMQPError`` `.connectFailed`, `.tls`, `.loginRefused` or `.timeout`.
    public init(url: AMQPURL, name: String = "cronq") throws {
        self.url = url
        guard let state = amqp_new_connection() else { preconditionFailure("amqp_new_connection returned NULL") }
        self.state = state
        var ok = false
        defer { if !ok { amqp_destroy_connection(state) } }

        let socket: OpaquePointer?
        if url.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.tls, detail: "could not create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, 1)
            amqp_ssl_socket_set_verify_hostname(socket, 1)
            let ca = url.caFile ?? "/etc/ssl/certs/ca-certificates.crt"
            let status = amqp_ssl_socket_set_cacert(socket, ca)
            if status != AMQP_STATUS_OK.rawValue {
                throw AMQPError(.tls, detail: "cannot load CA file \(ca): \(Self.statusText(status))")
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { preconditionFailure("amqp_tcp_socket_new returned NULL") }

        var timeout = timeval(
            tv_sec: url.connectionTimeoutMilliseconds / 1000,
            tv_usec: suseconds_t((url.connectionTimeoutMilliseconds % 1000) * 1000))
        _ = amqp_set_handshake_timeout(state, &timeout)
        var rpcTimeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)

        let openStatus = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &timeout)
        if openStatus != AMQP_STATUS_OK.rawValue {
            let code: AMQPError.Code =
                openStatus == AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue
                    || openStatus == AMQP_STATUS_SSL_ERROR.rawValue
                    || openStatus == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue
                    || openStatus == AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue
                ? .tls : .connectFailed
            throw AMQPError(code, detail: "\(url.host):\(url.port): \(Self.statusText(openStatus))")
        }

        let arena = CArena()
        var capabilities = AMQPTable()
        capabilities["connection.blocked"] = .bool(true)
        capabilities["publisher_confirms"] = .bool(true)
        capabilities["consumer_cancel_notify"] = .bool(true)
        capabilities["basic.nack"] = .bool(true)
        capabilities["authentication_failure_close"] = .bool(true)
        var clientProperties = AMQPTable()
        clientProperties["product"] = .string("cronq")
        clientProperties["connection_name"] = .string(name)
        clientProperties["capabilities"] = .table(capabilities)
        var props = arena.table(clientProperties)
        let reply = cronq_amqp_login_plain(
            state, url.vhost, 131_072, Int32(url.heartbeatSeconds), &props, url.user, url.password)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            var error = Self.error(from: reply, channel: 0)
            if error.replyCode == 403 || reply.library_error == AMQP_STATUS_CONNECTION_CLOSED.rawValue {
                error = AMQPError(
                    .loginRefused, replyCode: error.replyCode,
                    detail: "user '\(url.user)' on vhost '\(url.vhost)': \(error.detail)")
            }
            throw error
        }
        sendBufferSize = Int(cronq_socket_send_buffer_size(amqp_get_sockfd(state)))
        _ = cronq_socket_set_nodelay(amqp_get_sockfd(state))
        ok = true
    }

    deinit {
        if !isDead {
            _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        }
        amqp_destroy_connection(state)
    }

    /// The socket's file descriptor, for an event loop that waits on it (with `poll` or `curl_multi_poll`).
    /// Readable data may also already sit in rabbitmq-c's buffer: see ``hasBufferedInput``.
    public var fileDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Holds small writes back so that one turn of an event loop sends its acks and publishes in a few
    /// TCP segments instead of one each (TCP_CORK): fewer packets for the broker to read and fewer
    /// wake-ups. Turning it off sends what was held. A caller turns it off before it waits, and never
    /// leaves it on around a call that waits for a reply (``close()`` turns it off itself).
    public func batchWrites(_ on: Bool) {
        guard !isDead, on != writesBatched else { return }
        writesBatched = on
        _ = cronq_socket_set_cork(amqp_get_sockfd(state), on ? 1 : 0)
    }

    /// True when frames are already read and waiting, so a wait on the descriptor would be wrong.
    public var hasBufferedInput: Bool {
        pendingHead < pendingEvents.count || amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    /// Closes every channel and the connection politely. Safe to call twice; errors are swallowed
    /// because the connection is being abandoned either way.
    public func close() {
        guard !isDead else { return }
        if writesBatched { batchWrites(false) }
        isDead = true
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
    }

    /// Opens a new channel.
    /// - Throws: ``AMQPError`` when the connection is dead or the broker refuses.
    public func openChannel() throws -> AMQPChannel {
        try ensureAlive()
        var id = nextChannelID
        while channels[id]?.isOpen == true { id &+= 1; if id == 0 { id = 1 } }
        nextChannelID = id &+ 1 == 0 ? 1 : id &+ 1
        amqp_channel_open(state, id)
        try checkReply(channel: id)
        channels[id] = ChannelState()
        return AMQPChannel(connection: self, id: id)
    }

    func ensureAlive() throws {
        if isDead { throw AMQPError(.connectionClosed, detail: "the connection is closed") }
    }

    func ensureOpen(_ channel: UInt16) throws {
        try ensureAlive()
        guard channels[channel]?.isOpen == true else {
            throw AMQPError(.channelClosed, detail: "channel \(channel) is closed; open a new one")
        }
    }

    /// Marks the connection dead and returns the error to throw.
    func fail(_ error: AMQPError) -> AMQPError {
        if error.isConnectionFatal { isDead = true }
        return error
    }

    /// Checks the last synchronous reply; on a broker exception answers the close with close-ok.
    func checkReply(channel: UInt16) throws {
        let reply = amqp_get_rpc_reply(state)
        if reply.reply_type == AMQP_RESPONSE_NORMAL { return }
        let error = Self.error(from: reply, channel: channel)
        if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION {
            if reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD {
                sendChannelCloseOk(channel)
                throw error
            }
            if reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD {
                sendConnectionCloseOk()
            }
        }
        throw fail(error)
    }

    func sendChannelCloseOk(_ channel: UInt16) {
        channels[channel]?.isOpen = false
        var ok = amqp_channel_close_ok_t()
        _ = amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok)
    }

    func sendConnectionCloseOk() {
        var ok = amqp_connection_close_ok_t()
        _ = amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok)
        isDead = true
    }

    static func statusText(_ status: Int32) -> String {
        guard let s = amqp_error_string2(status) else { return "status \(status)" }
        return String(cString: s)
    }

    static func error(from reply: amqp_rpc_reply_t, channel: UInt16) -> AMQPError {
        switch reply.reply_type {
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return libraryError(reply.library_error)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD, let m = reply.reply.decoded {
                let close = m.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return AMQPError(.channelClosed, replyCode: close.reply_code, detail: CDecode.string(close.reply_text))
            }
            if reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD, let m = reply.reply.decoded {
                let close = m.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return AMQPError(
                    .connectionClosed, replyCode: close.reply_code, detail: CDecode.string(close.reply_text))
            }
            return AMQPError(.protocolError, detail: "unexpected method \(reply.reply.id) on channel \(channel)")
        default:
            return AMQPError(.protocolError, detail: "no reply from the broker")
        }
    }

    static func libraryError(_ status: Int32) -> AMQPError {
        let text = statusText(status)
        switch status {
        case AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue:
            return AMQPError(.peerSilent, detail: text)
        case AMQP_STATUS_TIMEOUT.rawValue:
            return AMQPError(.timeout, detail: text)
        case AMQP_STATUS_CONNECTION_CLOSED.rawValue, AMQP_STATUS_SOCKET_CLOSED.rawValue:
            return AMQPError(.connectionClosed, detail: text)
        default:
            return AMQPError(.socket, detail: text)
        }
    }

    /// Throws `.peerSilent` before a write that could block: when the send buffer is near full
    /// (the broker stopped reading) it services input for up to two heartbeats while waiting for room.
    ///
    /// The kernel is asked (an ioctl) every 64th publish, or sooner when the bytes published since it
    /// last answered could have filled half the room: unsent bytes only shrink on their own, so the
    /// last answer plus what was published since bounds them (acks are not counted, hence the margin
    /// and the periodic check). That saves a system call on almost every publish.
    func ensureSendRoom(for bytes: Int) throws {
        let fd = fileDescriptor
        guard sendBufferSize > 0 else { return }
        let limit = sendBufferSize / 2
        if unsentUpperBound + bytes < limit / 2 && publishesSinceCheck < 64 {
            unsentUpperBound += bytes
            publishesSinceCheck += 1
            return
        }
        publishesSinceCheck = 0
        let deadline = ContinuousClock.now + .seconds(max(url.heartbeatSeconds, 1) * 2)
        while true {
            let unsent = Int(cronq_socket_unsent_bytes(fd))
            if unsent < 0 || unsent + bytes < limit || bytes >= limit && unsent == 0 {
                unsentUpperBound = max(unsent, 0) + bytes
                return
            }
            if ContinuousClock.now >= deadline {
                throw fail(AMQPError(.peerSilent, detail: "the broker stopped reading (\(unsent) bytes unsent)"))
            }
            try pump(wait: .milliseconds(20))
        }
    }

    /// Reads whatever input is available (servicing heartbeats and queueing events) without blocking
    /// longer than `wait`. Call it in loops that only write, so heartbeats keep flowing both ways.
    public func pump(wait: Duration = .zero) throws {
        lastPump = ContinuousClock.now
        if let event = try readEvent(timeout: wait) { pendingEvents.append(event) }
        while amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 {
            guard let event = try readEvent(timeout: .zero) else { break }
            pendingEvents.append(event)
        }
    }

    /// Pumps input when it has not been done for a while; cheap enough for every publish.
    func pumpIfDue() throws {
        if ContinuousClock.now - lastPump > .milliseconds(100) { try pump() }
    }
}
