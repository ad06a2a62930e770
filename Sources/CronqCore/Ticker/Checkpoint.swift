#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The leader's checkpoint on `cronq.ticker.state`: the last confirmed (or skipped) fire of every job,
/// the paused jobs, and the runs of `overlap = "skip"` jobs still in flight. JSON `{"v":1,"at":"…",
/// "fired":{"every5min":"2026-11-28T10:05:00Z",…}, "paused":{"job":{"since":"…","until":"…"|null,
/// "reason":"…"|null,"last_skipped":"…"|null}}, "running":{"job":{"id":"…","scheduled_at":"…","expires_at":"…"}}}`.
/// Older checkpoints without `paused` or `running` still read (as none).
public struct Checkpoint: Sendable, Equatable {
    public var at: Int64
    public var fired: [String: Int64]
    public var paused: [String: PauseState]
    /// A skip job's run in flight: a new leader does not fire the job again until its end is heard.
    public var running: [String: RunInFlight]

    public struct RunInFlight: Sendable, Equatable {
        public var id: String
        public var scheduledAt: Int64
        /// When to stop waiting for its end (the job's worst-case run time after the fire).
        public var expiresAt: Int64

        public init(id: String, scheduledAt: Int64, expiresAt: Int64) {
            self.id = id
            self.scheduledAt = scheduledAt
            self.expiresAt = expiresAt
        }
    }

    public init(
        at: Int64, fired: [String: Int64], paused: [String: PauseState] = [:], running: [String: RunInFlight] = [:]
    ) {
        self.at = at
        self.fired = fired
        self.paused = paused
        self.running = running
    }

    /// The pauses in force at `now` (an expired `until` no longer pauses, whether or not a leader has
    /// applied the expiry yet).
    public func pauses(at now: Int64) -> [String: PauseState] { paused.filter { $0.value.holds(at: now) } }

    public func encoded() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{"); w.key("v"); w.int(1)
        w.raw(","); w.key("at"); w.string(Timestamp.iso(at))
        w.raw(","); w.key("fired"); w.object(fired) { w, t in w.string(Timestamp.iso(t)) }
        w.raw(","); w.key("paused")
        w.object(paused) { w, p in
            w.raw("{"); w.key("since"); w.string(Timestamp.iso(p.since))
            w.raw(","); w.key("until"); w.optionalString(p.until.map(Timestamp.iso))
            w.raw(","); w.key("reason"); w.optionalString(p.reason)
            w.raw(","); w.key("last_skipped"); w.optionalString(p.lastSkipped.map(Timestamp.iso))
            w.raw("}")
        }
        w.raw(","); w.key("running")
        w.object(running) { w, r in
            w.raw("{"); w.key("id"); w.string(r.id)
            w.raw(","); w.key("scheduled_at"); w.string(Timestamp.iso(r.scheduledAt))
            w.raw(","); w.key("expires_at"); w.string(Timestamp.iso(r.expiresAt))
            w.raw("}")
        }
        w.raw("}")
        return w.bytes
    }

    /// nil for anything that is not a v1 checkpoint (it is then ignored, with a log line).
    public static func decode(_ body: [UInt8]) -> Checkpoint? {
        guard let obj = try? JSONReader.parse(body), obj["v"]?.intValue == 1,
            let at = obj["at"]?.stringValue.flatMap(Timestamp.parse), let fired = obj["fired"]?.objectValue
        else { return nil }
        var out: [String: Int64] = [:]
        out.reserveCapacity(fired.count)
        for (k, v) in fired { if let t = v.stringValue.flatMap(Timestamp.parse) { out[k] = t } }
        var paused: [String: PauseState] = [:]
        for (k, v) in obj["paused"]?.objectValue ?? [:] {
            guard let since = v["since"]?.stringValue.flatMap(Timestamp.parse) else { continue }
            paused[k] = PauseState(
                until: v["until"]?.stringValue.flatMap(Timestamp.parse), reason: v["reason"]?.stringValue, since: since,
                lastSkipped: v["last_skipped"]?.stringValue.flatMap(Timestamp.parse))
        }
        var running: [String: RunInFlight] = [:]
        for (k, v) in obj["running"]?.objectValue ?? [:] {
            guard let id = v["id"]?.stringValue, let s = v["scheduled_at"]?.stringValue.flatMap(Timestamp.parse),
                let e = v["expires_at"]?.stringValue.flatMap(Timestamp.parse)
            else { continue }
            running[k] = RunInFlight(id: id, scheduledAt: s, expiresAt: e)
        }
        return Checkpoint(at: at, fired: out, paused: paused, running: running)
    }
}
