import Foundation

/// Why a delivered message cannot be a job: it is dead-lettered with reason `malformed` and this text.
public struct MalformedMessage: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension JobMessage {
    /// The largest body a worker accepts; anything bigger is dead-lettered unread.
    public static let maxBodyBytes = 1 << 20

    /// Decodes and checks a delivered body against the contract.
    /// - Throws: ``MalformedMessage`` saying what is wrong (never echoing more than a short excerpt).
    public static func parse(_ body: [UInt8]) throws(MalformedMessage) -> JobMessage {
        guard body.count <= maxBodyBytes else { throw MalformedMessage("body is \(body.count) bytes, over the \(maxBodyBytes)-byte limit") }
        guard !body.isEmpty else { throw MalformedMessage("body is empty") }
        let m: JobMessage
        do {
            m = try JSONDecoder().decode(JobMessage.self, from: Data(body))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw MalformedMessage("missing field \((ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw MalformedMessage("wrong type for \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw MalformedMessage("null for \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw MalformedMessage("body is not valid JSON")
        }
        guard m.v == 1 else { throw MalformedMessage("unknown message version v=\(m.v) (this worker reads v=1)") }
        guard !m.job.isEmpty, m.job.count <= 64, m.job.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw MalformedMessage("job name '\(m.job.prefix(64))' is not [A-Za-z0-9_-]{1,64}")
        }
        if let why = pathProblem(m.request.path) { throw MalformedMessage("request.path \(why)") }
        guard ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m.request.method) else {
            throw MalformedMessage("request.method '\(m.request.method.prefix(16))' is not GET, POST, PUT, PATCH or DELETE")
        }
        guard m.request.timeoutMs > 0 else { throw MalformedMessage("request.timeout_ms must be positive") }
        guard m.retry.maxAttempts >= 1 else { throw MalformedMessage("retry.max_attempts must be at least 1") }
        guard !m.retry.backoff.isEmpty, m.retry.backoff.allSatisfy({ DurationText.parse($0) != nil }) else {
            throw MalformedMessage("retry.backoff must list tiers such as \"10s\", \"1m\"")
        }
        guard Timestamp.parse(m.scheduledAt) != nil else { throw MalformedMessage("scheduled_at '\(m.scheduledAt.prefix(40))' is not an ISO 8601 instant") }
        for (k, v) in m.request.headers where k.isEmpty || k.utf8.contains(where: { $0 <= 32 || $0 == UInt8(ascii: ":") }) || v.utf8.contains(where: { $0 == 10 || $0 == 13 }) {
            throw MalformedMessage("request.headers has an invalid header '\(k.prefix(40))'")
        }
        for k in m.request.headers.keys where k.lowercased() == "authorization" {
            throw MalformedMessage("request.headers must not set Authorization")
        }
        return m
    }
}
