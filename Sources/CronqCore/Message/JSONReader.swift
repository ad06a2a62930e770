/// A parsed JSON value.
package enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits an `Int`.
    case int(Int)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// A member of an object (nil for anything else).
    package subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var intValue: Int? {
        if case .int(let n) = self { return n }
        return nil
    }

    package var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    package var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// Any number, integral or not (a rate the management API writes as `0` or `0.4`).
    package var doubleValue: Double? {
        switch self {
        case .int(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    }
}

/// A strict RFC 8259 reader: the one JSON reader of every wire format (job messages on the worker's
/// hot path, events, checkpoints, control messages).
///
/// Why not `JSONDecoder`: on Linux it was a fifth of the worker's CPU per job (bridging through
/// `Data`, a generic `Decoder` tree, string boxing). This reads the bytes once into ``JSONValue``.
/// It rejects what the RFC rejects (trailing commas, control characters in strings, invalid UTF-8,
/// lone surrogates, leading zeros, trailing garbage) and caps nesting, so that hostile input fails
/// fast with a position instead of exhausting the stack.
package struct JSONReader {
    package struct SyntaxError: Error, Equatable, CustomStringConvertible {
        package let offset: Int
        package let problem: String
        package var description: String { "\(problem) at byte \(offset)" }
    }

    package static let maxDepth = 64

    package static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> JSONValue in
            var r = JSONReader(buffer)
            r.skipSpace()
            let v = try r.value(depth: 0)
            r.skipSpace()
            guard r.i == buffer.count else { throw r.fail("unexpected data after the JSON value") }
            return v
        }
    }

    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    func fail(_ problem: String) -> SyntaxError { SyntaxError(offset: i, problem: problem) }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(SyntaxError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("unexpected end of input") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw fail("unexpected character") }
        i += n
    }

    private mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
        var members: [String: JSONValue] = [:]
        try self.members(depth: depth) { (r, key) throws(SyntaxError) in members[key] = try r.value(depth: depth) }
        return .object(members)
    }

    private mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
        var items: [JSONValue] = []
        try elements(depth: depth) { (r) throws(SyntaxError) in items.append(try r.value(depth: depth)) }
        return .array(items)
    }

    /// `{ "name": value, … }` with the reader at its `{`: `member` gets each name with the reader at the
    /// value, and must read it. The tree and the job message's fast path (`JobMessage+Fields`) both walk
    /// objects with this.
    mutating func members(
        depth: Int, _ member: (inout JSONReader, String) throws(SyntaxError) -> Void
    ) throws(SyntaxError) {
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try string()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            try member(&self, key)
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    /// `[ value, … ]` with the reader at its `[`: `element` is called with the reader at each value, and
    /// must read it.
    mutating func elements(depth: Int, _ element: (inout JSONReader) throws(SyntaxError) -> Void) throws(SyntaxError) {
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return }
        while true {
            skipSpace()
            try element(&self)
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func string() throws(SyntaxError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        var high: UInt8 = 0
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\") {
            guard b[i] >= 0x20 else { throw fail("control character in a string") }
            high |= b[i]
            i += 1
        }
        guard i < b.count else { throw fail("unterminated string") }
        if b[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            let text = UnsafeBufferPointer(rebasing: b[start..<i])
            // ASCII is valid UTF-8 as it is: `String(validating:)` costs about a thousand instructions a call
            // in its generic path, and a job message has some twenty strings.
            if high < 0x80 { return String(decoding: text, as: UTF8.self) }
            guard let s = String(validating: text, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            return s
        }
        var out = Array(b[start..<i])
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            guard c >= 0x20 else { throw fail("control character in a string") }
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw fail("unterminated string") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("lone surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw fail("lone surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                out.append(contentsOf: UTF8.encode(u)!)
            default: throw fail("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return s
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        guard i + 4 <= b.count else { throw fail("unterminated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func number() throws(SyntaxError) -> JSONValue {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
            if i < b.count, isDigit(b[i]) { throw fail("leading zero in a number") }
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        var integral = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral, let n = Int(text) { return .int(n) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
