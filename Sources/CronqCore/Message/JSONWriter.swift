/// A minimal JSON writer with a fixed key order. Foundation's `JSONEncoder` orders keys by hash on
/// Linux, which would make the job message's bytes change from run to run; the contract (and its
/// golden fixture) wants one canonical form. It is also several times cheaper, which matters for the
/// worker's per-job outcome event.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []

    package init() { bytes.reserveCapacity(512) }

    /// Writes after `bytes` (a buffer the caller moved in: see ``OutcomeEvent/encode(into:)``).
    package init(continuing bytes: [UInt8]) { self.bytes = bytes }

    package mutating func raw(_ s: String) { bytes.appendUTF8(s) }

    /// Fixed text (punctuation and keys known when compiled), copied from the binary without a
    /// `String` or a scan for characters to escape: the caller writes it already escaped.
    package mutating func literal(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    package mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: copy them whole rather than byte by byte (the outcome event writes
        // about twenty strings a job).
        var s = s
        let copied = s.withUTF8 { u -> Bool in
            for b in u where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if !copied { escaping(s) }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escaping(_ s: String) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                raw("\\u00")
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
    }

    package mutating func key(_ k: String) {
        string(k)
        bytes.append(UInt8(ascii: ":"))
    }

    package mutating func optionalString(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    package mutating func int(_ i: Int) { bytes.appendDecimal(i) }

    /// `{"k":v,…}` with the keys sorted (one canonical form); `value` writes each member's value.
    package mutating func object<V>(_ members: [String: V], _ value: (inout JSONWriter, V) -> Void) {
        raw("{")
        for (i, (k, v)) in members.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { raw(",") }
            key(k)
            value(&self, v)
        }
        raw("}")
    }

    /// `value` with its object keys sorted: compact (`{"k":v}`), or `pretty`: indented with
    /// `"key" : value`, the layout of the definitions file committed in `topology/` (first written by
    /// Foundation's `JSONSerialization`, whose layout this keeps byte for byte so the file does not churn).
    package mutating func value(_ value: JSONValue, pretty: Bool = false, depth: Int = 0) {
        func newline(_ d: Int) { if pretty { raw("\n" + String(repeating: "  ", count: d)) } }
        switch value {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let i): int(i)
        case .double(let d): raw(String(d))
        case .string(let s): string(s)
        case .array(let items):
            raw("[")
            if items.isEmpty { newline(0) }
            for (i, item) in items.enumerated() {
                if i > 0 { raw(",") }
                newline(depth + 1)
                self.value(item, pretty: pretty, depth: depth + 1)
            }
            newline(depth)
            raw("]")
        case .object(let members):
            raw("{")
            if members.isEmpty { newline(0) }
            for (i, (k, v)) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { raw(",") }
                newline(depth + 1)
                string(k)
                raw(pretty ? " : " : ":")
                self.value(v, pretty: pretty, depth: depth + 1)
            }
            newline(depth)
            raw("}")
        }
    }
}
