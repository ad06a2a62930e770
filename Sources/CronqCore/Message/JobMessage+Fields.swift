/// Reading a job message straight into its fields: the worker does it for every job, and the general
/// path (a ``JSONValue`` tree, then ``JobMessage/init(json:)``) built four dictionaries and boxed every
/// value first, about a tenth of the worker's CPU per job against a real web server (docs/benchmarks.md).
///
/// This path accepts only the contract's usual shape and gives up (nil) at anything else: a syntax
/// error, a missing or null field, a wrong type, a non-integer number, a version other than 1. The
/// general path then reads the body again and decides, so every rejection and its reason come from one
/// place, and both paths agree on every body they both accept (`JobMessageTests`, and `make fuzz`
/// compares them on every input).
extension JobMessage {
    package static func decodeFields(_ body: [UInt8]) -> JobMessage? {
        body.withUnsafeBufferPointer { buffer -> JobMessage? in
            var r = JSONReader(buffer)
            return try? r.jobMessage()
        }
    }
}

extension JSONReader {
    /// Thrown to give up on the fast path (the general path reads the body again and names the problem).
    private func unusual() -> SyntaxError { fail("not the usual job message shape") }

    fileprivate mutating func jobMessage() throws(SyntaxError) -> JobMessage? {
        skipSpace()
        var version: Int?, job: String?, scheduledAt: String?, backend: String?
        var request: JobMessage.Request?, retry: JobMessage.Retry?
        try object(depth: 1) { (r, key) throws(SyntaxError) in
            switch key {
            case "v": version = try r.integer()
            case "job": job = try r.text()
            case "scheduled_at": scheduledAt = try r.text()
            case "backend": backend = try r.text()
            case "request": request = try r.request()
            case "retry": retry = try r.retryPolicy()
            default: _ = try r.value(depth: 1)
            }
        }
        skipSpace()
        guard i == b.count, version == 1, let job, let scheduledAt, let backend, let request, let retry else {
            return nil
        }
        return JobMessage(job: job, scheduledAt: scheduledAt, backend: backend, request: request, retry: retry)
    }

    private mutating func request() throws(SyntaxError) -> JobMessage.Request {
        var method: String?, path: String?, headers: [String: String]?, timeout: Int?
        var body: String?? = .some(nil)  // absent and null both mean no body
        try object(depth: 2) { (r, key) throws(SyntaxError) in
            switch key {
            case "method": method = try r.text()
            case "path": path = try r.text()
            case "headers":
                var h: [String: String] = [:]
                try r.object(depth: 3) { (r, name) throws(SyntaxError) in h[name] = try r.text() }
                headers = h
            case "body":
                if r.i < r.b.count, r.b[r.i] == UInt8(ascii: "n") {
                    try r.literal("null")
                    body = .some(nil)
                } else {
                    body = .some(try r.text())
                }
            case "timeout_ms": timeout = try r.integer()
            default: _ = try r.value(depth: 2)
            }
        }
        guard let method, let path, let headers, let timeout, let body else { throw unusual() }
        return JobMessage.Request(method: method, path: path, headers: headers, body: body, timeoutMs: timeout)
    }

    private mutating func retryPolicy() throws(SyntaxError) -> JobMessage.Retry {
        var attempts: Int?, backoff: [String]?, maxDuration: Int?
        try object(depth: 2) { (r, key) throws(SyntaxError) in
            switch key {
            case "max_attempts": attempts = try r.integer()
            case "backoff": backoff = try r.textArray()
            case "max_duration_s": maxDuration = try r.integer()
            default: _ = try r.value(depth: 2)
            }
        }
        guard let attempts, let backoff, let maxDuration else { throw unusual() }
        return JobMessage.Retry(maxAttempts: attempts, backoff: backoff, maxDurationS: maxDuration)
    }

    /// An object, where the contract has one (anything else is unusual).
    private mutating func object(
        depth: Int, _ member: (inout JSONReader, String) throws(SyntaxError) -> Void
    ) throws(SyntaxError) {
        guard i < b.count, b[i] == UInt8(ascii: "{") else { throw unusual() }
        try members(depth: depth, member)
    }

    private mutating func text() throws(SyntaxError) -> String {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw unusual() }
        return try string()
    }

    private mutating func textArray() throws(SyntaxError) -> [String] {
        guard i < b.count, b[i] == UInt8(ascii: "[") else { throw unusual() }
        var items: [String] = []
        try elements(depth: 3) { (r) throws(SyntaxError) in items.append(try r.text()) }
        return items
    }

    /// A plain integer (`-12`, `300000`); anything with a fraction, an exponent, a leading zero or more
    /// digits than an `Int` holds is left to the general path.
    private mutating func integer() throws(SyntaxError) -> Int {
        var k = i
        let negative = k < b.count && b[k] == UInt8(ascii: "-")
        if negative { k += 1 }
        let digitsStart = k
        var n = 0
        while k < b.count, b[k] >= UInt8(ascii: "0"), b[k] <= UInt8(ascii: "9") {
            guard k - digitsStart < 18 else { throw unusual() }
            n = n * 10 + Int(b[k] - UInt8(ascii: "0"))
            k += 1
        }
        guard k > digitsStart, !(b[digitsStart] == UInt8(ascii: "0") && k - digitsStart > 1) else { throw unusual() }
        if k < b.count, b[k] == UInt8(ascii: ".") || b[k] == UInt8(ascii: "e") || b[k] == UInt8(ascii: "E") {
            throw unusual()
        }
        i = k
        return negative ? -n : n
    }
}
