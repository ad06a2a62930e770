/// A `[[notify]]` sink: where the leading ticker tells people that a job needs them (DESIGN.md
/// "Backend guard and notifications").
public struct NotifySink: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A Slack incoming webhook: `text` plus `blocks`.
        case slack
        /// cronq's own JSON body, signed like backend calls when `signing_secret` is set.
        case webhook
    }

    /// What a sink can subscribe to.
    public enum Event: String, Sendable, CaseIterable, Comparable {
        /// A run ended in the dead-letter queue.
        case dead
        /// A job's runs ended dead `failing_after` times in a row.
        case failing
        /// The dead-man switch: no success for the job's `alert_after`.
        case silent
        /// The first success after `failing` or `silent`.
        case recovered
        /// A job paused by `pause_after_failures`.
        case paused
        /// A backend's circuit breaker opened, or closed again (`backend.<name>.open|closed`).
        case breaker

        public static func < (a: Event, b: Event) -> Bool { a.rawValue < b.rawValue }
    }

    /// `notify[0]`, or the `name` given.
    public var name: String
    public var kind: Kind
    /// The URL (a Slack webhook URL is itself a credential: never logged).
    public var url: Secret
    public var events: Set<Event>
    public var signingSecret: Secret?
    /// At most `rateCount` notifications per `ratePeriod`; the rest are folded into one digest.
    public var rateCount: Int
    public var ratePeriod: Duration
    /// Consecutive dead runs that make a job `failing`.
    public var failingAfter: Int

    public init(
        name: String, kind: Kind, url: Secret, events: Set<Event>, signingSecret: Secret? = nil, rateCount: Int = 10,
        ratePeriod: Duration = .seconds(60), failingAfter: Int = 3
    ) {
        self.name = name
        self.kind = kind
        self.url = url
        self.events = events
        self.signingSecret = signingSecret
        self.rateCount = rateCount
        self.ratePeriod = ratePeriod
        self.failingAfter = failingAfter
    }
}
