/// Durations as operators write them: `500ms`, `90s`, `5m`, `2h`, `1d`.
public enum DurationText {
    /// Parses a duration; nil when the text is not one (the caller says which key was wrong).
    public static func parse(_ text: String) -> Duration? {
        // On bytes: the worker reads a job's `timeout` from every message.
        var u = text.trimmingBlanks.utf8[...]
        var n: Int64 = 0
        var digits = 0
        while let d = u.first, d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") {
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            n = sum
            digits += 1
            u = u.dropFirst()
        }
        guard digits > 0 else { return nil }
        let ms: Int64
        switch String(Substring(u)) {
        case "ms": ms = 1
        case "s": ms = 1000
        case "m": ms = 60_000
        case "h": ms = 3_600_000
        case "d": ms = 86_400_000
        default: return nil
        }
        guard n <= Int64.max / ms / 1000 else { return nil }
        return .milliseconds(n * ms)
    }

    /// The canonical short form, used for retry-tier names (`10s`, `1m`, `2h`, `1d`, `1500ms`).
    public static func format(_ d: Duration) -> String {
        let ms = d.totalMilliseconds
        if ms % 1000 != 0 { return "\(ms)ms" }
        let s = ms / 1000
        if s != 0 && s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s != 0 && s % 3600 == 0 { return "\(s / 3600)h" }
        if s != 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    public var totalMilliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }

    /// Whole seconds (rounded down).
    public var totalSeconds: Int64 { components.seconds }
}
