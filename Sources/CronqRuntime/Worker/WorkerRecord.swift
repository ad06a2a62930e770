public import Logging

/// Something the worker's state machine decided that an operator should see: one log line, and for
/// outcomes a counter and a metric. Typed, so that tests assert on records and the driver's log text is
/// rendered in one place (``level``, ``message``, ``metadata``), not compared as strings.
public enum WorkerRecord: Sendable, Equatable {
    case succeeded(job: String, messageID: String, attempt: Int, status: Int, durationMs: Int)
    case retried(
        job: String, messageID: String, attempt: Int, status: Int, tier: String, error: String, durationMs: Int)
    /// A dead letter is durable; `via` says how when it was not a confirmed publish ("broker reject").
    case dead(job: String, messageID: String, attempt: Int, reason: String, status: Int, error: String, via: String?)
    /// A request ended (any result), for the duration histogram.
    case requestFinished(durationMs: Int)
    case redelivered(messageID: String, deliveryCount: Int, queue: String)
    /// A request finished after its connection was lost: the broker redelivers the message.
    case resultAfterLoss(job: String, messageID: String)
    /// An outcome publish was nacked or returned.
    case publishFailed
    /// ... and the original goes back to its queue.
    case publishRefused(job: String, messageID: String, outcome: String)
    case deadLetterUnroutable(
        job: String, messageID: String, retryInSeconds: Int, deadQueue: String, deadExchange: String)
    case connectionLost(error: String, inFlight: Int, awaitingConfirm: Int)
    case consumerCancelled(queue: String)
    case stopping(inFlight: Int, graceSeconds: Int64)
    case graceOver(unfinished: Int)
    /// A backend's breaker changed state here (`by`: this worker, or another one that announced it).
    case breaker(backend: String, state: String, announcedBy: String?)
    /// A permit returned often enough to near its queue's delivery limit was acked and minted again.
    case permitRenewed(backend: String)
    /// The breaker of the message's backend is open: it waits in a retry tier, its attempt unchanged.
    case delayed(job: String, messageID: String, backend: String, tier: String, attempt: Int)

    public var level: Logger.Level {
        switch self {
        case .succeeded, .retried: return .info
        case .redelivered: return .notice
        case .dead, .resultAfterLoss, .consumerCancelled, .graceOver: return .warning
        case .publishFailed: return .debug
        case .requestFinished: return .trace
        case .publishRefused, .deadLetterUnroutable, .connectionLost: return .error
        case .stopping: return .info
        case .breaker(_, let state, _): return state == "closed" ? .notice : .warning
        case .delayed: return .info
        case .permitRenewed: return .notice
        }
    }

    public var message: Logger.Message {
        switch self {
        case .succeeded, .retried, .dead: return "outcome"
        case .redelivered: return "redelivered message"
        case .resultAfterLoss: return "request finished after its connection was lost; the broker redelivers it"
        case .publishFailed: return "outcome publish not confirmed"
        case .requestFinished: return "request finished"
        case .publishRefused: return "outcome publish refused by the broker; the message goes back to its queue"
        case .deadLetterUnroutable(_, _, _, let queue, let exchange):
            return "dead letter unroutable (is \(queue) bound to \(exchange)?); held unacked, retrying"
        case .connectionLost: return "broker connection lost; unacked messages will be redelivered"
        case .consumerCancelled: return "the broker cancelled a consumer (queue deleted or moved); reconnecting"
        case .stopping: return "stopping: consumers cancelled, finishing in-flight requests"
        case .graceOver: return "grace period over: unfinished requests go back to the queue unacked"
        case .breaker(_, let state, _):
            switch state {
            case "open": return "breaker open: calls to the backend wait (no attempts used)"
            case "half_open": return "breaker half-open: one probe call to the backend"
            default: return "breaker closed: calls to the backend go again"
            }
        case .delayed: return "backend breaker open: message waits in a retry tier, attempt unchanged"
        case .permitRenewed: return "permit renewed before its queue's delivery limit (acked, a fresh one published)"
        }
    }

    /// The record's fields, sorted by key (a test holds every case to it): what the log line shows.
    public var fields: [LogField] {
        switch self {
        case .succeeded(let job, let id, let attempt, let status, let ms):
            return [
                .init("attempt", attempt), .init("duration_ms", ms), .init("job", job), .init("message_id", id),
                .init("outcome", "success"), .init("status", status),
            ]
        case .retried(let job, let id, let attempt, let status, let tier, let error, let ms):
            return [
                .init("attempt", attempt), .init("delay", tier), .init("duration_ms", ms), .init("error", error),
                .init("job", job), .init("message_id", id), .init("outcome", "retry"), .init("status", status),
            ]
        case .dead(let job, let id, let attempt, let reason, let status, let error, let via):
            var f: [LogField] = [
                .init("attempt", attempt), .init("error", error), .init("job", job), .init("message_id", id),
                .init("outcome", "dead"), .init("reason", reason), .init("status", status),
            ]
            if let via { f.append(.init("via", via)) }
            return f
        case .redelivered(let id, let count, let queue):
            return [.init("delivery_count", count), .init("message_id", id), .init("queue", queue)]
        case .resultAfterLoss(let job, let id):
            return [.init("job", job), .init("message_id", id)]
        case .publishFailed:
            return []
        case .requestFinished(let ms):
            return [.init("duration_ms", ms)]
        case .publishRefused(let job, let id, let outcome):
            return [.init("job", job), .init("message_id", id), .init("publish", outcome)]
        case .deadLetterUnroutable(let job, let id, let seconds, _, _):
            return [.init("job", job), .init("message_id", id), .init("retry_in_s", seconds)]
        case .connectionLost(let error, let inFlight, let awaiting):
            return [.init("awaiting_confirm", awaiting), .init("error", error), .init("in_flight", inFlight)]
        case .consumerCancelled(let queue):
            return [.init("queue", queue)]
        case .stopping(let inFlight, let grace):
            return [.init("grace_s", Int(grace)), .init("in_flight", inFlight)]
        case .graceOver(let n):
            return [.init("count", n)]
        case .breaker(let backend, let state, let by):
            let f: [LogField] = [.init("backend", backend), .init("state", state)]
            return by.map { [.init("announced_by", $0)] + f } ?? f
        case .delayed(let job, let id, let backend, let tier, let attempt):
            return [
                .init("attempt", attempt), .init("backend", backend), .init("delay", tier), .init("job", job),
                .init("message_id", id),
            ]
        case .permitRenewed(let backend):
            return [.init("backend", backend)]
        }
    }

    /// The fields as swift-log metadata, for a log handler other than ``LogfmtHandler`` (and tests).
    public var metadata: Logger.Metadata {
        var m: Logger.Metadata = [:]
        for f in fields { m[f.key] = .string(f.text) }
        return m
    }
}
