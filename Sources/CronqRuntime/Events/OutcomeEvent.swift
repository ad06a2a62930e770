import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A best-effort event on `cronq.events` (routing key `job.<name>.<event>`), for `cronq tail` and
/// monitoring. Carries names, ids, statuses and timings: never a token, a header value or a body.
///
/// A message carries one or more events of the same routing key, one JSON object per line (a worker
/// coalesces a loop turn's events: see `EventBatcher`); read them with ``decodeAll(_:)``.
public struct OutcomeEvent: Encodable, Sendable, Equatable {
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

    public init(
        event: String, job: String, messageID: String, scheduledAt: String? = nil, attempt: Int? = nil,
        status: Int? = nil,
        durationMs: Int? = nil, reason: String? = nil, tier: String? = nil, error: String? = nil, queue: String? = nil,
        at: Int64
    ) {
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

    /// Every event a message body carries, in order. A line that is not an event is skipped (events
    /// are best-effort; a foreign publisher must not break a reader).
    public static func decodeAll(_ body: [UInt8]) -> [OutcomeEvent] {
        lines(body).compactMap { decode(Array($0)) }
    }

    /// One event's JSON text, read with cronq's one JSON reader; nil when it is not an event.
    static func decode(_ line: [UInt8]) -> OutcomeEvent? {
        guard let o = try? JSONReader.parse(line), let event = o["event"]?.stringValue, let job = o["job"]?.stringValue,
            let messageID = o["message_id"]?.stringValue, let at = o["at"]?.stringValue
        else { return nil }
        var e = OutcomeEvent(event: event, job: job, messageID: messageID, at: 0)
        e.at = at
        e.scheduledAt = o["scheduled_at"]?.stringValue
        e.attempt = o["attempt"]?.intValue
        e.status = o["status"]?.intValue
        e.durationMs = o["duration_ms"]?.intValue
        e.reason = o["reason"]?.stringValue
        e.tier = o["tier"]?.stringValue
        e.error = o["error"]?.stringValue
        e.queue = o["queue"]?.stringValue
        return e
    }

    /// The body's lines: the events' JSON texts (a JSON string cannot hold a raw newline).
    public static func lines(_ body: [UInt8]) -> [ArraySlice<UInt8>] {
        body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
    }

    /// `job.<name>.<event>`.
    public var routingKey: String { Self.routingKey(job: job, event: event) }

    static func routingKey(job: String, event: String) -> String { "job.\(job).\(event)" }

    /// Keys in sorted order, absent values left out: the same bytes `JSONEncoder` with `.sortedKeys`
    /// writes, without its cost on the worker's per-job path.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(384)
        encode(into: &out)
        return out
    }

    /// ``encoded()`` appended to `out`: a worker writes a turn's events straight into the message body
    /// they leave in, not each into a buffer of its own that is then copied.
    func encode(into out: inout [UInt8]) {
        var w = JSONWriter(continuing: out)
        out = []  // the writer holds the only reference: it appends in place
        defer { out = w.bytes }
        // The keys are fixed and "at" is always present, so every member after it starts with a comma.
        w.literal("{\"at\":"); w.string(at)
        if let attempt { w.literal(",\"attempt\":"); w.int(attempt) }
        if let durationMs { w.literal(",\"duration_ms\":"); w.int(durationMs) }
        if let error { w.literal(",\"error\":"); w.string(error) }
        w.literal(",\"event\":"); w.string(event)
        w.literal(",\"job\":"); w.string(job)
        w.literal(",\"message_id\":"); w.string(messageID)
        if let queue { w.literal(",\"queue\":"); w.string(queue) }
        if let reason { w.literal(",\"reason\":"); w.string(reason) }
        if let scheduledAt { w.literal(",\"scheduled_at\":"); w.string(scheduledAt) }
        if let status { w.literal(",\"status\":"); w.int(status) }
        if let tier { w.literal(",\"tier\":"); w.string(tier) }
        w.literal("}")
    }
}
