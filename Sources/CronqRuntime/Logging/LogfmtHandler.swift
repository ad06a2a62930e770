import CronqCore
public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One line per event, logfmt (`ts=… level=info msg=fired job=every5min …`) or JSON, on stderr.
///
/// Operators grep and ship these lines; metadata keys are sorted so lines are stable. Values are
/// quoted when they contain spaces, quotes or `=`. Secrets never reach here: cronq logs job names,
/// message ids, statuses and error summaries, never a header value or a URL with credentials.
public struct LogfmtHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable { case logfmt, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format
    let output: LogOutput

    public init(
        label: String, level: Logger.Level = .info, format: Format = .logfmt, output: LogOutput = .standardError
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The handler's own metadata is usually empty: no merged copy then.
        var all = event.metadata ?? [:]
        if !metadata.isEmpty { all.merge(metadata) { new, _ in new } }
        switch format {
        case .logfmt:
            output.write(line(level: event.level, message: event.message.description, fields: Self.sortedFields(all)))
        case .json:
            var ts: [UInt8] = []
            Self.appendTimestamp(to: &ts)
            var obj: [String: String] = [
                "ts": String(decoding: ts, as: UTF8.self), "level": "\(event.level)", "app": label,
                "msg": event.message.description,
            ]
            for (k, v) in all { obj[k] = v.description }
            var json = JSONWriter()
            json.object(obj) { $0.string($1) }
            output.write(json.bytes)
        }
    }

    /// A logger's handler when fields sorted by key may skip swift-log: it is this handler, writes logfmt,
    /// and has no metadata of its own to merge into a line (it takes no metadata provider). Else nil, and
    /// lines go through `Logger.log` as usual.
    public static func direct(_ logger: Logger) -> LogfmtHandler? {
        guard let h = logger.handler as? LogfmtHandler, h.format == .logfmt, h.metadata.isEmpty else { return nil }
        return h
    }

    /// Writes the line `Logger.log` would, from `fields` already sorted by key (see ``direct(_:)``): for the
    /// worker's line a job, whose dictionary, hashing and sorting cost more than the line itself.
    /// Like `Logger.log`, builds nothing below the handler's level.
    public func write(level: Logger.Level, message: @autoclosure () -> String, fields: @autoclosure () -> [LogField]) {
        guard level >= logLevel else { return }
        output.write(line(level: level, message: message(), fields: fields()))
    }

    private func line(level: Logger.Level, message: String, fields: [LogField]) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.appendUTF8("ts=")
        Self.appendTimestamp(to: &line)
        line.appendUTF8(" level=")
        line.appendUTF8(level.rawValue)
        line.appendUTF8(" app=")
        line.appendUTF8(label)
        line.appendUTF8(" msg=")
        Self.appendQuoted(message, to: &line)
        for field in fields {
            line.append(UInt8(ascii: " "))
            line.appendUTF8(field.key)
            line.append(UInt8(ascii: "="))
            switch field.value {
            case .text(let s): Self.appendQuoted(s, to: &line)
            case .number(let n): line.appendDecimal(n)
            }
        }
        return line
    }

    /// The metadata as text, sorted by key: an insertion sort of a few fields into an array of a struct
    /// (`sorted(by:)` on the dictionary made an array of tuples, which the runtime destroys element by
    /// element through type metadata).
    static func sortedFields(_ metadata: Logger.Metadata) -> [LogField] {
        var fields: [LogField] = []
        fields.reserveCapacity(metadata.count)
        for (k, v) in metadata {
            var i = fields.count
            while i > 0 && fields[i - 1].key > k { i -= 1 }
            fields.insert(LogField(k, v.description), at: i)
        }
        return fields
    }

    /// `s` as it is when it needs no quotes, else quoted and escaped. Values come partly from outside
    /// (message ids, error excerpts of a backend's answer): a CR, LF, ESC or other control character is
    /// escaped, so that no value can forge a line or rewrite a terminal. Checked byte by byte first: every
    /// byte that could need quotes is ASCII, or the lead byte of C1 controls, U+2028 and U+2029.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        var s = s
        let plain = s.withUTF8 { u -> Bool in
            guard !u.isEmpty else { return false }
            for b in u
            where b <= 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "=") || b == 0x7F || b == 0xC2
                || b == 0xE2
            {
                return false
            }
            out.append(contentsOf: u)
            return true
        }
        if plain { return }
        // Slow path: the scalar-level rules (a 0xC2 or 0xE2 lead byte is mostly an ordinary character).
        if !s.isEmpty
            && !s.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || Printable.isControl($0) })
        {
            out.append(contentsOf: s.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for c in s.unicodeScalars {
            switch c {
            case "\"": out.append(contentsOf: "\\\"".utf8)
            case "\\": out.append(contentsOf: "\\\\".utf8)
            case _ where Printable.isControl(c): out.append(contentsOf: Printable.escaped(String(c)).utf8)
            default: out.append(contentsOf: String(c).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The ISO second of the last line, kept: formatting a date for every line of a busy worker cost more
    /// than writing the line.
    private static let lastSecond = Mutex<(second: Int, text: [UInt8])>((-1, []))

    /// `2026-12-01T19:53:12.909Z`, UTC, milliseconds.
    static func appendTimestamp(to out: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = Int(ts.tv_sec)
        let base = lastSecond.withLock { last -> [UInt8] in
            if last.second != second { last = (second, Array(Timestamp.iso(Int64(second)).utf8.dropLast())) }
            return last.text
        }
        out.append(contentsOf: base)
        let ms = Int(ts.tv_nsec / 1_000_000)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(ms / 100))
        out.append(UInt8(ascii: "0") + UInt8(ms / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(ms % 10))
        out.append(UInt8(ascii: "Z"))
    }
}
