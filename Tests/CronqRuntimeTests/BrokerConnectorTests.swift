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

    @Test("a connection that ends at once backs off, more each time; one that lasted resets it and moves on at once")
    func briefConnections() throws {
        var rng = SplitMix64(seed: 0xB0FF)
        var c = BrokerConnector(endpoints: Self.endpoints, maximumDelay: .seconds(15))
        var now = ContinuousClock.now
        var delays: [Duration] = []
        // A failover: every node accepts, then closes the connection on the first read (no queue leader yet).
        for _ in 0..<6 {
            c.connected(try c.next(), now: now)
            now = now + .milliseconds(30)
            let d = c.lost(now: now, using: &rng)
            delays.append(d)
            now = now + d
        }
        #expect(delays.allSatisfy { $0 > .zero }, "never a tight loop: \(delays)")
        #expect(delays[0] <= .milliseconds(100), "the first retry is quick: \(delays[0])")
        #expect(delays[5] >= .milliseconds(1600), "the sixth waits longer (ceiling 3.2 s, jittered): \(delays[5])")
        #expect(delays[5] <= .milliseconds(3200))

        // Then a connection that works for a minute and is lost (its node died): the next node at once.
        c.connected(try c.next(), now: now)
        now = now + .seconds(60)
        #expect(c.lost(now: now, using: &rng) == .zero)
        // ... and a brief one after it starts the backoff over.
        c.connected(try c.next(), now: now)
        #expect(c.lost(now: now + .milliseconds(10), using: &rng) <= .milliseconds(100))
    }

    @Test("the backoff for brief connections never exceeds the configured maximum")
    func briefCapped() throws {
        var rng = SplitMix64(seed: 7)
        var c = BrokerConnector(endpoints: [Self.endpoints[0]], maximumDelay: .seconds(1))
        let now = ContinuousClock.now
        var worst: Duration = .zero
        for _ in 0..<20 {
            c.connected(try c.next(), now: now)
            worst = max(worst, c.lost(now: now, using: &rng))
        }
        #expect(worst <= .seconds(1) && worst >= .milliseconds(500), "\(worst)")
    }
}
