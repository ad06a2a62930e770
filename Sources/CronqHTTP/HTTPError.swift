/// A request that produced no HTTP response. `description` is safe to log and to put in a dead
/// letter: it never holds the URL's credentials, a header value or a body.
public struct HTTPError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case connectRefused = "connection refused"
            case dns = "host not found"
            case timeout = "timed out"
            case tls = "TLS failure"
            case reset = "connection reset"
            case invalidRequest = "invalid request"
            case transport = "transport error"
        }
        let base: Base
        public static let connectRefused = Code(base: .connectRefused)
        public static let dns = Code(base: .dns)
        public static let timeout = Code(base: .timeout)
        public static let tls = Code(base: .tls)
        public static let reset = Code(base: .reset)
        public static let invalidRequest = Code(base: .invalidRequest)
        public static let transport = Code(base: .transport)
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// libcurl's result code, when the error came from libcurl.
    public let curlCode: Int?
    /// libcurl's message for it (no URL, no headers).
    public let detail: String

    public init(_ code: Code, curlCode: Int? = nil, detail: String) {
        self.code = code
        self.curlCode = curlCode
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
