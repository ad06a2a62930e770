import CronqCore
import Foundation
public import Logging

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
    let sink: @Sendable (String) -> Void

    public init(
        label: String, level: Logger.Level = .info, format: Format = .logfmt, sink: (@Sendable (String) -> Void)? = nil
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.sink = sink ?? { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, new in new } }
        let ts = Self.timestamp()
        switch format {
        case .logfmt:
            var line = "ts=\(ts) level=\(event.level) app=\(label) msg=\(Self.quote(event.message.description))"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(Self.quote(v.description))" }
            sink(line)
        case .json:
            var obj: [String: String] = [
                "ts": ts, "level": "\(event.level)", "app": label, "msg": event.message.description,
            ]
            for (k, v) in all { obj[k] = v.description }
            let data =
                (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data()
            sink(String(decoding: data, as: UTF8.self))
        }
    }

    /// Values come partly from outside (message ids, error excerpts of a backend's answer): a CR, LF,
    /// ESC or other control character is escaped, so that no value can forge a line or rewrite a terminal.
    static func quote(_ s: String) -> String {
        if !s.isEmpty
            && !s.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || Printable.isControl($0) })
        {
            return s
        }
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where Printable.isControl(c): out += Printable.escaped(String(c))
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let base = Timestamp.iso(Int64(ts.tv_sec))
        let ms = Int(ts.tv_nsec / 1_000_000)
        return base.dropLast() + "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + "\(ms)Z"
    }
}
