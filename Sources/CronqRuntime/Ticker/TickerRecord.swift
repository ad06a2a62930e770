import CronqCore
import Logging

/// Something the leader decided that an operator should see: one log line (rendered here, in one place)
/// and, for fires, a counter and a metric. Tests assert on these values, not on log text.
enum TickerRecord: Sendable, Equatable {
    case leadershipAcquired(checkpointAt: Int64?, jobs: Int)
    case fired(job: String, scheduledAt: Int64, messageID: String, latenessMs: Int64, caughtUp: Bool)
    case fireFailed(job: String, scheduledAt: Int64, publish: String)
    case skipped(job: String, scheduledAt: Int64, reason: String, messageID: String)
    case paused(job: String, until: Int64?, reason: String)
    case resumed(job: String, catchUp: CronqConfig.CatchUp, wasPaused: Bool)
    /// A pause with `until` ran out at a fire.
    case pauseExpired(job: String, until: Int64?)
    case unreadableControl
    case controlForUnknownJob(job: String, action: ControlMessage.Action)
    case runEnded(job: String, messageID: String, outcome: String)
    case noEndHeard(job: String, previous: String)

    var level: Logger.Level {
        switch self {
        case .fired, .skipped: return .info
        case .leadershipAcquired, .paused, .resumed, .pauseExpired: return .notice
        case .fireFailed: return .error
        case .unreadableControl, .controlForUnknownJob, .noEndHeard: return .warning
        case .runEnded: return .debug
        }
    }

    var message: Logger.Message {
        switch self {
        case .leadershipAcquired: return "leadership acquired"
        case .fired: return "fired"
        case .fireFailed: return "fire not confirmed; retrying"
        case .skipped: return "skipped"
        case .paused: return "job paused"
        case .resumed, .pauseExpired: return "job resumed"
        case .unreadableControl: return "ignoring an unreadable control message"
        case .controlForUnknownJob: return "ignoring a control message for a job not in the config"
        case .runEnded: return "run ended"
        case .noEndHeard: return "no end heard of the previous run within its worst-case time; firing anyway"
        }
    }

    var metadata: Logger.Metadata {
        switch self {
        case .leadershipAcquired(let at, let jobs):
            return ["checkpoint_at": "\(at.map(Timestamp.iso) ?? "none")", "jobs": "\(jobs)"]
        case .fired(let job, let at, let id, let lateness, let caughtUp):
            return [
                "job": "\(job)", "scheduled_at": "\(Timestamp.iso(at))", "message_id": "\(id)",
                "lateness_ms": "\(lateness)", "caught_up": "\(caughtUp)",
            ]
        case .fireFailed(let job, let at, let publish):
            return ["job": "\(job)", "scheduled_at": "\(Timestamp.iso(at))", "publish": "\(publish)"]
        case .skipped(let job, let at, let reason, let id):
            return [
                "job": "\(job)", "scheduled_at": "\(Timestamp.iso(at))", "reason": "\(reason)", "message_id": "\(id)",
            ]
        case .paused(let job, let until, let reason):
            return ["job": "\(job)", "until": "\(until.map(Timestamp.iso) ?? "resume")", "reason": "\(reason)"]
        case .resumed(let job, let catchUp, let was):
            return ["job": "\(job)", "catch_up": "\(catchUp)", "was_paused": "\(was)"]
        case .pauseExpired(let job, let until):
            return ["job": "\(job)", "reason": "paused until \(until.map(Timestamp.iso) ?? "-")"]
        case .unreadableControl:
            return [:]
        case .controlForUnknownJob(let job, let action):
            return ["job": "\(job)", "action": "\(action)"]
        case .runEnded(let job, let id, let outcome):
            return ["job": "\(job)", "message_id": "\(id)", "outcome": "\(outcome)"]
        case .noEndHeard(let job, let previous):
            return ["job": "\(job)", "previous": "\(previous)"]
        }
    }
}
