#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The body of a job message (DESIGN.md "Job message"): UTF-8 JSON, immutable across retries.
/// Any producer that writes this format (and the properties in ``JobMessageProperties``) can enqueue work.
public struct JobMessage: Codable, Sendable, Equatable {
    public var v: Int
    public var job: String
    /// `YYYY-MM-DDTHH:MM:SSZ` (or with `manual-` semantics for triggers: still an instant).
    public var scheduledAt: String
    public var backend: String
    public var request: Request
    public var retry: Retry

    public struct Request: Codable, Sendable, Equatable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: String?
        public var timeoutMs: Int

        enum CodingKeys: String, CodingKey {
            case method, path, headers, body
            case timeoutMs = "timeout_ms"
        }

        public init(method: String, path: String, headers: [String: String], body: String?, timeoutMs: Int) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
            self.timeoutMs = timeoutMs
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(method, forKey: .method)
            try c.encode(path, forKey: .path)
            try c.encode(headers, forKey: .headers)
            try c.encode(body, forKey: .body)  // explicit null, as in the contract
            try c.encode(timeoutMs, forKey: .timeoutMs)
        }
    }

    public struct Retry: Codable, Sendable, Equatable {
        public var maxAttempts: Int
        /// Tier names (`10s`, `1m`): each is a queue `cronq.retry.<tier>`.
        public var backoff: [String]
        public var maxDurationS: Int

        enum CodingKeys: String, CodingKey {
            case maxAttempts = "max_attempts"
            case backoff
            case maxDurationS = "max_duration_s"
        }

        public init(maxAttempts: Int, backoff: [String], maxDurationS: Int) {
            self.maxAttempts = maxAttempts
            self.backoff = backoff
            self.maxDurationS = maxDurationS
        }
    }

    enum CodingKeys: String, CodingKey {
        case v, job, backend, request, retry
        case scheduledAt = "scheduled_at"
    }

    public init(job: String, scheduledAt: String, backend: String, request: Request, retry: Retry) {
        self.v = 1
        self.job = job
        self.scheduledAt = scheduledAt
        self.backend = backend
        self.request = request
        self.retry = retry
    }

    /// The message for one fire of a configured job.
    public init(job: CronqConfig.Job, scheduledAt: Int64) {
        self.init(
            job: job.name, scheduledAt: Timestamp.iso(scheduledAt), backend: job.backend,
            request: Request(
                method: job.method, path: job.path, headers: job.headers, body: job.body,
                timeoutMs: Int((job.timeout ?? .seconds(30)).totalMilliseconds)),
            retry: Retry(
                maxAttempts: job.retry.maxAttempts, backoff: job.retry.backoff.map(DurationText.format),
                maxDurationS: Int(job.retry.maxDuration.totalSeconds)))
    }

    /// `<job>@<scheduled_at>`: deterministic, so a double fire is recognisable and the backend can
    /// drop the duplicate (it is the `Idempotency-Key`).
    public static func messageID(job: String, scheduledAt: String) -> String { "\(job)@\(scheduledAt)" }

    public var messageID: String { Self.messageID(job: job, scheduledAt: scheduledAt) }

    /// Canonical JSON: the field order of the contract, headers sorted by name, `/` unescaped.
    public func encoded() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{"); w.key("v"); w.int(v)
        w.raw(","); w.key("job"); w.string(job)
        w.raw(","); w.key("scheduled_at"); w.string(scheduledAt)
        w.raw(","); w.key("backend"); w.string(backend)
        w.raw(","); w.key("request"); w.raw("{")
        w.key("method"); w.string(request.method)
        w.raw(","); w.key("path"); w.string(request.path)
        w.raw(","); w.key("headers"); w.raw("{")
        for (i, (k, value)) in request.headers.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.key(k); w.string(value)
        }
        w.raw("}")
        w.raw(","); w.key("body"); w.optionalString(request.body)
        w.raw(","); w.key("timeout_ms"); w.int(request.timeoutMs)
        w.raw("}")
        w.raw(","); w.key("retry"); w.raw("{")
        w.key("max_attempts"); w.int(retry.maxAttempts)
        w.raw(","); w.key("backoff"); w.raw("[")
        for (i, t) in retry.backoff.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(t)
        }
        w.raw("]")
        w.raw(","); w.key("max_duration_s"); w.int(retry.maxDurationS)
        w.raw("}}")
        return w.bytes
    }

    /// Why a request path would be unsafe to append to a backend's URL, or nil when it is fine.
    /// The token is only ever sent to the configured backend's origin, so a path must not be able
    /// to change the host: no scheme, no `//` authority, no `@`, no `\`, no control characters.
    public static func pathProblem(_ path: String) -> String? {
        // One pass over the bytes (this runs for every job the worker takes), then the verdicts in
        // order of how clearly they name the problem.
        var backslash = false, atBeforeQuery = false, scheme = false, unsafeByte = false, inQuery = false
        var prev2: UInt8 = 0, prev1: UInt8 = 0
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "\\"): backslash = true
            case UInt8(ascii: "?"): inQuery = true
            case UInt8(ascii: "@") where !inQuery: atBeforeQuery = true
            case UInt8(ascii: "/") where prev1 == UInt8(ascii: "/") && prev2 == UInt8(ascii: ":"): scheme = true
            case 0..<0x21, 0x7F...: unsafeByte = true
            default: break
            }
            prev2 = prev1
            prev1 = b
        }
        guard path.utf8.first == UInt8(ascii: "/") else {
            return "'\(path.prefix(80))' must start with / (a path on the backend, not a URL)"
        }
        if path.utf8.dropFirst().first == UInt8(ascii: "/") {
            return "'\(path.prefix(80))' starts with // and would name another host"
        }
        if backslash { return "'\(path.prefix(80))' contains a backslash" }
        if atBeforeQuery { return "'\(path.prefix(80))' contains @ before the query" }
        if scheme { return "'\(path.prefix(80))' contains a URL scheme" }
        if unsafeByte {
            return "'\(path.prefix(80))' contains spaces, control or non-ASCII characters (percent-encode them)"
        }
        if path.utf8.count > 2048 { return "is longer than 2048 characters" }
        if let why = dotSegmentProblem(path) { return "'\(path.prefix(80))' \(why)" }
        return nil
    }

    /// Dot segments (`/./`, `/../`, a trailing `/..`) and the percent-encoded `.`, `/` and `\` that a
    /// server may decode into them: any of these in the path part could climb out of a `base_url`
    /// prefix (`https://host/app` + `/../admin`). The query is the backend's business and is not looked at.
    static func dotSegmentProblem(_ path: String) -> String? {
        // On the string's own bytes: splitting into segments allocated an array per job.
        var path = path
        return path.withUTF8 { bytes in
            let end = bytes.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? bytes.count
            var i = 0
            while i + 2 < end {
                if bytes[i] == UInt8(ascii: "%") {
                    let hi = bytes[i + 1], lo = bytes[i + 2] | 0x20  // lower-case the letter digit
                    if hi == UInt8(ascii: "2") && (lo == UInt8(ascii: "e") || lo == UInt8(ascii: "f"))
                        || hi == UInt8(ascii: "5") && lo == UInt8(ascii: "c")
                    {
                        return "contains an encoded '.', '/' or '\\' (%2e, %2f, %5c) in its path part"
                    }
                }
                i += 1
            }
            var start = 0
            for k in 0...end where k == end || bytes[k] == UInt8(ascii: "/") {
                let dots = k - start
                if (dots == 1 || dots == 2) && bytes[start] == UInt8(ascii: ".") && bytes[k - 1] == UInt8(ascii: ".") {
                    return "contains a dot segment ('.' or '..')"
                }
                start = k + 1
            }
            return nil
        }
    }
}

/// Header names and property values of the job-message contract.
public enum JobMessageProperties {
    public static let contentType = "application/json"
    public static let type = "cronq.job"
    public static let appTicker = "cronq-ticker"
    public static let appTrigger = "cronq-trigger"
    public static let appReplay = "cronq-replay"
    public static let attemptHeader = "cronq-attempt"
    public static let firstAttemptAtHeader = "cronq-first-attempt-at"
    public static let replayedHeader = "cronq-replayed"
    public static let delayHeader = "cronq-delay"
    public static let deadReasonHeader = "cronq-dead-reason"
    public static let deadStatusHeader = "cronq-dead-status"
    public static let deadErrorHeader = "cronq-dead-error"
    public static let deadAtHeader = "cronq-dead-at"
    public static let queueHeader = "cronq-queue"
    /// `v1,<base64 HMAC-SHA256 of "message_id.body">` with `[amqp] message_key` (``MessageSignature``).
    public static let signatureHeader = "cronq-signature"
}

/// UTC timestamps in the contract's format.
public enum Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    public static func iso(_ unixSeconds: Int64) -> String {
        let l = LocalTime(seconds: unixSeconds)
        // Years 0-9999, which is every instant cronq meets: twenty bytes written in place (the worker
        // stamps every outcome; the interpolated form below cost five thousand instructions a call).
        if (0...9999).contains(l.year) {
            var b = [UInt8](repeating: 0, count: 20)
            func put(_ v: Int, _ at: Int, _ width: Int) {
                var v = v
                for k in stride(from: at + width - 1, through: at, by: -1) {
                    b[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(l.year, 0, 4)
            put(l.month, 5, 2)
            put(l.day, 8, 2)
            put(l.hour, 11, 2)
            put(l.minute, 14, 2)
            put(l.second, 17, 2)
            b[4] = UInt8(ascii: "-")
            b[7] = UInt8(ascii: "-")
            b[10] = UInt8(ascii: "T")
            b[13] = UInt8(ascii: ":")
            b[16] = UInt8(ascii: ":")
            b[19] = UInt8(ascii: "Z")
            return String(decoding: b, as: UTF8.self)
        }
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let y =
            l.year < 1000 ? String(repeating: "0", count: 4 - String(l.year).count) + String(l.year) : String(l.year)
        return "\(y)-\(p2(l.month))-\(p2(l.day))T\(p2(l.hour)):\(p2(l.minute)):\(p2(l.second))Z"
    }

    public static func iso(_ date: Date) -> String { iso(Int64(date.timeIntervalSince1970.rounded(.down))) }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (also with a fraction, or an offset `+HH:MM`), to Unix seconds.
    public static func parse(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
            u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: " "),
            u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":")
        else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard u[i] >= 48 && u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13), let mi = num(14..<16),
            let s = num(17..<19), (1...12).contains(mo), d >= 1, d <= Civil.daysInMonth(year: y, month: mo), h < 24,
            mi < 60, s < 60
        else { return nil }
        var i = 19
        if i < u.count && u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 }
        }
        var offset = 0
        if i < u.count && (u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z")) && i == u.count - 1 {
            offset = 0
        } else if i + 6 == u.count && (u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-"))
            && u[i + 3] == UInt8(ascii: ":"),
            let oh = num((i + 1)..<(i + 3)), let om = num((i + 4)..<(i + 6))
        {
            offset = (oh * 3600 + om * 60) * (u[i] == UInt8(ascii: "+") ? 1 : -1)
        } else {
            return nil
        }
        return LocalTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s).seconds - Int64(offset)
    }
}
