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
    /// When the connection in use was made, and the backoff for connections that end at once.
    private var connectedAt: ContinuousClock.Instant?
    private var brief: ReconnectBackoff
    /// A connection lost sooner than this after it was made did not work: it backs off like a failed connect.
    static let stableAfter: Duration = .seconds(2)

    init(endpoints: [String], maximumDelay: Duration = .seconds(15)) {
        strings = endpoints
        self.maximumDelay = maximumDelay
        brief = ReconnectBackoff(initial: min(.milliseconds(100), maximumDelay), maximum: maximumDelay)
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

    /// `url` works: a new round starts from it, and it is exported as the endpoint in use.
    mutating func connected(_ url: AMQPURL, now: ContinuousClock.Instant) {
        endpoints?.connected()
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

    /// A working connection was lost: the next endpoint at once (the node may be dead); a backoff only
    /// after a whole round failed. A connection that ended within ``stableAfter`` of being made backs off
    /// as well, growing while they keep ending so: during a failover the broker accepts a connection and
    /// then closes it on the first read of a queue whose leader is not elected yet, and without a backoff
    /// every client went round the nodes in a tight loop (tens of connections and error lines a second).
    mutating func lost<R: RandomNumberGenerator>(now: ContinuousClock.Instant, using rng: inout R) -> Duration {
        let next = endpoints?.failed(using: &rng) ?? .seconds(1)
        defer { connectedAt = nil }
        guard let at = connectedAt, now - at < Self.stableAfter else {
            brief.reset()
            return next
        }
        return max(next, brief.nextDelay(using: &rng))
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
