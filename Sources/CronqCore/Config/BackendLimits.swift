/// What a backend allows across every worker (DESIGN.md "Backend guard and notifications"):
/// `max_in_flight`, `rate` with `burst`, and the circuit `breaker`. Pure settings; the worker's
/// `BackendGuard` enforces them with state kept in RabbitMQ.
public struct BackendLimits: Sendable, Equatable {
    /// At most this many requests in flight to the backend, across every worker process.
    public var maxInFlight: Int?
    public var rate: Rate?
    public var breaker: Breaker?

    public init(maxInFlight: Int? = nil, rate: Rate? = nil, breaker: Breaker? = nil) {
        self.maxInFlight = maxInFlight
        self.rate = rate
        self.breaker = breaker
    }

    /// Nothing set: the worker calls the backend as before, with no guard state at all.
    public var isEmpty: Bool { maxInFlight == nil && rate == nil && breaker == nil }

    /// `rate = "20/s"` (or `/m`, `/h`), `burst = N`: a ring of `burst` tokens, each usable once per
    /// `burst / rate`. Why a ring and not a timer: the tokens need no process to mint them on time, a
    /// dead worker's unused tokens come back with its connection, and no interval can ever hold more
    /// calls than the ring has tokens (see docs/decisions.md "Backend guard").
    public struct Rate: Sendable, Equatable {
        public var count: Int
        public var period: Duration
        /// Calls that may start back to back after an idle spell (default 1: evenly spaced).
        public var burst: Int

        public init(count: Int, period: Duration, burst: Int = 1) {
            self.count = count
            self.period = period
            self.burst = burst
        }

        /// How long a used token rests before it can start another call: `burst × period / count`,
        /// rounded up to the millisecond (never faster than asked).
        public var tokenRest: Duration {
            let ms = (Int64(burst) * period.totalMilliseconds + Int64(count) - 1) / Int64(count)
            return .milliseconds(max(1, ms))
        }

        /// The most calls any one-second window can see: each of the `burst` tokens starts a call at
        /// most once per `tokenRest`, so a window of a second holds at most `⌈1 s / rest⌉` of its uses.
        public var maxPerSecond: Int {
            let rest = tokenRest.totalMilliseconds
            return burst * Int((1000 + rest - 1) / rest)
        }

        /// Token cycles per second above which one token starts several calls: each cycle (an ack, a
        /// publish to rest, an expiry, a dead-letter back, on quorum queues) costs the broker about 0.2 ms
        /// of CPU, so 200 cycles a second keep the ring at a few percent of a core (docs/benchmarks.md).
        public static let tokenCyclesPerSecond = 200

        /// Calls one token starts before it goes to rest (the worker spends them in a bunch, and the rest
        /// runs from the last): 1 at the rates people set for a backend; above ``tokenCyclesPerSecond`` the
        /// smallest divisor of `burst` that brings the ring's cycles under it (`burst` itself when none
        /// does). A divisor, so that the ring's tokens × calls stay exactly `burst`: no interval can hold
        /// more calls than with one call per token, only fewer broker round trips.
        public var callsPerToken: Int {
            let cycles = Int64(Self.tokenCyclesPerSecond) * period.totalMilliseconds / 1000
            guard cycles > 0, Int64(count) > cycles else { return 1 }
            let wanted = Int((Int64(count) + cycles - 1) / cycles)
            return (wanted...max(wanted, burst)).first { burst % $0 == 0 } ?? burst
        }

        /// Tokens in the ring: `burst / callsPerToken`.
        public var tokens: Int { burst / callsPerToken }

        /// Parses `N/s`, `N/m` or `N/h`; nil when the text is not one.
        public static func parse(_ text: String, burst: Int = 1) -> Rate? {
            let parts = text.trimmingBlanks.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let n = Int(parts[0].trimmingBlanks), n > 0 else { return nil }
            let period: Duration
            switch parts[1].trimmingBlanks {
            case "s": period = .seconds(1)
            case "m": period = .seconds(60)
            case "h": period = .seconds(3600)
            default: return nil
            }
            return Rate(count: n, period: period, burst: burst)
        }

        /// As written: `20/s`.
        public var description: String {
            let unit = period == .seconds(1) ? "s" : period == .seconds(60) ? "m" : "h"
            return "\(count)/\(unit)"
        }
    }

    /// `breaker = { failures = 5, cool_down = "30s" }`.
    public struct Breaker: Sendable, Equatable {
        /// Consecutive retryable failures (transport errors, 5xx, 408/425/429) that open it.
        public var failures: Int
        /// How long it stays open before one probe may go through.
        public var coolDown: Duration

        public init(failures: Int = 5, coolDown: Duration = .seconds(30)) {
            self.failures = failures
            self.coolDown = coolDown
        }
    }
}

extension Topology.Names {
    /// A limited backend's permits: the count is in the name, so a changed `max_in_flight` gets a queue
    /// of its own instead of a redeclare the broker would refuse.
    public func permitQueue(_ backend: String, _ maxInFlight: Int) -> String {
        "\(prefix).guard.\(backend).permits.\(maxInFlight)"
    }

    /// A rate's ready tokens (`tokens` of them, each resting `tokenRest` after use), named like its shape;
    /// with the calls per token in the name when above 1, so that a worker never reads a ring minted for
    /// one call per token as worth several.
    public func tokenQueue(_ backend: String, _ rate: BackendLimits.Rate) -> String {
        let k = rate.callsPerToken
        return "\(prefix).guard.\(backend).rate.\(rate.burst)x\(rate.tokenRest.totalMilliseconds)ms"
            + (k > 1 ? ".\(k)calls" : "")
    }

    /// Where a used token rests (`x-message-ttl`) before the broker dead-letters it back to ``tokenQueue(_:_:)``.
    public func tokenRestQueue(_ backend: String, _ rate: BackendLimits.Rate) -> String {
        tokenQueue(backend, rate) + ".rest"
    }

    /// The backend's latest breaker announcement (a last-value queue), for `cronq status`.
    public func breakerQueue(_ backend: String) -> String { "\(prefix).guard.\(backend).breaker" }
}
