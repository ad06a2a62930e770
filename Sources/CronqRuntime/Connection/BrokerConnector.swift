import CronqAMQP
import CronqCore
import Logging

/// The part of the connection lifecycle the ticker and the worker share: which endpoint to connect to next
/// (``BrokerEndpoints``, built at the first connect, so that an endpoint that does not parse is a logged,
/// retried error rather than a crash), what a connect, a failure and a loss do to it, the
/// `cronq_broker_endpoint` gauge, and the topology warnings logged once per process.
///
/// Owned by the loop's thread, like the connections it chooses for.
struct BrokerConnector {
    private var strings: [String]
    private let maximumDelay: Duration
    private var endpoints: BrokerEndpoints?
    private var inUse: String?
    private var topologyWarned = false
    /// When the connection in use was made (``BrokerEndpoints`` has no clock).
    private var connectedAt: ContinuousClock.Instant?

    init(endpoints: [String], maximumDelay: Duration = .seconds(15)) {
        strings = endpoints
        self.maximumDelay = maximumDelay
    }

    /// Whether a connection has ever worked (so the next one is a reconnect).
    var everConnected: Bool { inUse != nil }

    /// Every endpoint, passwords hidden, for the start-up line.
    var description: String { strings.map { (try? AMQPURL($0).description) ?? "?" }.joined(separator: ",") }

    /// The endpoint to connect to now.
    /// - Throws: ``AMQPError`` `.invalidURL` when the configured endpoints do not parse.
    mutating func next() throws -> AMQPURL {
        if endpoints == nil { endpoints = try BrokerEndpoints(strings: strings, maximumDelay: maximumDelay) }
        return endpoints!.current
    }

    /// `url` accepted a connection: it is exported as the endpoint in use (whether it worked is known
    /// when it is lost: ``lost(now:using:)``).
    mutating func connected(_ url: AMQPURL, now: ContinuousClock.Instant) {
        connectedAt = now
        CronqMetrics.brokerEndpoint(url.description, previous: inUse)
        inUse = url.description
    }

    /// Queues an earlier cronq created (see ``TopologyDeclarer/Report/warnings``): logged at the first connect only.
    mutating func declared(_ report: TopologyDeclarer.Report, logger: Logger) {
        guard !topologyWarned else { return }
        for w in report.warnings { logger.warning("topology", metadata: ["warning": "\(w)"]) }
        topologyWarned = true
    }

    /// Connecting failed: the wait before the next attempt, and the log fields that say where it goes.
    mutating func connectFailed() -> (delay: Duration, metadata: Logger.Metadata) {
        let failed = endpoints?.current.description ?? "-"
        let delay = endpoints?.failed() ?? .seconds(5)
        return (
            delay,
            [
                "retry_in_ms": "\(delay.totalMilliseconds)", "endpoint": "\(failed)",
                "next_endpoint": "\(endpoints?.current.description ?? "-")",
            ]
        )
    }

    /// The connection was lost: the next endpoint at once (the node may be dead) if it had worked, a
    /// failed attempt of the round if the broker closed it within ``BrokerEndpoints/stableAfter``.
    mutating func lost<R: RandomNumberGenerator>(now: ContinuousClock.Instant, using rng: inout R) -> Duration {
        defer { connectedAt = nil }
        return endpoints?.lost(after: connectedAt.map { now - $0 } ?? .zero, using: &rng) ?? .seconds(1)
    }

    mutating func lost(now: ContinuousClock.Instant) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return lost(now: now, using: &rng)
    }

    /// A reload: other endpoints are used from the next connect; the same ones keep their order.
    mutating func reload(endpoints new: [String]) {
        guard new != strings else { return }
        strings = new
        endpoints = nil
    }
}
