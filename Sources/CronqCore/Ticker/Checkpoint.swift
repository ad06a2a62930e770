import Foundation

/// The leader's checkpoint on `cronq.ticker.state`: the last confirmed fire of every job.
/// JSON `{"v":1,"at":"…","fired":{"every5min":"2026-11-28T10:05:00Z",…}}`.
public struct Checkpoint: Sendable, Equatable {
    public var at: Int64
    public var fired: [String: Int64]

    public init(at: Int64, fired: [String: Int64]) {
        self.at = at
        self.fired = fired
    }

    public func encoded() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{"); w.key("v"); w.int(1)
        w.raw(","); w.key("at"); w.string(Timestamp.iso(at))
        w.raw(","); w.key("fired"); w.raw("{")
        for (i, (k, v)) in fired.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.key(k); w.string(Timestamp.iso(v))
        }
        w.raw("}}")
        return w.bytes
    }

    /// nil for anything that is not a v1 checkpoint (it is then ignored, with a log line).
    public static func decode(_ body: [UInt8]) -> Checkpoint? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], obj["v"] as? Int == 1,
            let at = (obj["at"] as? String).flatMap(Timestamp.parse), let fired = obj["fired"] as? [String: String]
        else { return nil }
        var out: [String: Int64] = [:]
        for (k, v) in fired { if let t = Timestamp.parse(v) { out[k] = t } }
        return Checkpoint(at: at, fired: out)
    }
}
