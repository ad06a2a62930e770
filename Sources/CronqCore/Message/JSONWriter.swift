/// A minimal JSON writer with a fixed key order. Foundation's `JSONEncoder` orders keys by hash on
/// Linux, which would make the job message's bytes change from run to run; the contract (and its
/// golden fixture) wants one canonical form. It is also several times cheaper, which matters for the
/// worker's per-job outcome event.
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []

    package init() { bytes.reserveCapacity(512) }

    package mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    package mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
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
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func key(_ k: String) {
        string(k)
        bytes.append(UInt8(ascii: ":"))
    }

    package mutating func optionalString(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    package mutating func int(_ i: Int) { raw(String(i)) }

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
}
