/// Capped exponential backoff with full jitter, for reconnecting to a broker.
///
/// Pure: it only computes delays; the caller sleeps. ``reset()`` after a connection has worked.
public struct ReconnectBackoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var attempt = 0

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30)) {
        precondition(initial > .zero && maximum >= initial, "backoff bounds must be positive and ordered")
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling for the next wait: initial × 2^attempt, capped at maximum.
    public var ceiling: Duration {
        var d = initial
        for _ in 0..<min(attempt, 30) {
            d = d * 2
            if d >= maximum { return maximum }
        }
        return d
    }

    /// The next delay: uniformly random in [ceiling/2, ceiling], so many clients do not reconnect in step.
    public mutating func nextDelay<R: RandomNumberGenerator>(using rng: inout R) -> Duration {
        let c = ceiling
        attempt += 1
        let ms = max(Int64(c.components.seconds * 1000 + c.components.attoseconds / 1_000_000_000_000_000), 1)
        return .milliseconds(Int64.random(in: (ms / 2)...ms, using: &rng))
    }

    public mutating func nextDelay() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return nextDelay(using: &rng)
    }

    public mutating func reset() { attempt = 0 }
}
