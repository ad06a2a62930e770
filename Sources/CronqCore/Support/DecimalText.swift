/// Fixed-point text for figures shown to operators, without `String(format:)` (Foundation only).
package enum DecimalText {
    /// `x` rounded half away from zero to one decimal: `12.0`, `0.4`, `-3.5`.
    package static func oneDecimal(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
        let tenths = Int((abs(x) * 10).rounded(.toNearestOrAwayFromZero))
        return (x < 0 && tenths > 0 ? "-" : "") + "\(tenths / 10).\(tenths % 10)"
    }
}
