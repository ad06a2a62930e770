public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq history` and `cronq status --jobs`: what ran, when, and how it ended, read from the
/// `<prefix>.history` stream. Reading a stream is not destructive: every reader starts where it
/// likes (`x-stream-offset`, here a timestamp) and takes nothing away from the others.
public enum History {
    /// One run: every event of one message id (a fire, a trigger or a replay), folded.
    public struct Run: Sendable, Codable, Equatable {
        public var messageID: String
        public var job: String
        public var scheduledAt: String?
        /// succeeded, dead, retrying (not finished yet), fired (not taken yet), skipped
        public var outcome: String
        public var attempts: Int
        public var status: Int?
        public var durationMs: Int?
        public var reason: String?
        /// The last failure's error excerpt (a transport error or the start of the backend's answer).
        public var error: String?
        /// When its last event happened (ISO 8601).
        public var lastAt: String

        enum CodingKeys: String, CodingKey {
            case job, outcome, attempts, status, reason, error
            case messageID = "message_id"
            case scheduledAt = "scheduled_at"
            case durationMs = "duration_ms"
            case lastAt = "last_at"
        }
    }

    /// Which outcome wins when a run has several events: a success is final (a duplicate delivery
    /// that failed later does not undo it), then a dead letter, then the latest state.
    static func rank(_ event: String) -> Int {
        switch event {
        case "succeeded": 5
        case "dead": 4
        case "retrying": 3
        case "skipped": 2
        case "fired": 1
        default: 0
        }
    }

    /// Folds events into runs, newest first (by scheduled time, else last event).
    public static func runs(_ events: [OutcomeEvent]) -> [Run] {
        var byID: [String: Run] = [:]
        var order: [String] = []
        for e in events {
            if byID[e.messageID] == nil && isRunEvent(e) { order.append(e.messageID) }
            fold(e, into: &byID[e.messageID])
        }
        return order.compactMap { byID[$0] }.sorted {
            ($0.scheduledAt ?? $0.lastAt, $0.lastAt) > ($1.scheduledAt ?? $1.lastAt, $1.lastAt)
        }
    }

    /// Pause and resume are about a job, not a run.
    public static func isRunEvent(_ e: OutcomeEvent) -> Bool { e.event != "paused" && e.event != "resumed" }

    /// Adds one event to its run (nil: the run's first event). The dashboard folds the live stream with it
    /// too, so both show the same outcome for the same events.
    public static func fold(_ e: OutcomeEvent, into run: inout Run?) {
        guard isRunEvent(e) else { return }
        var r =
            run
            ?? Run(messageID: e.messageID, job: e.job, scheduledAt: nil, outcome: e.event, attempts: 0, lastAt: e.at)
        if r.scheduledAt == nil { r.scheduledAt = e.scheduledAt }
        if let a = e.attempt { r.attempts = max(r.attempts, a) }
        if e.at > r.lastAt { r.lastAt = e.at }
        // Later events of equal rank (a retry after a retry) replace earlier ones.
        if rank(e.event) >= rank(r.outcome) {
            r.outcome = e.event
            r.status = e.status ?? r.status
            r.durationMs = e.durationMs ?? r.durationMs
            r.reason = e.reason
            if e.event != "succeeded", let err = e.error, !err.isEmpty { r.error = err }
        }
        run = r
    }

    /// Every event since `since` (Unix seconds), optionally of one job, up to the moment of the call.
    /// - Throws: ``AMQPError``; 404 when the stream does not exist (run `cronq topology apply`).
    public static func events(
        connection: AMQPConnection, names: Topology.Names, since: Int64, job: String? = nil,
        now: Int64
    ) throws -> [OutcomeEvent] {
        let ch = try connection.openChannel()
        defer { ch.close() }
        try ch.setPrefetch(1000)  // a stream consumer needs a prefetch, and acks only as credit
        try ch.consume(queue: names.historyStream, arguments: ["x-stream-offset": .timestamp(UInt64(max(0, since)))])
        var out: [OutcomeEvent] = []
        var sinceAck = 0
        // Stop at the first event newer than the call (the stream is in order), or when it goes quiet.
        var wait: Duration = .seconds(3)
        while case .delivery(let d)? = try connection.nextEvent(timeout: wait) {
            wait = .milliseconds(300)
            sinceAck += 1
            if sinceAck >= 500 {
                try ch.ack(d.deliveryTag, multiple: true)
                sinceAck = 0
            }
            var newer = false
            for e in OutcomeEvent.decodeAll(d.message.body) {
                let at = Timestamp.parse(e.at) ?? 0
                if at > now { newer = true; break }
                // The offset is chunk-grained: earlier events of the first chunk come too.
                guard at >= since, job == nil || e.job == job else { continue }
                out.append(e)
            }
            if newer { break }
        }
        return out
    }

    public static func table(_ runs: [Run]) -> String {
        var rows = [["SCHEDULED_AT", "JOB", "OUTCOME", "ATTEMPTS", "STATUS", "DURATION_MS", "MESSAGE_ID"]]
        for r in runs {
            rows.append([
                r.scheduledAt ?? "-", r.job, r.outcome + (r.reason.map { " (\($0))" } ?? ""),
                r.attempts == 0 ? "-" : "\(r.attempts)",
                r.status.map(String.init) ?? "-", r.durationMs.map(String.init) ?? "-", r.messageID,
            ])
        }
        return TextTable.render(rows)
    }
}
