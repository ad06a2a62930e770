import CronqAMQP
import CronqTestSupport
import Foundation
import Testing

/// The AMQP layer against the private RabbitMQ node that `make test` starts.
@Suite("AMQP against RabbitMQ", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct AMQPBrokerTests {
    static func connect(_ url: String = TestBroker.url!, name: String = "cronq-test") throws -> AMQPConnection {
        try AMQPConnection(url: AMQPURL(url), name: name)
    }

    static func message(_ id: String, _ body: String = "{}", headers: AMQPTable? = nil) -> AMQPMessage {
        AMQPMessage(
            body: Array(body.utf8),
            properties: AMQPProperties(
                contentType: "application/json", headers: headers, deliveryMode: 2, messageID: id))
    }

    @Test("10,000 pipelined persistent publishes are all confirmed")
    func manyConfirms() async throws {
        let confirmed = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let q = uniqueName("t-confirms")
            try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum")])
            defer { _ = try? ch.deleteQueue(q) }
            try ch.enableConfirms()
            let batch = (0..<10_000).map { i in
                OutgoingMessage(exchange: "", routingKey: q, message: Self.message("m\(i)"))
            }
            let results = try ch.publishAndConfirm(batch, timeout: .seconds(60))
            let info = try ch.inspectQueue(q)
            return (results.filter { $0 == .confirmed }.count, info.messageCount)
        }
        #expect(confirmed.0 == 10_000)
        #expect(confirmed.1 == 10_000)
    }

    @Test("a mandatory publish to an unroutable key comes back as returned")
    func unroutable() async throws {
        let results = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let x = uniqueName("t-x")
            try ch.declareExchange(x, kind: .direct, durable: false, autoDelete: true)
            defer { try? ch.deleteExchange(x) }
            try ch.enableConfirms()
            return try ch.publishAndConfirm([
                OutgoingMessage(exchange: x, routingKey: "nowhere", message: Self.message("lost-1"))
            ])
        }
        #expect(results == [.returned(replyCode: 312, replyText: "NO_ROUTE")])
    }

    @Test("consume, ack, nack with requeue, reject")
    func consumeAckNack() async throws {
        let outcome = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let q = uniqueName("t-consume")
            try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum")])
            defer { _ = try? c.openChannel().deleteQueue(q) }
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm(
                (1...3).map { OutgoingMessage(exchange: "", routingKey: q, message: Self.message("c\($0)")) })
            let consumer = try c.openChannel()
            try consumer.setPrefetch(10)
            try consumer.consume(queue: q)
            var seen: [String] = []
            var redelivered: [String] = []
            let deadline = ContinuousClock.now + .seconds(10)
            var nackedOnce = false
            while seen.count < 3 && ContinuousClock.now < deadline {
                guard case .delivery(let d)? = try c.nextEvent(timeout: .seconds(1)) else { continue }
                let id = d.message.properties.messageID ?? "?"
                if id == "c2" && !nackedOnce {
                    nackedOnce = true
                    try consumer.nack(d.deliveryTag, requeue: true)
                    continue
                }
                if d.redelivered { redelivered.append(id) }
                if id == "c3" {
                    try consumer.reject(d.deliveryTag, requeue: false)
                } else {
                    try consumer.ack(d.deliveryTag)
                }
                seen.append(id)
            }
            // Wait until the acks are settled before reading the count (quorum queues apply them asynchronously).
            var left = UInt32.max
            for _ in 0..<50 {
                left = try ch.inspectQueue(q).messageCount
                if left == 0 { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return (seen.sorted(), redelivered, left)
        }
        #expect(outcome.0 == ["c1", "c2", "c3"])
        #expect(outcome.1 == ["c2"])
        #expect(outcome.2 == 0)
    }

    @Test("basic.get returns nil on an empty queue and the message otherwise; passive declare counts")
    func getAndCounts() async throws {
        let r = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let q = uniqueName("t-get")
            try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum")])
            defer { _ = try? c.openChannel().deleteQueue(q) }
            let empty = try ch.get(queue: q)
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm(
                (1...4).map { OutgoingMessage(exchange: "", routingKey: q, message: Self.message("g\($0)")) })
            let before = try ch.inspectQueue(q)
            let got = try ch.get(queue: q)
            try ch.ack(got!.deliveryTag)
            try ch.declareQueue(q + "-probe", exclusive: true, autoDelete: true)
            try ch.consume(queue: q + "-probe")
            let consumers = try ch.inspectQueue(q + "-probe").consumerCount
            return (empty == nil, before.messageCount, got?.message.properties.messageID, consumers)
        }
        #expect(r.0)
        #expect(r.1 == 4)
        #expect(r.2 == "g1")
        #expect(r.3 == 1)
    }

    @Test("headers of every type survive a round trip through the broker")
    func tableRoundTrip() async throws {
        let headers: AMQPTable = [
            "s": .string("hello ✓"), "b": .bool(true), "i8": .int8(-5), "u8": .uint8(200), "i16": .int16(-300),
            "i32": .int32(-70000), "i64": .int64(1 << 40), "f": .float(1.5), "d": .double(2.25),
            "t": .timestamp(1_780_000_000), "arr": .array([.string("a"), .int32(1)]),
            "tbl": .table(["k": .string("v")]), "bytes": .bytes([0, 1, 2]), "dec": .decimal(scale: 2, value: 12345),
            "v": .void,
        ]
        let got = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let q = uniqueName("t-table")
            try ch.declareQueue(q, durable: false, autoDelete: false)
            defer { _ = try? ch.deleteQueue(q) }
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm([
                // A non-ASCII message id: property strings are decoded in place from rabbitmq-c's buffer.
                OutgoingMessage(exchange: "", routingKey: q, message: Self.message("rt-é✓", headers: headers))
            ])
            return try ch.get(queue: q, noAck: true)
        }
        var received = got?.message.properties.headers
        // Every mandatory confirmed publish carries its sequence number, for matching returns.
        #expect(received?["cronq-publish-id"] == .string("1"))
        received?["cronq-publish-id"] = nil
        #expect(received == headers)
        #expect(got?.message.properties.contentType == "application/json")
        #expect(got?.message.properties.deliveryMode == 2)
        #expect(got?.message.properties.messageID == "rt-é✓")
    }

    @Test("a precondition failure is a typed 406 naming the argument; a new channel works")
    func preconditionFailed() async throws {
        let r = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let q = uniqueName("t-pre")
            try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum"), "x-delivery-limit": .int64(20)])
            var error: AMQPError?
            do {
                try ch.declareQueue(q, arguments: ["x-queue-type": .string("quorum"), "x-delivery-limit": .int64(5)])
            } catch let e as AMQPError { error = e }
            let channelOpen = ch.isOpen
            let again = try c.openChannel()
            let info = try again.inspectQueue(q)
            try again.deleteQueue(q)
            return (error, channelOpen, info.name)
        }
        #expect(r.0?.code == .channelClosed)
        #expect(r.0?.replyCode == 406)
        #expect(r.0?.detail.contains("x-delivery-limit") == true)
        #expect(r.1 == false)
        #expect(r.2.hasPrefix("t-pre"))
    }

    @Test("a missing queue is 404 NOT_FOUND; a second exclusive consumer's queue is 405 RESOURCE_LOCKED")
    func notFoundAndLocked() async throws {
        let r = try await onThread {
            let c = try Self.connect()
            var notFound: AMQPError?
            do { _ = try c.openChannel().inspectQueue(uniqueName("t-missing")) } catch let e as AMQPError {
                notFound = e
            }
            let q = uniqueName("t-lock")
            let owner = try c.openChannel()
            try owner.declareQueue(q, durable: false, exclusive: true)
            let other = try Self.connect()
            var locked: AMQPError?
            do { try other.openChannel().declareQueue(q, durable: false, exclusive: true) } catch let e as AMQPError {
                locked = e
            }
            return (notFound, locked)
        }
        #expect(r.0?.replyCode == 404)
        #expect(r.1?.replyCode == 405)
    }

    @Test("a message with TTL in a retry tier comes back to its work queue through the DLX, with its routing key")
    func ttlRoundTrip() async throws {
        let r = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let jobs = uniqueName("t-jobs")
            let retry = uniqueName("t-retry")
            let work = jobs + ".default"
            let tier = retry + ".1s"
            try ch.declareExchange(jobs, kind: .direct)
            try ch.declareExchange(retry, kind: .headers)
            try ch.declareQueue(work, arguments: ["x-queue-type": .string("quorum")])
            try ch.bindQueue(work, exchange: jobs, routingKey: "default")
            try ch.declareQueue(
                tier,
                arguments: [
                    "x-queue-type": .string("quorum"), "x-message-ttl": .int64(1000),
                    "x-dead-letter-exchange": .string(jobs), "x-dead-letter-strategy": .string("at-least-once"),
                    "x-overflow": .string("reject-publish"),
                ])
            try ch.bindQueue(
                tier, exchange: retry, routingKey: "",
                arguments: ["x-match": .string("all"), "cronq-delay": .string("1s")])
            defer {
                _ = try? ch.deleteQueue(work); _ = try? ch.deleteQueue(tier)
                try? ch.deleteExchange(jobs); try? ch.deleteExchange(retry)
            }
            try ch.enableConfirms()
            let sent = ContinuousClock.now
            let res = try ch.publishAndConfirm([
                OutgoingMessage(
                    exchange: retry, routingKey: "default",
                    message: Self.message("ttl-1", headers: ["cronq-delay": .string("1s")]))
            ])
            var got: AMQPDelivery?
            while got == nil && ContinuousClock.now - sent < .seconds(15) {
                got = try ch.get(queue: work)
                if got == nil { Thread.sleep(forTimeInterval: 0.1) }
            }
            if let got { try ch.ack(got.deliveryTag) }
            return (
                res, got?.message.properties.messageID, got?.routingKey, ContinuousClock.now - sent,
                got?.message.properties.headers?["x-death"] != nil
            )
        }
        #expect(r.0 == [.confirmed])
        #expect(r.1 == "ttl-1")
        #expect(r.2 == "default")
        #expect(r.3 >= .milliseconds(900))
        #expect(r.4, "the broker records the dead-lettering in x-death")
    }

    @Test("a dead letter re-published without its x-* headers survives a retry tier; with them it is dropped")
    func republishStripsBrokerHeaders() async throws {
        let r = try await onThread {
            let c = try Self.connect()
            let ch = try c.openChannel()
            let jobs = uniqueName("t-jobs")
            let dead = jobs + ".dead"
            let work = jobs + ".w"
            let tier = jobs + ".tier"
            try ch.declareExchange(jobs, kind: .direct)
            try ch.declareExchange(dead, kind: .fanout)
            try ch.declareQueue(dead, arguments: ["x-queue-type": .string("quorum")])
            try ch.bindQueue(dead, exchange: dead, routingKey: "")
            try ch.declareQueue(
                work, arguments: ["x-queue-type": .string("quorum"), "x-dead-letter-exchange": .string(dead)])
            try ch.declareQueue(
                tier,
                arguments: [
                    "x-queue-type": .string("quorum"), "x-message-ttl": .int64(200),
                    "x-dead-letter-exchange": .string(jobs),
                ])
            // The tier dead-letters with the original routing key, its own name here (default exchange).
            try ch.bindQueue(work, exchange: jobs, routingKey: tier)
            defer {
                for q in [work, tier, dead] { _ = try? ch.deleteQueue(q) }
                try? ch.deleteExchange(jobs); try? ch.deleteExchange(dead)
            }
            try ch.enableConfirms()
            func await_(_ queue: String, _ wait: Duration) throws -> AMQPDelivery? {
                let deadline = ContinuousClock.now + wait
                while ContinuousClock.now < deadline {
                    if let d = try ch.get(queue: queue) { try ch.ack(d.deliveryTag); return d }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return nil
            }
            // 1. The message dies in the work queue (per-message TTL) and lands in the dead queue.
            var m = Self.message("rp-1")
            m.properties.expiration = "1"
            _ = try ch.publishAndConfirm([OutgoingMessage(exchange: "", routingKey: work, message: m)])
            guard let deadLetter = try await_(dead, .seconds(10)) else { return (false, false, [String](), false) }
            // 2. Control: replayed through the retry tier as it is, x-death names the work queue, and
            //    RabbitMQ 3.10's cycle detection silently drops it on the way back.
            _ = try ch.publishAndConfirm([OutgoingMessage(exchange: "", routingKey: tier, message: deadLetter.message)])
            let unstripped = try await_(work, .seconds(3))
            // 3. Stripped of every x-* header, the same message comes back.
            var again = deadLetter.message
            again.properties.stripBrokerHeaders()
            _ = try ch.publishAndConfirm([OutgoingMessage(exchange: "", routingKey: tier, message: again)])
            let stripped = try await_(work, .seconds(10))
            return (
                deadLetter.message.properties.headers?["x-death"] != nil, stripped != nil,
                again.properties.headers?.keys.filter { $0.hasPrefix("x-") } ?? [], unstripped == nil
            )
        }
        #expect(r.0, "the dead letter carries x-death")
        #expect(r.1, "the stripped re-publish came back through the tier")
        #expect(r.2.isEmpty)
        #expect(r.3, "without stripping, the broker drops the message (the bug this guards against)")
    }

    @Test("the broker closing the connection gives a typed error, not a crash or a hang")
    func brokerClosesConnection() async throws {
        let r = try await onThread { () -> (AMQPError?, Bool) in
            let name = uniqueName("t-closeme")
            let c = try Self.connect(name: name)
            let ch = try c.openChannel()
            try ch.declareQueue(name, durable: false, exclusive: true)
            try TestBroker.closeConnection(named: name)
            var error: AMQPError?
            do {
                for _ in 0..<50 { _ = try c.nextEvent(timeout: .milliseconds(100)) }
            } catch let e as AMQPError { error = e }
            var publishRefused = false
            do { try ch.publish(exchange: "", routingKey: name, message: Self.message("x")) } catch {
                publishRefused = true
            }
            return (error, publishRefused)
        }
        #expect(r.0?.code == .connectionClosed)
        #expect(r.0?.replyCode == 320)
        #expect(r.1)
    }

    @Test("a dropped TCP connection (proxy killed) is a typed error")
    func tcpDropped() async throws {
        let proxy = try startProxy(to: TestBroker.hostPort)
        let port = proxy.port
        let r = try await onThread { () -> AMQPError? in
            let c = try Self.connect("amqp://guest:guest@127.0.0.1:\(port)/%2F?heartbeat=2")
            let ch = try c.openChannel()
            try ch.enableConfirms()
            proxy.signal(SIGKILL)
            do {
                for i in 0..<100 {
                    _ = try ch.publish(exchange: "", routingKey: "nowhere", message: Self.message("d\(i)"))
                    _ = try c.nextEvent(timeout: .milliseconds(100))
                }
            } catch let e as AMQPError { return e }
            return nil
        }
        #expect(r != nil)
        #expect(r?.isConnectionFatal == true)
    }

    @Test("a frozen broker (peer silent, TCP open) is detected within two heartbeats; publishing does not hang")
    func frozenPeer() async throws {
        let proxy = try startProxy(to: TestBroker.hostPort)
        let port = proxy.port
        let r = try await onThread { () -> (AMQPError?, Duration) in
            let c = try Self.connect("amqp://guest:guest@127.0.0.1:\(port)/%2F?heartbeat=1")
            let ch = try c.openChannel()
            try ch.enableConfirms()
            proxy.signal(SIGSTOP)
            let start = ContinuousClock.now
            do {
                // Keep publishing 64 KiB messages: the send buffer fills up, and neither the publish
                // nor the wait for confirms may block past the heartbeat deadline.
                let big = AMQPMessage(body: [UInt8](repeating: 1, count: 65536))
                while ContinuousClock.now - start < .seconds(20) {
                    _ = try ch.publish(exchange: "", routingKey: "nowhere", message: big)
                    _ = try c.nextEvent(timeout: .milliseconds(10))
                }
            } catch let e as AMQPError { return (e, ContinuousClock.now - start) }
            return (nil, ContinuousClock.now - start)
        }
        proxy.stop()
        #expect(r.0?.code == .peerSilent)
        #expect(r.1 < .seconds(4), "detected after \(r.1)")
    }
}
