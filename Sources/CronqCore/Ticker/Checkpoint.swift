import Foundation

/// The leader's checkpoint on `cronq.ticker.state`: the last confirmed (or skipped) fire of every job,
/// and the paused jobs. JSON `{"v":1,"at":"…","fired":{"every5min":"2026-11-28T10:05:00Z",…},
/// "paused":{"job":{"since":"…","until":"…"|null,"reason":"…"|null,"last_skipped":"…"|null}}}`.
public struct Checkpoint: Sendable, Equatable {
    public var at: Int64
    public var fired: [String: Int64]
    public var paused: [String: PauseState]

    public init(at: Int64, fired: [String: Int64], paused: [String: PauseState] = [:]) {
        self.at = at
        self.fired = fired
        self.paused = paused
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
        w.raw("}")
        w.raw(","); w.key("paused"); w.raw("{")
        for (i, (k, p)) in paused.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.key(k); w.raw("{")
            w.key("since"); w.string(Timestamp.iso(p.since))
            w.raw(","); w.key("until"); w.optionalString(p.until.map(Timestamp.iso))
            w.raw(","); w.key("reason"); w.optionalString(p.reason)
            w.raw(","); w.key("last_skipped"); w.optionalString(p.lastSkipped.map(Timestamp.iso))
            w.raw("}")
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
        var paused: [String: PauseState] = [:]
        for (k, v) in (obj["paused"] as? [String: [String: Any]]) ?? [:] {
            guard let since = (v["since"] as? String).flatMap(Timestamp.parse) else { continue }
            paused[k] = PauseState(
                until: (v["until"] as? String).flatMap(Timestamp.parse), reason: v["reason"] as? String, since: since,
                lastSkipped: (v["last_skipped"] as? String).flatMap(Timestamp.parse))
        }
        return Checkpoint(at: at, fired: out, paused: paused)
    }
}
