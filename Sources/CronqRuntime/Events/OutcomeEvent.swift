import CronqCore
import Foundation

/// A best-effort event on `cronq.events` (routing key `job.<name>.<event>`), for `cronq tail` and
/// monitoring. Carries names, ids, statuses and timings: never a token, a header value or a body.
public struct OutcomeEvent: Codable, Sendable, Equatable {
    public var event: String
    public var job: String
    public var messageID: String
    public var scheduledAt: String?
    public var attempt: Int?
    public var status: Int?
    public var durationMs: Int?
    public var reason: String?
    public var tier: String?
    public var error: String?
    public var queue: String?
    public var at: String

    enum CodingKeys: String, CodingKey {
        case event, job, attempt, status, reason, tier, error, queue, at
        case messageID = "message_id"
        case scheduledAt = "scheduled_at"
        case durationMs = "duration_ms"
    }

    public init(event: String, job: String, messageID: String, scheduledAt: String? = nil, attempt: Int? = nil, status: Int? = nil,
                durationMs: Int? = nil, reason: String? = nil, tier: String? = nil, error: String? = nil, queue: String? = nil,
                at: Int64) {
        self.event = event
        self.job = job
        self.messageID = messageID
        self.scheduledAt = scheduledAt
        self.attempt = attempt
        self.status = status
        self.durationMs = durationMs
        self.reason = reason
        self.tier = tier
        self.error = error
        self.queue = queue
        self.at = Timestamp.iso(at)
    }

    /// `job.<name>.<event>`.
    public var routingKey: String { "job.\(job).\(event)" }

    public func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? e.encode(self)) ?? Data())
    }
}
