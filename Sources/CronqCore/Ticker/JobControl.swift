#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a job does not fire for now (`cronq pause`), kept in the ticker's checkpoint so that a restart
/// or a failover keeps it.
public struct PauseState: Sendable, Equatable {
    /// Unix seconds; nil pauses until `cronq resume`.
    public var until: Int64?
    public var reason: String?
    public var since: Int64
    /// The latest fire skipped while paused, for `resume --catch-up latest`.
    public var lastSkipped: Int64?

    public init(until: Int64? = nil, reason: String? = nil, since: Int64, lastSkipped: Int64? = nil) {
        self.until = until
        self.reason = reason
        self.since = since
        self.lastSkipped = lastSkipped
    }

    /// Still in force at `now`?
    public func holds(at now: Int64) -> Bool { until.map { now < $0 } ?? true }
}

/// A message on `<prefix>.control` (from `cronq pause` / `cronq resume`), applied by the leader ticker.
/// JSON `{"v":1,"action":"pause","job":"…","until":"…"|null,"reason":"…"|null,"catch_up":"none","at":"…"}`.
public struct ControlMessage: Sendable, Equatable {
    public enum Action: String, Sendable { case pause, resume }
    public var action: Action
    public var job: String
    public var until: Int64?
    public var reason: String?
    /// For resume: `none` (default) or `latest` (fire the most recent fire skipped while paused).
    public var catchUp: CronqConfig.CatchUp
    public var at: Int64

    public init(
        action: Action, job: String, until: Int64? = nil, reason: String? = nil, catchUp: CronqConfig.CatchUp = .none,
        at: Int64
    ) {
        self.action = action
        self.job = job
        self.until = until
        self.reason = reason
        self.catchUp = catchUp
        self.at = at
    }

    public func encoded() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{"); w.key("v"); w.int(1)
        w.raw(","); w.key("action"); w.string(action.rawValue)
        w.raw(","); w.key("job"); w.string(job)
        w.raw(","); w.key("until"); w.optionalString(until.map(Timestamp.iso))
        w.raw(","); w.key("reason"); w.optionalString(reason)
        w.raw(","); w.key("catch_up"); w.string(catchUp.rawValue)
        w.raw(","); w.key("at"); w.string(Timestamp.iso(at))
        w.raw("}")
        return w.bytes
    }

    public static func decode(_ body: [UInt8]) -> ControlMessage? {
        guard case .object(let o)? = try? JSONReader.parse(body), o["v"] == .int(1),
            case .string(let a)? = o["action"], let action = Action(rawValue: a),
            case .string(let job)? = o["job"], !job.isEmpty,
            case .string(let at)? = o["at"], let when = Timestamp.parse(at)
        else { return nil }
        var m = ControlMessage(action: action, job: job, at: when)
        if case .string(let u)? = o["until"] {
            guard let t = Timestamp.parse(u) else { return nil }
            m.until = t
        }
        if case .string(let r)? = o["reason"] { m.reason = String(r.prefix(200)) }
        if case .string(let c)? = o["catch_up"] {
            guard let v = CronqConfig.CatchUp(rawValue: c), v != .all else { return nil }
            m.catchUp = v
        }
        return m
    }
}
