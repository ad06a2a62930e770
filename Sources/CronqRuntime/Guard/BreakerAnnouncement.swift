public import CronqAMQP
import CronqCore

/// A breaker's signal as it travels on `cronq.events` with routing key `backend.<name>.<state>`:
/// `{"v":1,"backend","state","by","at","cool_down_ms"}`, where `state` is a change (`open`,
/// `half_open`, `closed`) or, while closed, a count (`failure`, `success`). Every worker with a
/// breaker hears every one (and ignores its own, by `by`); the leading ticker turns `open` and `closed`
/// into `breaker` notifications; a last-value queue per backend keeps the latest for `cronq status`.
public struct BreakerAnnouncement: Sendable, Equatable {
    public var backend: String
    /// `open`, `half_open`, `closed`, `failure` or `success` (``CircuitBreaker/Signal``).
    public var state: String
    /// The announcing worker (`host/pid/nonce`): a worker skips what it said itself.
    public var by: String
    /// Unix seconds.
    public var at: Int64
    public var coolDownMs: Int64

    public init(backend: String, state: String, by: String, at: Int64, coolDownMs: Int64) {
        self.backend = backend
        self.state = state
        self.by = by
        self.at = at
        self.coolDownMs = coolDownMs
    }

    public static func routingKey(backend: String, state: String) -> String { "backend.\(backend).\(state)" }
    public var routingKey: String { Self.routingKey(backend: backend, state: state) }

    public var body: [UInt8] {
        var w = JSONWriter()
        w.raw("{")
        w.key("v"); w.int(1); w.raw(",")
        w.key("backend"); w.string(backend); w.raw(",")
        w.key("state"); w.string(state); w.raw(",")
        w.key("by"); w.string(by); w.raw(",")
        w.key("at"); w.string(Timestamp.iso(at)); w.raw(",")
        w.key("cool_down_ms"); w.int(Int(coolDownMs))
        w.raw("}")
        return w.bytes
    }

    /// Nil for anything else on the events exchange (a job's outcome, a foreign publisher's text).
    public static func decode(_ body: [UInt8]) -> BreakerAnnouncement? {
        guard let o = try? JSONReader.parse(body), let backend = o["backend"]?.stringValue,
            let state = o["state"]?.stringValue, CircuitBreaker.Signal(rawValue: state) != nil,
            let by = o["by"]?.stringValue, let at = o["at"]?.stringValue.flatMap(Timestamp.parse)
        else { return nil }
        return BreakerAnnouncement(
            backend: backend, state: state, by: by, at: at, coolDownMs: Int64(o["cool_down_ms"]?.intValue ?? 0))
    }

    /// The message published (best effort, like every event).
    public var message: AMQPMessage {
        AMQPMessage(
            body: body,
            properties: AMQPProperties(
                contentType: "application/json", deliveryMode: 2, timestamp: UInt64(max(0, at)),
                type: "cronq.breaker", appID: "cronq-worker"))
    }
}
