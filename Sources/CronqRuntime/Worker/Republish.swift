public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The messages a worker publishes for an outcome: a retry or a dead letter, and what a replay sends.
/// All keep the original body; their properties are built from an allow-list (``carried(_:)``), never
/// copied, and carry cronq's own counters.
public enum Republish {
    /// The properties a re-publish keeps from the message it re-publishes: content type, message id,
    /// timestamp, type, app id and cronq's own scalar headers. Nothing else, because a copied property
    /// can turn one publish into harm: `user_id` (not the publisher's user) makes the broker close the
    /// confirm channel with every outcome in flight on it, `expiration` silently expires a dead letter,
    /// `CC`/`BCC` headers copy it into every queue they name on each retry, and `x-death` makes 3.10
    /// drop it (DESIGN.md "Message authentication and hostile input").
    public static func carried(_ p: AMQPProperties) -> AMQPProperties {
        var headers = AMQPTable()
        for e in p.headers?.entries ?? []
        where e.key.hasPrefix("cronq-") && e.key != AMQPProperties.publishIDHeader {
            switch e.value {
            case .string, .bytes, .bool, .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .timestamp:
                headers[e.key] = e.value
            default:
                continue  // cronq writes no nested values; a table here came from someone else
            }
        }
        return AMQPProperties(
            contentType: JobMessageProperties.contentType, headers: headers, deliveryMode: 2, messageID: p.messageID,
            timestamp: p.timestamp, type: p.type, appID: p.appID)
    }

    /// The message to publish to `cronq.retry` for the next attempt.
    public static func retry(_ original: AMQPMessage, tier: String, nextAttempt: Int, firstAttemptAt: Int64)
        -> AMQPMessage
    {
        var m = AMQPMessage(body: original.body, properties: carried(original.properties))
        var h = m.properties.headers ?? AMQPTable()
        h[JobMessageProperties.delayHeader] = .string(tier)
        h[JobMessageProperties.attemptHeader] = .int32(Int32(clamping: nextAttempt))
        if h[JobMessageProperties.firstAttemptAtHeader] == nil {
            h[JobMessageProperties.firstAttemptAtHeader] = .string(Timestamp.iso(firstAttemptAt))
        }
        m.properties.headers = h
        m.properties.deliveryMode = 2
        return m
    }

    /// The dead letter: original body and properties plus the `cronq-dead-*` headers.
    /// `error` is cut to 200 characters and must not contain the token; `scrub` removes it anyway.
    public static func dead(
        _ original: AMQPMessage, reason: String, status: Int?, error: String, attempt: Int, queue: String, at: Int64,
        scrub: [Secret] = []
    ) -> AMQPMessage {
        var m = AMQPMessage(body: original.body, properties: carried(original.properties))
        var h = m.properties.headers ?? AMQPTable()
        h[JobMessageProperties.delayHeader] = nil
        h[JobMessageProperties.deadReasonHeader] = .string(reason)
        h[JobMessageProperties.deadStatusHeader] = .int32(Int32(clamping: status ?? 0))
        h[JobMessageProperties.deadErrorHeader] = .string(safeError(error, scrub: scrub))
        h[JobMessageProperties.deadAtHeader] = .string(Timestamp.iso(at))
        h[JobMessageProperties.attemptHeader] = .int32(Int32(clamping: attempt))
        h[JobMessageProperties.queueHeader] = .string(queue)
        m.properties.headers = h
        m.properties.deliveryMode = 2
        return m
    }

    /// Short, single-line, and free of any secret.
    public static func safeError(_ error: String, scrub: [Secret]) -> String {
        var e = error
        for s in scrub where !s.isEmpty { e = e.replacingAll(s.reveal(), with: "***") }
        e = String(e.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        return e.count > 200 ? String(e.prefix(197)) + "..." : e
    }

    /// The attempt number a delivery carries (`cronq-attempt`, 1 when absent or nonsense).
    public static func attempt(of m: AMQPMessage) -> Int {
        guard let v = m.properties.headers?[JobMessageProperties.attemptHeader]?.intValue, v >= 1 else { return 1 }
        return Int(clamping: v)
    }

    /// When attempt 1 ran (`cronq-first-attempt-at`), if recorded.
    public static func firstAttemptAt(of m: AMQPMessage) -> Int64? {
        m.properties.headers?[JobMessageProperties.firstAttemptAtHeader]?.stringValue.flatMap(Timestamp.parse)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
