/// Why a delivered message cannot be a job: it is dead-lettered with reason `malformed` and this text.
public struct MalformedMessage: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension JobMessage {
    /// The largest body a worker accepts; anything bigger is dead-lettered unread.
    public static let maxBodyBytes = 1 << 20

    /// `[A-Za-z0-9_-]`, checked on bytes: the worker does it for every job.
    static func isJobNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    /// Decodes and checks a delivered body against the contract.
    /// - Throws: ``MalformedMessage`` saying what is wrong (never echoing more than a short excerpt).
    public static func parse(_ body: [UInt8]) throws(MalformedMessage) -> JobMessage {
        guard body.count <= maxBodyBytes else {
            throw MalformedMessage("body is \(body.count) bytes, over the \(maxBodyBytes)-byte limit")
        }
        guard !body.isEmpty else { throw MalformedMessage("body is empty") }
        let m: JobMessage
        do {
            m = try decodeFields(body) ?? JobMessage(json: JSONReader.parse(body))
        } catch let e as JSONReader.SyntaxError {
            throw MalformedMessage("body is not valid JSON (\(e))")
        } catch let e as MalformedMessage {
            throw e
        } catch {
            throw MalformedMessage("body is not valid JSON")
        }
        guard !m.job.isEmpty, m.job.utf8.count <= 64, m.job.utf8.allSatisfy(Self.isJobNameByte) else {
            throw MalformedMessage("job name '\(m.job.prefix(64))' is not [A-Za-z0-9_-]{1,64}")
        }
        if let why = pathProblem(m.request.path) { throw MalformedMessage("request.path \(why)") }
        guard ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m.request.method) else {
            throw MalformedMessage(
                "request.method '\(m.request.method.prefix(16))' is not GET, POST, PUT, PATCH or DELETE")
        }
        guard m.request.timeoutMs > 0 else { throw MalformedMessage("request.timeout_ms must be positive") }
        guard m.retry.maxAttempts >= 1 else { throw MalformedMessage("retry.max_attempts must be at least 1") }
        guard !m.retry.backoff.isEmpty, m.retry.backoff.allSatisfy({ DurationText.parse($0) != nil }) else {
            throw MalformedMessage("retry.backoff must list tiers such as \"10s\", \"1m\"")
        }
        guard Timestamp.parse(m.scheduledAt) != nil else {
            throw MalformedMessage("scheduled_at '\(m.scheduledAt.prefix(40))' is not an ISO 8601 instant")
        }
        for (k, v) in m.request.headers {
            if let why = HeaderPolicy.problem(name: k, value: v) { throw MalformedMessage("request.headers: \(why)") }
        }
        return m
    }
}

extension JobMessage {
    /// Maps a parsed body onto the contract's fields, naming the first field that is missing or wrong.
    package init(json: JSONValue) throws(MalformedMessage) {
        let root = try JSONObject(json, path: "")
        // The version first: a future format may differ in every other field.
        let version = try root.int("v")
        guard version == 1 else {
            throw MalformedMessage("unknown message version v=\(version) (this worker reads v=1)")
        }
        // In the contract's order, so the first problem named is the first one a reader would see.
        let job = try root.string("job")
        let scheduledAt = try root.string("scheduled_at")
        let backend = try root.string("backend")
        let request = try root.object("request")
        let req = Request(
            method: try request.string("method"), path: try request.string("path"),
            headers: try request.stringMap("headers"),
            body: try request.optionalString("body"), timeoutMs: try request.int("timeout_ms"))
        let retry = try root.object("retry")
        let policy = Retry(
            maxAttempts: try retry.int("max_attempts"), backoff: try retry.stringArray("backoff"),
            maxDurationS: try retry.int("max_duration_s"))
        self.init(job: job, scheduledAt: scheduledAt, backend: backend, request: req, retry: policy)
    }
}

/// One JSON object of a job message, with the path to it for error messages (`request.path`).
private struct JSONObject {
    let members: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws(MalformedMessage) {
        guard case .object(let m) = value else {
            throw MalformedMessage(
                path.isEmpty ? "body is not a JSON object" : "wrong type for \(path) (expected an object)")
        }
        members = m
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func required(_ key: String) throws(MalformedMessage) -> JSONValue {
        guard let v = members[key] else { throw MalformedMessage("missing field \(name(key))") }
        if case .null = v { throw MalformedMessage("null for \(name(key))") }
        return v
    }

    func object(_ key: String) throws(MalformedMessage) -> JSONObject {
        try JSONObject(required(key), path: name(key))
    }

    func string(_ key: String) throws(MalformedMessage) -> String {
        guard case .string(let s) = try required(key) else {
            throw MalformedMessage("wrong type for \(name(key)) (expected a string)")
        }
        return s
    }

    func optionalString(_ key: String) throws(MalformedMessage) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw MalformedMessage("wrong type for \(name(key)) (expected a string or null)")
        }
    }

    func int(_ key: String) throws(MalformedMessage) -> Int {
        switch try required(key) {
        case .int(let n): return n
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: throw MalformedMessage("wrong type for \(name(key)) (expected an integer)")
        }
    }

    func stringArray(_ key: String) throws(MalformedMessage) -> [String] {
        guard case .array(let items) = try required(key) else {
            throw MalformedMessage("wrong type for \(name(key)) (expected an array)")
        }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else {
                throw MalformedMessage("wrong type for \(name(key)) (expected strings)")
            }
            out.append(s)
        }
        return out
    }

    func stringMap(_ key: String) throws(MalformedMessage) -> [String: String] {
        let o = try object(key)
        var out: [String: String] = [:]
        out.reserveCapacity(o.members.count)
        for (k, v) in o.members {
            guard case .string(let s) = v else {
                throw MalformedMessage("wrong type for \(name(key)).\(k.prefix(40)) (expected a string)")
            }
            out[k] = s
        }
        return out
    }
}
