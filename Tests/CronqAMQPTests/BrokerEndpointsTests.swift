import CronqAMQP
import CronqCore
import Testing

@Suite("Broker endpoints")
struct BrokerEndpointsTests {
    static let three = ["amqp://u:p@a:5672/%2F", "amqp://u:p@b:5672/%2F", "amqps://u:p@c:5671/%2F"]

    static func endpoints(seed: UInt64 = 1) throws -> BrokerEndpoints {
        var rng = SplitMix64(seed: seed)
        return BrokerEndpoints(
            try three.map(AMQPURL.init), initialDelay: .milliseconds(100), maximumDelay: .seconds(2), using: &rng)
    }

    @Test("a failure moves to the next endpoint at once; a whole round of failures backs off, capped")
    func rotation() throws {
        var e = try Self.endpoints()
        var rng = SplitMix64(seed: 9)
        var seen: [String] = [e.current.host]
        #expect(e.failed(using: &rng) == .zero)
        seen.append(e.current.host)
        #expect(e.failed(using: &rng) == .zero)
        seen.append(e.current.host)
        #expect(Set(seen) == ["a", "b", "c"], "each endpoint once per round")
        let d1 = e.failed(using: &rng)
        #expect(d1 >= .milliseconds(50) && d1 <= .milliseconds(100), "the round is over: back off")
        #expect(e.current.host == seen[0], "and start the next round where the last began")
        var last = Duration.zero
        for _ in 0..<30 {
            let d = e.failed(using: &rng)
            if d > .zero { last = d }
            #expect(d <= .seconds(2), "capped")
        }
        #expect(last >= .seconds(1), "the backoff grows to its cap")
    }

    @Test("a connection that lasted starts a new round when lost, with the backoff reset; a brief one is a failure")
    func lostResets() throws {
        var e = try Self.endpoints()
        var rng = SplitMix64(seed: 3)
        for _ in 0..<9 { _ = e.failed(using: &rng) }
        // A connection the broker closed at once: one more failure of the round (the 10th: 1 of 3).
        #expect(e.lost(after: .milliseconds(300), using: &rng) == .zero)
        #expect(e.failed(using: &rng) == .zero)
        let grown = e.failed(using: &rng)
        #expect(grown > .milliseconds(100), "still backing off: \(grown)")
        // One that worked for a minute: the next endpoint at once, and the backoff from its first step.
        #expect(e.lost(after: .seconds(60), using: &rng) == .zero)
        #expect(e.failed(using: &rng) == .zero)
        let d = e.failed(using: &rng)
        #expect(d > .zero && d <= .milliseconds(100), "back to the first step")
    }

    @Test("one endpoint: every failure is a round")
    func single() throws {
        var rng = SplitMix64(seed: 5)
        var e = BrokerEndpoints(
            [try AMQPURL("amqp://h/")], initialDelay: .milliseconds(100), maximumDelay: .seconds(1), using: &rng)
        #expect(e.failed(using: &rng) > .zero)
        #expect(e.current.host == "h")
    }

    @Test("orders are shuffled per process: different seeds start elsewhere")
    func shuffled() throws {
        let firsts = Set(try (1...40).map { try Self.endpoints(seed: $0).current.host })
        #expect(firsts == ["a", "b", "c"])
    }

    @Test("a bad endpoint is named by position, never by its password")
    func badURL() {
        do {
            _ = try BrokerEndpoints(strings: ["amqp://u:p@a/", "amqp://u:s3cret@b:99999/"])
            Issue.record("accepted a bad port")
        } catch {
            #expect("\(error)".contains("endpoint 2") && !"\(error)".contains("s3cret"))
        }
        #expect(throws: AMQPError.self) { try BrokerEndpoints(strings: []) }
    }
}
