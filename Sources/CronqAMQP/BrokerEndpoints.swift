/// Where a process connects: one broker endpoint at a time, from a list (DESIGN.md "Cluster").
///
/// Every process of a deployment (ticker, worker, each `cronq` command) starts from its own shuffled
/// order, so that clients spread over a cluster's nodes, and moves to the next endpoint at each failure
/// or loss: a dead node costs one failed attempt, not a backoff. Waiting happens per round: after every
/// endpoint has failed once in a row, the next attempt waits the capped, jittered backoff of
/// ``ReconnectBackoff``. A connection that lasted ``stableAfter`` starts a new round (and resets the
/// backoff) when it is lost; one the broker closed sooner counts as a failed attempt of the round.
///
/// Pure bookkeeping (no socket, no clock): the caller connects and sleeps. The one place the cluster's
/// endpoint list plugs into the connection lifecycle of the ticker, the worker and the CLI.
public struct BrokerEndpoints: Sendable {
    /// In the order this process tries them.
    public let urls: [AMQPURL]
    public private(set) var index = 0
    private var failedInRound = 0
    private var backoff: ReconnectBackoff

    /// - Parameters:
    ///   - urls: at least one endpoint.
    ///   - rng: shuffles the order (seed it in tests).
    public init<R: RandomNumberGenerator>(
        _ urls: [AMQPURL], initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(15),
        using rng: inout R
    ) {
        precondition(!urls.isEmpty, "at least one broker endpoint")
        self.urls = urls.shuffled(using: &rng)
        backoff = ReconnectBackoff(initial: initialDelay, maximum: maximumDelay)
    }

    public init(_ urls: [AMQPURL], initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(15)) {
        var rng = SystemRandomNumberGenerator()
        self.init(urls, initialDelay: initialDelay, maximumDelay: maximumDelay, using: &rng)
    }

    /// Parses every URL of the config.
    /// - Throws: ``AMQPError`` `.invalidURL` naming the endpoint by position (never its password).
    public init(strings: [String], maximumDelay: Duration = .seconds(15)) throws {
        var urls: [AMQPURL] = []
        for (i, s) in strings.enumerated() {
            do {
                urls.append(try AMQPURL(s))
            } catch let e as AMQPError {
                throw AMQPError(.invalidURL, detail: strings.count > 1 ? "endpoint \(i + 1): \(e.detail)" : e.detail)
            }
        }
        guard !urls.isEmpty else { throw AMQPError(.invalidURL, detail: "no broker endpoint") }
        self.init(urls, maximumDelay: maximumDelay)
    }

    /// The endpoint to connect to now.
    public var current: AMQPURL { urls[index] }

    /// How long a connection must have lasted to count as working. During a failover a broker accepts a
    /// connection and closes it on the first read of a queue whose new leader is not elected yet; counted
    /// as working, every such connection started a new round, and clients went round the nodes in a tight
    /// loop (tens of connections and error lines a second) until the election was over.
    public static let stableAfter: Duration = .seconds(2)

    /// Connecting to ``current`` failed: move to the next endpoint, and return how long to wait before
    /// trying it (zero while the round has endpoints left to try).
    public mutating func failed<R: RandomNumberGenerator>(using rng: inout R) -> Duration {
        index = (index + 1) % urls.count
        failedInRound += 1
        guard failedInRound >= urls.count else { return .zero }
        failedInRound = 0
        return backoff.nextDelay(using: &rng)
    }

    public mutating func failed() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return failed(using: &rng)
    }

    /// The connection to ``current`` was lost after `lived`: a connection that worked (``stableAfter``)
    /// starts a new round, so the next endpoint is tried at once; a shorter one is a failed attempt.
    public mutating func lost<R: RandomNumberGenerator>(after lived: Duration, using rng: inout R) -> Duration {
        if lived >= Self.stableAfter {
            failedInRound = 0
            backoff.reset()
        }
        return failed(using: &rng)
    }

    public mutating func lost(after lived: Duration) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return lost(after: lived, using: &rng)
    }
}

extension AMQPConnection {
    /// One round over the endpoints (the CLI's way): the first that connects, or the last error, saying
    /// how many endpoints were tried. Never waits between them.
    public static func connect(_ endpoints: BrokerEndpoints, name: String) throws -> AMQPConnection {
        var last: AMQPError? = nil
        for url in endpoints.urls {
            do {
                return try AMQPConnection(url: url, name: name)
            } catch let e as AMQPError {
                last = e
            }
        }
        let e = last!
        guard endpoints.urls.count > 1 else { throw e }
        throw AMQPError(
            e.code, replyCode: e.replyCode,
            detail: "none of the \(endpoints.urls.count) endpoints answered; last: \(e.detail)")
    }
}
