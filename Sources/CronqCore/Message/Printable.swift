/// Text from outside (a message, a backend's answer, a header) made safe for a terminal or a log line.
///
/// A job name, an error excerpt or a header value may carry CR, LF, ESC or other control characters:
/// printed raw they forge log lines, rewrite what an operator's terminal shows (ANSI escapes) or hide
/// text. Every place that prints such text (logs, `cronq dead list/show`, `tail`, `history`) goes
/// through ``escaped(_:)``.
public enum Printable {
    /// `s` with every C0 control, DEL, C1 control and line separator written as `\n`, `\r`, `\t` or
    /// `\u{XX}`. Backslashes stay as they are (JSON bodies shown by `dead show` stay readable); the log
    /// format escapes them itself. Unchanged (no copy) when clean.
    public static func escaped(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(u): out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    public static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }
}
