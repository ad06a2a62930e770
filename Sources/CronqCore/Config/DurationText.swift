/// Durations as operators write them: `500ms`, `90s`, `5m`, `2h`, `1d`.
public enum DurationText {
    /// Parses a duration; nil when the text is not one (the caller says which key was wrong).
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingSpaces()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, ms) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            // "5ms" also ends in "s": only accept a pure number before the suffix.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(number),
                n <= Int64.max / ms / 1000
            else { continue }
            return .milliseconds(n * ms)
        }
        return nil
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

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
