/// Which request headers a job (its config or its message) may set.
///
/// Whoever may publish a job message, or edit one job of a shared config, must not be able to change
/// where the request goes or how it is framed: `Host` would carry the backend's token to another
/// virtual host of the same server, and `Content-Length` or `Transfer-Encoding` would let a planted
/// body end early, so that the next request on the kept-alive connection (with its `Authorization`)
/// lands in a body the attacker reads. Hop-by-hop headers are the connection's business, and the
/// headers cronq sets itself must say what cronq means (DESIGN.md "Message authentication and hostile input").
public enum HeaderPolicy {
    /// Refused by name, compared in lower case.
    static let refusedNames: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade", "expect",
        "authorization", "idempotency-key", "user-agent",
    ]
    /// Refused by prefix, compared in lower case.
    static let refusedPrefixes = ["proxy-", "x-cronq-", "webhook-"]

    /// Why `name: value` may not be sent as a job's header, or nil when it may. The text names the
    /// header (cut short) but never echoes its value.
    public static func problem(name: String, value: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 128, name.utf8.allSatisfy(isTokenByte) else {
            return "'\(Printable.escaped(String(name.prefix(40))))' is not a valid header name (RFC 9110 token)"
        }
        let lower = name.lowercased()
        if refusedNames.contains(lower) || refusedPrefixes.contains(where: { lower.hasPrefix($0) }) {
            return "'\(name)' is set by cronq or by the connection and may not be given by a job"
        }
        // Field values: visible characters, spaces and tabs; never a line break or NUL (RFC 9110 5.5).
        if value.utf8.count > 8192 { return "'\(name)' has a value longer than 8192 bytes" }
        if value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) {
            return "'\(name)' has a control character in its value"
        }
        return nil
    }

    /// `tchar` of RFC 9110: the bytes a header name is made of.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}
