import CronqCore

/// Aligned plain-text columns.
public enum TextTable {
    /// Cells are escaped (``Printable``): job names are checked, but error excerpts, message ids and
    /// reasons may come from a message or a backend's answer.
    public static func render(_ rows: [[String]], escaping: Bool = true) -> String {
        let rows = escaping ? rows.map { $0.map(Printable.escaped) } : rows
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                i == r.count - 1 ? c : padded(c, to: widths[i])
            }
            .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `s` cut or filled with spaces to `width` characters.
    public static func padded(_ s: String, to width: Int) -> String {
        s.count >= width ? String(s.prefix(width)) : s + String(repeating: " ", count: width - s.count)
    }
}
