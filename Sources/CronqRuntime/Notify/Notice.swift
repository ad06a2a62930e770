import CronqCore

/// One thing to tell people about a job, decided by the leader (``JobHealth``) and delivered by the
/// ``Notifier`` to every sink that subscribes to its kind.
struct Notice: Sendable, Equatable {
    var event: NotifySink.Event
    var job: String
    var messageID: String?
    var attempt: Int?
    var status: Int?
    var reason: String?
    /// Already scrubbed of secrets by the worker that wrote the event.
    var error: String?
    /// Unix seconds.
    var at: Int64
    /// Dead runs in a row so far (for `dead` and `failing`).
    var consecutiveDead = 0
    /// What to run next, for a person reading it.
    var hint: String
    /// The backend, for `breaker` (whose `job` is empty: a breaker is about every job of the backend).
    var backend: String? = nil

    /// cronq's webhook body (DESIGN.md): `{"v":1,"event","job","message_id","attempt","status","reason","error","at","hint"}`.
    func webhookBody() -> [UInt8] {
        var w = JSONWriter()
        w.raw("{")
        w.key("v"); w.int(1); w.raw(",")
        w.key("event"); w.string(event.rawValue); w.raw(",")
        w.key("job"); w.string(job); w.raw(",")
        w.key("message_id"); w.optionalString(messageID); w.raw(",")
        w.key("attempt"); if let attempt { w.int(attempt) } else { w.raw("null") }; w.raw(",")
        w.key("status"); if let status { w.int(status) } else { w.raw("null") }; w.raw(",")
        w.key("reason"); w.optionalString(reason); w.raw(",")
        w.key("error"); w.optionalString(error); w.raw(",")
        w.key("at"); w.string(Timestamp.iso(at)); w.raw(",")
        w.key("hint"); w.string(hint)
        if let backend { w.raw(","); w.key("backend"); w.string(backend) }
        w.raw("}")
        return w.bytes
    }

    /// One line for a person: what happened, to which job, and what to run.
    var summary: String {
        switch event {
        case .dead:
            let what = status.map { "HTTP \($0)" } ?? reason ?? "failed"
            return "cronq: job \(job) is dead (\(what), attempt \(attempt ?? 0)): \(error ?? "")"
        case .failing: return "cronq: job \(job) is failing: \(consecutiveDead) runs in a row ended dead"
        case .silent: return "cronq: job \(job) is silent: \(reason ?? "no success recently")"
        case .recovered: return "cronq: job \(job) recovered: a run succeeded"
        case .paused: return "cronq: job \(job) was paused after \(consecutiveDead) dead runs in a row"
        case .breaker:
            return reason == "closed"
                ? "cronq: backend \(backend ?? "-") answers again: its circuit breaker closed"
                : "cronq: backend \(backend ?? "-") is failing: its circuit breaker opened, calls wait"
        }
    }

    /// A Slack incoming-webhook body: `text` for notifications, `blocks` for the message.
    func slackBody() -> [UInt8] {
        Self.slack(text: summary, detail: hint)
    }

    static func slack(text: String, detail: String) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{")
        w.key("text"); w.string(text); w.raw(",")
        w.key("blocks"); w.raw("[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",")
        w.key("text"); w.string(text); w.raw("}},{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",")
        w.key("text"); w.string(detail); w.raw("}]}]}")
        return w.bytes
    }
}
