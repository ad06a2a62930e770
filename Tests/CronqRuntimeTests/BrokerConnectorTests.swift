import CronqAMQP
import CronqCore
import Testing

@testable import CronqRuntime

/// The connection lifecycle's choices after a loss, on an explicit clock (no sleeps).
@Suite("Broker connector")
struct BrokerConnectorTests {
    static let endpoints = [
        "amqp://guest:guest@127.0.0.1:5721/%2F", "amqp://guest:guest@127.0.0.1:5722/%2F",
        "amqp://guest:guest@127.0.0.1:5723/%2F",
    ]

    @Test("connections the broker closes at once are failures of a round: it backs off, more each round")
    func briefConnections() throws {
        var rng = SplitMix64(seed: 0xB0FF)
        var c = BrokerConnector(endpoints: Self.endpoints, maximumDelay: .seconds(15))
        var now = ContinuousClock.now
        var delays: [Duration] = []
        // A failover: every node accepts, then closes the connection on the first read (no queue leader yet).
        for _ in 0..<9 {
            c.connected(try c.next(), now: now)
            now = now + .milliseconds(30)
            let d = c.lost(now: now, using: &rng)
            delays.append(d)
            now = now + d
        }
        // Each node once at once, then a wait: 200 ms, 400 ms, 800 ms ceilings (jittered down to half).
        #expect(delays.enumerated().allSatisfy { ($0.offset % 3 == 2) == ($0.element > .zero) }, "\(delays)")
        #expect(delays[2] <= .milliseconds(200) && delays[8] >= .milliseconds(400), "\(delays)")

        // Then a connection that works for a minute and is lost (its node died): the next node at once,
        // and the round and its backoff start over.
        c.connected(try c.next(), now: now)
        now = now + .seconds(60)
        #expect(c.lost(now: now, using: &rng) == .zero)
        var again: [Duration] = []
        for _ in 0..<2 {
            c.connected(try c.next(), now: now)
            again.append(c.lost(now: now + .milliseconds(10), using: &rng))
        }
        #expect(again[0] == .zero && again[1] > .zero && again[1] <= .milliseconds(200), "\(again)")
    }
}
