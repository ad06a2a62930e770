/// One HTTP request, as the worker sends it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// Absolute `http://` or `https://` URL; no other scheme is accepted.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Limit for the whole transfer.
    public var timeout: Duration
    /// Limit for TCP connect plus TLS handshake.
    public var connectTimeout: Duration
    /// CA bundle that verifies the server; nil uses the system's. Verification is never off.
    public var caFile: String?
    /// The proxy to use: `""` for none (the default, whatever `http_proxy` or `https_proxy` say: a
    /// token must not take a detour the operator did not configure), or a proxy URL.
    public var proxy: String = ""
    /// How much of the response body to keep (the rest is counted, not stored).
    public var bodyLimit: Int = HTTPClient.bodyExcerptLimit

    public init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10), caFile: String? = nil,
        proxy: String = ""
    ) {
        self.proxy = proxy
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.caFile = caFile
    }
}

/// What came back. Only what cronq needs is kept: the status, `Retry-After`, and the first bytes of
/// the body (for a dead letter's error excerpt).
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// The raw `Retry-After` header value, if any (seconds or an HTTP-date).
    public var retryAfter: String?
    /// `Location`, for logging a redirect that was (deliberately) not followed.
    public var location: String?
    /// The first `bodyLimit` bytes of the body (``HTTPClient/bodyExcerptLimit`` by default).
    public var bodyExcerpt: [UInt8]
    /// Total body size received.
    public var bodyBytes: Int

    public init(
        status: Int, retryAfter: String? = nil, location: String? = nil, bodyExcerpt: [UInt8] = [], bodyBytes: Int = 0
    ) {
        self.status = status
        self.retryAfter = retryAfter
        self.location = location
        self.bodyExcerpt = bodyExcerpt
        self.bodyBytes = bodyBytes
    }
}

extension Duration {
    var milliseconds: Int {
        let c = components
        return Int(c.seconds) * 1000 + Int(c.attoseconds / 1_000_000_000_000_000)
    }
}
