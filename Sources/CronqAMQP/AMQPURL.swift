/// A parsed `amqp://` or `amqps://` URL.
///
/// Follows the RabbitMQ URI spec: `amqp[s]://user:password@host:port/vhost?heartbeat=10&connection_timeout=5000`.
/// The vhost is percent-decoded (`%2F` is `/`); an absent path means the default vhost `/`.
/// `description` hides the password so the URL can be logged.
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var tls: Bool
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var vhost: String
    /// Heartbeat interval in seconds; 0 turns heartbeats off (not recommended).
    public var heartbeatSeconds: Int
    /// How long the TCP connect and AMQP handshake may take, in milliseconds.
    public var connectionTimeoutMilliseconds: Int
    /// CA bundle to verify the broker's certificate with (`amqps` only); nil uses the system bundle.
    public var caFile: String?

    public static let defaultHeartbeatSeconds = 10

    /// - Throws: ``AMQPError`` with code `.invalidURL`, naming the part that is wrong (never the password).
    public init(_ string: String) throws {
        func bad(_ why: String) -> AMQPError { AMQPError(.invalidURL, detail: why) }
        var rest: Substring
        if string.hasPrefix("amqp://") {
            tls = false
            rest = string.dropFirst("amqp://".count)
        } else if string.hasPrefix("amqps://") {
            tls = true
            rest = string.dropFirst("amqps://".count)
        } else {
            throw bad("the scheme must be amqp:// or amqps://")
        }
        // The user information first, up to the last `@`: a password with an unescaped `/`, `?` or `#`
        // must neither be taken for a vhost or a query nor appear in an error message (they are logged
        // on every reconnect). Nothing after the `@` can hold one.
        var userinfo: Substring? = nil
        if let at = rest.lastIndex(of: "@") {
            userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        user = "guest"
        password = "guest"
        if let userinfo {
            if let colon = userinfo.firstIndex(of: ":") {
                guard let u = Self.percentDecode(userinfo[..<colon]),
                    let p = Self.percentDecode(userinfo[userinfo.index(after: colon)...])
                else { throw bad("the user or password has a bad percent-escape") }
                user = u
                password = p
            } else {
                guard let u = Self.percentDecode(userinfo) else { throw bad("the user has a bad percent-escape") }
                user = u
            }
        }
        port = tls ? 5671 : 5672
        var hostPart = rest
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw bad("unclosed [ in the IPv6 host") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            hostPart = hostPart[hostPart.index(after: close)...]
            if !hostPart.isEmpty {
                guard hostPart.hasPrefix(":") else { throw bad("unexpected text after the IPv6 host") }
                port = try Self.parsePort(hostPart.dropFirst())
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            port = try Self.parsePort(hostPart[hostPart.index(after: colon)...])
        } else {
            host = String(hostPart)
        }
        if host.isEmpty { host = "localhost" }
        if let path {
            guard !path.contains("/") else { throw bad("the vhost must be one path segment; write / as %2F") }
            guard let v = Self.percentDecode(path) else { throw bad("the vhost has a bad percent-escape") }
            vhost = path.isEmpty ? "/" : v
        } else {
            vhost = "/"
        }
        heartbeatSeconds = Self.defaultHeartbeatSeconds
        connectionTimeoutMilliseconds = 10_000
        caFile = nil
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let key = String(kv[0])
            let value = kv.count > 1 ? Self.percentDecode(kv[1]) ?? "" : ""
            switch key {
            case "heartbeat":
                guard let h = Int(value), h >= 0, h <= 65535 else {
                    throw bad("heartbeat must be a whole number of seconds 0-65535, got '\(value)'")
                }
                heartbeatSeconds = h
            case "connection_timeout":
                guard let t = Int(value), t > 0 else {
                    throw bad("connection_timeout must be a positive number of milliseconds, got '\(value)'")
                }
                connectionTimeoutMilliseconds = t
            case "cacertfile":
                caFile = value
            default:
                throw bad("unknown query key '\(key)' (known: heartbeat, connection_timeout, cacertfile)")
            }
        }
    }

    private static func parsePort(_ s: Substring) throws -> Int {
        guard let p = Int(s), p > 0, p < 65536 else {
            throw AMQPError(.invalidURL, detail: "port must be 1-65535, got '\(s)'")
        }
        return p
    }

    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    return nil
                }
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The URL with the password replaced by `***`, safe for logs.
    public var description: String {
        let vh = vhost == "/" ? "%2F" : vhost
        return "\(tls ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vh)"
    }
}
