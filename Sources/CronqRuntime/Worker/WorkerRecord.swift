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

    public var metadata: Logger.Metadata {
        switch self {
        case .succeeded(let job, let id, let attempt, let status, let ms):
            return [
                "outcome": "success", "job": "\(job)", "message_id": "\(id)", "attempt": "\(attempt)",
                "status": "\(status)", "duration_ms": "\(ms)",
            ]
        case .retried(let job, let id, let attempt, let status, let tier, let error, let ms):
            return [
                "outcome": "retry", "job": "\(job)", "message_id": "\(id)", "attempt": "\(attempt)",
                "status": "\(status)", "delay": "\(tier)", "error": "\(error)", "duration_ms": "\(ms)",
            ]
        case .dead(let job, let id, let attempt, let reason, let status, let error, let via):
            var m: Logger.Metadata = [
                "outcome": "dead", "job": "\(job)", "message_id": "\(id)", "attempt": "\(attempt)",
                "reason": "\(reason)", "status": "\(status)", "error": "\(error)",
            ]
            if let via { m["via"] = "\(via)" }
            return m
        case .redelivered(let id, let count, let queue):
            return ["message_id": "\(id)", "delivery_count": "\(count)", "queue": "\(queue)"]
        case .resultAfterLoss(let job, let id):
            return ["job": "\(job)", "message_id": "\(id)"]
        case .publishFailed:
            return [:]
        case .requestFinished(let ms):
            return ["duration_ms": "\(ms)"]
        case .publishRefused(let job, let id, let outcome):
            return ["job": "\(job)", "message_id": "\(id)", "publish": "\(outcome)"]
        case .deadLetterUnroutable(let job, let id, let seconds, _, _):
            return ["job": "\(job)", "message_id": "\(id)", "retry_in_s": "\(seconds)"]
        case .connectionLost(let error, let inFlight, let awaiting):
            return ["error": "\(error)", "in_flight": "\(inFlight)", "awaiting_confirm": "\(awaiting)"]
        case .consumerCancelled(let queue):
            return ["queue": "\(queue)"]
        case .stopping(let inFlight, let grace):
            return ["in_flight": "\(inFlight)", "grace_s": "\(grace)"]
        case .graceOver(let n):
            return ["count": "\(n)"]
        case .breaker(let backend, let state, let by):
            var m: Logger.Metadata = ["backend": "\(backend)", "state": "\(state)"]
            if let by { m["announced_by"] = "\(by)" }
            return m
        case .delayed(let job, let id, let backend, let tier, let attempt):
            return [
                "job": "\(job)", "message_id": "\(id)", "backend": "\(backend)", "delay": "\(tier)",
                "attempt": "\(attempt)",
            ]
        case .permitRenewed(let backend):
            return ["backend": "\(backend)"]
        }
    }
}
