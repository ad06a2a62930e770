/// Appending text to a byte buffer, for the writers on the worker's per-job path (the outcome event's
/// JSON, the log line). `append(contentsOf: s.utf8)` goes through the generic sequence path, about 180
/// instructions for a short string (callgrind, twelfth session); one copy from the string's contiguous
/// UTF-8 storage is a bounds check and a `memcpy`.
extension Array where Element == UInt8 {
    package mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }

    /// `n` in decimal, written in place (no intermediate `String`).
    package mutating func appendDecimal(_ n: Int) {
        guard n != 0 else { return append(UInt8(ascii: "0")) }
        if n < 0 { append(UInt8(ascii: "-")) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var m = n.magnitude
        Swift.withUnsafeMutableBytes(of: &digits) { d in
            while m > 0 {
                d[19 - count] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                count += 1
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(20 - count)...]))
        }
    }
}
