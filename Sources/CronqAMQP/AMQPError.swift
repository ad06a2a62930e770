/// The one error type of the AMQP layer.
///
/// `description` is short and safe to log: it never contains a password, a token or a message body.
/// Where the broker closed a channel or the connection, ``replyCode`` holds its AMQP reply code
/// (406 PRECONDITION_FAILED, 404 NOT_FOUND, 405 RESOURCE_LOCKED, 320 CONNECTION_FORCED, …) and
/// ``detail`` its reply text, which names the object and the argument that differs.
public struct AMQPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a closed set callers can switch on; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case invalidURL = "invalid AMQP URL"
            case connectFailed = "could not connect to the broker"
            case tls = "TLS setup failed"
            case loginRefused = "the broker refused the login"
            case connectionClosed = "the broker closed the connection"
            case channelClosed = "the broker closed the channel"
            case peerSilent = "the broker went silent (missed heartbeats)"
            case blocked = "the broker blocked publishing (resource alarm)"
            case socket = "socket error"
            case timeout = "timed out"
            case protocolError = "unexpected AMQP frame"
            case usage = "invalid use of the AMQP layer"
        }
        let base: Base
        public static let invalidURL = Code(base: .invalidURL)
        public static let connectFailed = Code(base: .connectFailed)
        public static let tls = Code(base: .tls)
        public static let loginRefused = Code(base: .loginRefused)
        public static let connectionClosed = Code(base: .connectionClosed)
        public static let channelClosed = Code(base: .channelClosed)
        public static let peerSilent = Code(base: .peerSilent)
        public static let blocked = Code(base: .blocked)
        public static let socket = Code(base: .socket)
        public static let timeout = Code(base: .timeout)
        public static let protocolError = Code(base: .protocolError)
        public static let usage = Code(base: .usage)
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The AMQP reply code when the broker closed the channel or connection.
    public let replyCode: UInt16?
    /// A short, secret-free explanation: the broker's reply text or the library's status text.
    public let detail: String

    public init(_ code: Code, replyCode: UInt16? = nil, detail: String) {
        self.code = code
        self.replyCode = replyCode
        self.detail = detail
    }

    /// True when the connection cannot be used any more and must be replaced.
    public var isConnectionFatal: Bool {
        switch code.base {
        case .channelClosed, .blocked, .usage, .invalidURL: return false
        default: return true
        }
    }

    public var description: String {
        if let replyCode { return "\(code) (\(replyCode)): \(detail)" }
        return "\(code): \(detail)"
    }
}
