/// The basic-class properties of a message (AMQP 0-9-1 `basic.properties`).
public struct AMQPProperties: Sendable, Equatable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable?
    /// 2 is persistent, 1 transient.
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    /// Seconds since the Unix epoch.
    public var timestamp: UInt64?
    public var type: String?
    public var userID: String?
    public var appID: String?
    /// Set on a received message whose headers nest tables or arrays deeper than
    /// ``maximumHeaderDepth``: the deeper values were not copied (each reads as `.void`).
    public var headersTooDeep = false

    /// Header tables and arrays nested deeper than this are not copied out of a received message:
    /// whoever publishes chooses the headers, and a few thousand nested tables would overflow a thread's
    /// stack in a recursive copy. cronq's own headers are flat; the broker's `x-death` is an array of
    /// tables (depth 2).
    public static let maximumHeaderDepth = 8

    /// Stamped by ``AMQPChannel/publish(exchange:routingKey:message:mandatory:)`` on every mandatory
    /// publish of a confirm channel: the publish's sequence number, which a `basic.return` is matched by
    /// (``PublishConfirms``). Unique to one publish, so a re-publish never carries it over.
    public static let publishIDHeader = "cronq-publish-id"

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable? = nil,
        deliveryMode: UInt8? = nil, priority: UInt8? = nil, correlationID: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageID: String? = nil, timestamp: UInt64? = nil, type: String? = nil,
        userID: String? = nil, appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    /// Removes every `x-*` header the broker added (`x-death`, `x-first-death-*`, `x-delivery-count`…).
    ///
    /// Every re-publish must do this: RabbitMQ 3.10 reads a re-published `x-death` for its dead-letter
    /// cycle detection and silently drops the message when it comes back to a queue it has visited.
    public mutating func stripBrokerHeaders() {
        guard var h = headers else { return }
        h.removeAll { $0.lowercased().hasPrefix("x-") }
        headers = h
    }
}

/// A message body with its properties.
public struct AMQPMessage: Sendable, Equatable {
    public var body: [UInt8]
    public var properties: AMQPProperties
    /// Set on a received message whose body exceeded the connection's `maximumBodyBytes`: its size.
    /// The body was not copied (``body`` is empty).
    public var droppedBodyBytes = 0

    public init(body: [UInt8], properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.properties = properties
    }
}

/// A message delivered by `basic.deliver` or `basic.get-ok`.
public struct AMQPDelivery: Sendable {
    public var channel: UInt16
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String?
    public var message: AMQPMessage

    public init(
        channel: UInt16, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String,
        consumerTag: String?, message: AMQPMessage
    ) {
        self.channel = channel
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.message = message
    }
}

/// A message the broker could not route and handed back (`basic.return`, mandatory publish).
public struct AMQPReturn: Sendable {
    public var channel: UInt16
    public var replyCode: UInt16
    public var replyText: String
    public var exchange: String
    public var routingKey: String
    public var message: AMQPMessage

    public init(
        channel: UInt16, replyCode: UInt16, replyText: String, exchange: String, routingKey: String,
        message: AMQPMessage
    ) {
        self.channel = channel
        self.replyCode = replyCode
        self.replyText = replyText
        self.exchange = exchange
        self.routingKey = routingKey
        self.message = message
    }
}
