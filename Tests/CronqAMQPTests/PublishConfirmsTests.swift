import CronqAMQP
import Testing

@Suite("Publish confirm tracking")
struct PublishConfirmsTests {
    func returned(seq: UInt64?, messageID: String? = nil) -> AMQPEvent {
        .returned(
            AMQPReturn(
                channel: 1, replyCode: 312, replyText: "NO_ROUTE", exchange: "x", routingKey: "k",
                message: AMQPMessage(
                    body: [],
                    properties: AMQPProperties(
                        headers: seq.map { ["cronq-publish-id": .string(String($0))] }, messageID: messageID))))
    }

    @Test("single and multiple acks settle exactly the right publishes")
    func acks() {
        var c = PublishConfirms<String>()
        for i in 1...5 { c.published(seq: UInt64(i), token: "t\(i)") }
        let a = c.handle(.ack(channel: 1, deliveryTag: 2, multiple: false))
        #expect(a.map(\.token) == ["t2"])
        let b = c.handle(.ack(channel: 1, deliveryTag: 4, multiple: true))
        #expect(b.map(\.token) == ["t1", "t3", "t4"])
        #expect(b.allSatisfy { $0.outcome == .confirmed })
        #expect(c.inFlight == 1)
    }

    @Test("a nack fails the publishes it names")
    func nack() {
        var c = PublishConfirms<Int>()
        for i in 1...3 { c.published(seq: UInt64(i), token: i) }
        let r = c.handle(.nack(channel: 1, deliveryTag: 3, multiple: true))
        #expect(r.map(\.token) == [1, 2, 3])
        #expect(r.allSatisfy { $0.outcome == .nacked })
        #expect(c.isEmpty)
    }

    @Test("a return followed by its ack is a failed publish, matched by its publish id")
    func returnThenAck() {
        var c = PublishConfirms<Int>()
        c.published(seq: 1, token: 1)
        c.published(seq: 2, token: 2)
        #expect(c.handle(returned(seq: 2, messageID: "b")).isEmpty)
        let r = c.handle(.ack(channel: 1, deliveryTag: 2, multiple: true))
        #expect(r[0].outcome == .confirmed)
        #expect(r[1].outcome == .returned(replyCode: 312, replyText: "NO_ROUTE"))
    }

    @Test("two publishes in flight with the same message id: only the returned one fails")
    func sameMessageID() {
        var c = PublishConfirms<Int>()
        c.published(seq: 1, token: 1)
        c.published(seq: 2, token: 2)
        // Seq 1 is the one returned; by message id the broker's ack of seq 1 could have been taken for either.
        #expect(c.handle(returned(seq: 1, messageID: "job@2026-11-28T10:05:00Z")).isEmpty)
        let r = c.handle(.ack(channel: 1, deliveryTag: 2, multiple: true))
        #expect(r.map(\.token) == [1, 2])
        #expect(r[0].outcome == .returned(replyCode: 312, replyText: "NO_ROUTE"))
        #expect(r[1].outcome == .confirmed)
    }

    @Test("a returned message without a message id is still a failed publish")
    func returnWithoutMessageID() {
        var c = PublishConfirms<Int>()
        c.published(seq: 3, token: 3)
        _ = c.handle(returned(seq: 3, messageID: nil))
        #expect(
            c.handle(.ack(channel: 1, deliveryTag: 3, multiple: false)).first?.outcome
                == .returned(replyCode: 312, replyText: "NO_ROUTE"))
    }

    @Test("a return naming nothing pending changes nothing")
    func foreignReturn() {
        var c = PublishConfirms<Int>()
        c.published(seq: 1, token: 1)
        _ = c.handle(returned(seq: nil, messageID: "x"))
        _ = c.handle(returned(seq: 9))
        #expect(c.handle(.ack(channel: 1, deliveryTag: 1, multiple: false)).first?.outcome == .confirmed)
    }

    @Test("an ack for an unknown tag settles nothing; abandonAll returns the rest in order")
    func unknownAndAbandon() {
        var c = PublishConfirms<Int>()
        c.published(seq: 7, token: 7)
        c.published(seq: 5, token: 5)
        #expect(c.handle(.ack(channel: 1, deliveryTag: 99, multiple: false)).isEmpty)
        #expect(c.abandonAll() == [5, 7])
        #expect(c.isEmpty)
    }
}

@Suite("Reconnect backoff")
struct ReconnectBackoffTests {
    struct FixedRNG: RandomNumberGenerator {
        var state: UInt64 = 42
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test("doubles from the initial delay up to the cap, with jitter inside [ceiling/2, ceiling]")
    func growth() {
        var b = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(2))
        var rng = FixedRNG()
        var ceilings: [Duration] = []
        for _ in 0..<8 {
            let c = b.ceiling
            ceilings.append(c)
            let d = b.nextDelay(using: &rng)
            #expect(d >= c / 2 && d <= c)
        }
        #expect(
            ceilings.prefix(6) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                .seconds(2),
            ])
        #expect(ceilings.last == .seconds(2))
        b.reset()
        #expect(b.ceiling == .milliseconds(100))
    }
}

@Suite("Field tables")
struct AMQPTableTests {
    @Test("setting a key replaces it in place, nil removes it")
    func subscripts() {
        var t: AMQPTable = ["a": .int32(1), "b": .string("x")]
        t["a"] = .int32(2)
        t["c"] = .bool(true)
        t["b"] = nil
        #expect(t.keys == ["a", "c"])
        #expect(t["a"] == .int32(2))
    }

    @Test("stripping broker headers removes every x-* header and keeps cronq's")
    func strip() {
        var p = AMQPProperties(headers: [
            "x-death": .array([]), "X-First-Death-Queue": .string("q"), "x-delivery-count": .int64(3),
            "cronq-attempt": .int32(2),
        ])
        p.stripBrokerHeaders()
        #expect(p.headers?.keys == ["cronq-attempt"])
    }
}
