import CronqAMQP
import CronqCore
import Logging
import Testing

@testable import CronqRuntime

/// The worker's decisions as tables: deliveries, results, confirms, losses and stops go in, actions come
/// out. No broker, no HTTP server, no clock, no sleep: what used to need processes and log greps.
@Suite("Worker state machine")
struct WorkerStateMachineTests {
    static let config = try! ConfigLoader(environment: [:]).parse(toml(), path: "t.toml")

    /// The config of these tables, with more keys for `[backends.default]` (the guard's tests add limits).
    static func toml(backendExtra: String = "") -> String {
        """
        [backends.default]
        base_url = "https://b"
        token = "tok-SECRET-123"
        \(backendExtra)
        [retry]
        max_attempts = 3
        backoff = ["10s", "1m"]
        max_duration = "1h"
        [[jobs]]
        name = "known"
        schedule = "@daily"
        path = "/cron/known"
        """
    }

    /// A machine with one connection up, consuming `default` through consumer tag `c1`.
    static func machine(concurrency: Int = 4, grace: Duration = .seconds(10)) -> WorkerStateMachine {
        var m = WorkerStateMachine(
            .init(options: WorkerOptions(config: config, queues: ["default"], concurrency: concurrency, grace: grace)))
        m.connected(consumers: ["c1": "default"])
        return m
    }

    static func at(_ s: Int) -> WorkerStateMachine.Now { .init(wall: 1_800_000_000 + Int64(s), monotonic: .seconds(s)) }

    static func delivery(_ tag: UInt64, attempt: Int = 1, body: [UInt8]? = nil, redelivered: Bool = false)
        -> AMQPDelivery
    {
        let job = JobMessage(
            job: "known", scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
            request: .init(method: "POST", path: "/cron/known", headers: [:], body: nil, timeoutMs: 1000),
            retry: .init(maxAttempts: 3, backoff: ["10s", "1m"], maxDurationS: 3600))
        var props = AMQPProperties(messageID: "m\(tag)")
        if attempt > 1 { props.headers = [JobMessageProperties.attemptHeader: .int32(Int32(attempt))] }
        return AMQPDelivery(
            channel: 1, deliveryTag: tag, redelivered: redelivered, exchange: "cronq.jobs", routingKey: "default",
            consumerTag: "c1", message: AMQPMessage(body: body ?? job.encoded(), properties: props))
    }

    /// One short word per action, so a table row reads like the wire.
    static func summary(_ actions: [WorkerStateMachine.Action]) -> [String] {
        actions.compactMap { a in
            switch a {
            case .startRequest(let id, _, let messageID, let attempt): return "start \(id) \(messageID) #\(attempt)"
            case .publish(let o, _):
                let h = o.message.properties.headers
                if o.exchange == "cronq.retry" {
                    return "retry \(h?["cronq-delay"]?.stringValue ?? "?") #\(h?["cronq-attempt"]?.intValue ?? 0)"
                }
                return "dead \(h?["cronq-dead-reason"]?.stringValue ?? "?")"
            case .ack(let tag, let multiple): return multiple ? "ack ≤\(tag)" : "ack \(tag)"
            case .nack(let tag, let requeue): return requeue ? "requeue \(tag)" : "reject \(tag)"
            case .cancelConsumers: return "cancel"
            case .publishEvents(let b): return "events \(b.map(\.count).reduce(0, +))"
            case .closeConnections: return "close"
            case .record(let r):
                switch r {
                case .succeeded: return "succeeded"
                case .retried(_, _, _, _, let tier, _, _): return "retried \(tier)"
                case .dead(_, _, _, let reason, _, _, let via):
                    return "dead \(reason)" + (via.map { " via \($0)" } ?? "")
                case .requestFinished: return nil  // a histogram sample, in every row
                default: return "\(r)".prefix { $0 != "(" }.description
                }
            case .finish: return "finish"
            case .guardConsume(let q, _, let prefetch): return "consume \(q) prefetch \(prefetch)"
            case .guardCancel(let tag): return "stop \(tag)"
            case .guardAck(let tag): return "use token \(tag)"
            case .guardRelease(let tag): return "give back \(tag)"
            case .guardPublish(let o): return "announce \(o.routingKey)"
            }
        }
    }

    /// Runs the machine's publishes like a driver would: sequence numbers from 1.
    static func publishAll(_ m: inout WorkerStateMachine, _ actions: [WorkerStateMachine.Action], seq: inout UInt64) {
        for case .publish(_, let token) in actions {
            m.published(seq: seq, token)
            seq += 1
        }
    }

    /// One delivery whose request answered `status`, its outcome published (sequence 1) and not yet confirmed.
    static func published(status: Int) -> WorkerStateMachine {
        var m = machine()
        _ = m.delivery(delivery(1), now: at(0))
        _ = m.tick(now: at(0), canPublish: true)
        _ = m.requestFinished(1, .response(status: status, retryAfter: nil), now: at(1))
        var seq: UInt64 = 1
        publishAll(&m, m.tick(now: at(1), canPublish: true), seq: &seq)
        return m
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var call: CallResult
        var attempt: Int
        /// The tick after the result (what is published or acked at once).
        var first: [String]
        /// After the publish (if any) is confirmed, and the next tick.
        var confirmed: [String]
        var testDescription: String { "\(call) at attempt \(attempt)" }
    }

    static let outcomeRows: [Row] = [
        Row(call: .response(status: 204, retryAfter: nil), attempt: 1, first: ["ack ≤1", "events 1"], confirmed: []),
        Row(
            call: .response(status: 503, retryAfter: nil), attempt: 1, first: ["retry 10s #2"],
            confirmed: ["retried 10s", "ack ≤1", "events 1"]),
        Row(
            call: .response(status: 429, retryAfter: "60"), attempt: 2, first: ["retry 1m #3"],
            confirmed: ["retried 1m", "ack ≤1", "events 1"]),
        Row(
            call: .response(status: 503, retryAfter: nil), attempt: 3, first: ["dead exhausted"],
            confirmed: ["dead exhausted", "ack ≤1", "events 1"]),
        Row(
            call: .response(status: 404, retryAfter: nil), attempt: 1, first: ["dead http_404"],
            confirmed: ["dead http_404", "ack ≤1", "events 1"]),
        Row(
            call: .failure(retryable: true, error: "connection refused"), attempt: 1, first: ["retry 10s #2"],
            confirmed: ["retried 10s", "ack ≤1", "events 1"]),
        Row(
            call: .failure(retryable: false, error: "bad URL"), attempt: 1, first: ["dead malformed"],
            confirmed: ["dead malformed", "ack ≤1", "events 1"]),
    ]

    @Test(
        "every outcome row: ack at once on success, otherwise publish first and ack only after the confirm",
        arguments: outcomeRows)
    func outcomes(_ row: Row) {
        var m = Self.machine()
        #expect(Self.summary(m.delivery(Self.delivery(1, attempt: row.attempt), now: Self.at(0))) == [])
        #expect(Self.summary(m.tick(now: Self.at(0), canPublish: true)) == ["start 1 m1 #\(row.attempt)"])
        #expect(Self.summary(m.requestFinished(1, row.call, now: Self.at(2))).filter { $0 != "succeeded" } == [])
        let first = m.tick(now: Self.at(2), canPublish: true)
        #expect(Self.summary(first) == row.first)
        var seq: UInt64 = 1
        Self.publishAll(&m, first, seq: &seq)
        var after = m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(3))
        after += m.tick(now: Self.at(3), canPublish: true)
        #expect(Self.summary(after) == row.confirmed)
    }

    @Test("the dead letter carries the reason, status and error but never the token; the event carries no token either")
    func deadLetterScrubbed() throws {
        var m = Self.machine()
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        _ = m.requestFinished(1, .failure(retryable: false, error: "bad header tok-SECRET-123"), now: Self.at(1))
        let actions = m.tick(now: Self.at(1), canPublish: true)
        guard case .publish(let out, _) = try #require(actions.first) else { Issue.record("no publish"); return }
        let h = try #require(out.message.properties.headers)
        #expect(out.exchange == "cronq.dead" && h["cronq-dead-reason"]?.stringValue == "malformed")
        #expect(h["cronq-dead-error"]?.stringValue == "bad header ***")
        #expect(h["cronq-queue"]?.stringValue == "cronq.jobs.default")
        m.published(seq: 1, { if case .publish(_, let t) = actions.first! { return t } else { fatalError() } }())
        let done = m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(2))
        #expect(!"\(done)".contains("SECRET"))
        let events = m.tick(now: Self.at(2), canPublish: true)
        for case .publishEvents(let batches) in events {
            #expect(!String(decoding: batches[0].body, as: UTF8.self).contains("SECRET"))
        }
    }

    @Test("acks coalesce across out-of-order completions: a slow request holds back no other ack")
    func outOfOrderAcks() {
        var m = Self.machine()
        for tag in 1...4 { _ = m.delivery(Self.delivery(UInt64(tag)), now: Self.at(0)) }
        #expect(Self.summary(m.tick(now: Self.at(0), canPublish: true)).count == 4)
        let ok = CallResult.response(status: 200, retryAfter: nil)
        _ = m.requestFinished(3, ok, now: Self.at(1))
        _ = m.requestFinished(4, ok, now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(1), canPublish: true)) == ["ack 3", "ack 4", "events 2"])
        _ = m.requestFinished(1, ok, now: Self.at(2))
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == ["ack ≤1", "events 1"])
        _ = m.requestFinished(2, ok, now: Self.at(3))
        // Not ≤4: 3 and 4 are acked already, and acking a tag twice closes the channel.
        #expect(Self.summary(m.tick(now: Self.at(3), canPublish: true)) == ["ack ≤2", "events 1"])
    }

    @Test("concurrency bounds the requests started; the rest wait for a slot")
    func concurrencyBound() {
        var m = Self.machine(concurrency: 2)
        for tag in 1...3 { _ = m.delivery(Self.delivery(UInt64(tag)), now: Self.at(0)) }
        #expect(Self.summary(m.tick(now: Self.at(0), canPublish: true)) == ["start 1 m1 #1", "start 2 m2 #1"])
        _ = m.requestFinished(2, .response(status: 200, retryAfter: nil), now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(1), canPublish: true)) == ["start 3 m3 #1", "ack 2", "events 1"])
    }

    @Test(
        "a confirm channel lost with outcomes in flight: nothing of the old connection is acked, even if its confirm arrives"
    )
    func lostWithConfirmsInFlight() {
        var m = Self.machine()
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.delivery(Self.delivery(2), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        _ = m.requestFinished(1, .response(status: 503, retryAfter: nil), now: Self.at(1))
        let first = m.tick(now: Self.at(1), canPublish: true)
        var seq: UInt64 = 1
        Self.publishAll(&m, first, seq: &seq)
        #expect(Self.summary(m.connectionLost("socket closed")) == ["connectionLost", "close"])
        #expect(Self.summary(m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(2))) == [])
        // The other request ends after the loss: its result is dropped, the broker redelivers it.
        #expect(
            Self.summary(m.requestFinished(2, .response(status: 200, retryAfter: nil), now: Self.at(2)))
                == ["resultAfterLoss"])
        m.connected(consumers: ["c2": "default"])
        #expect(Self.summary(m.tick(now: Self.at(3), canPublish: true)) == [])
    }

    @Test("reconnect generations: a delivery of the old connection waiting for a slot is never started on the new one")
    func generations() {
        var m = Self.machine(concurrency: 1)
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.delivery(Self.delivery(2), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        _ = m.connectionLost("reset")
        m.connected(consumers: ["c1": "default"])
        _ = m.requestFinished(1, .response(status: 200, retryAfter: nil), now: Self.at(1))
        // Tag 1 on the new connection is a new delivery; the old tag 1 and 2 are void.
        _ = m.delivery(Self.delivery(1, redelivered: true), now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(1), canPublish: true)) == ["start 2 m1 #1"])
    }

    @Test("graceful stop without stragglers: waiting deliveries go back at once, in-flight ones finish, then finish")
    func gracefulStop() {
        var m = Self.machine(concurrency: 1)
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.delivery(Self.delivery(2), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        #expect(Self.summary(m.stop(now: Self.at(1))) == ["stopping", "cancel", "requeue 2"])
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == [])
        _ = m.requestFinished(1, .response(status: 200, retryAfter: nil), now: Self.at(3))
        #expect(Self.summary(m.tick(now: Self.at(3), canPublish: true)) == ["ack ≤1", "events 1", "finish"])
    }

    @Test(
        "graceful stop with a straggler: the machine finishes at the grace deadline and says how many were unfinished")
    func gracefulStopStraggler() {
        var m = Self.machine(grace: .seconds(5))
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        _ = m.stop(now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(5), canPublish: true)) == [])
        #expect(Self.summary(m.tick(now: Self.at(6), canPublish: true)) == ["graceOver", "finish"])
    }

    @Test("a stop waits for the confirm of an outcome already published")
    func stopWaitsForConfirm() {
        var m = Self.published(status: 503)
        _ = m.stop(now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == [])
        _ = m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(2))
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == ["ack ≤1", "events 1", "finish"])
    }

    @Test("refused before any call: malformed is dead-lettered by publish, an oversized body rejected to the broker")
    func refusals() {
        var m = Self.machine()
        #expect(Self.summary(m.delivery(Self.delivery(1, body: Array("{not json".utf8)), now: Self.at(0))) == [])
        #expect(Self.summary(m.tick(now: Self.at(0), canPublish: true)) == ["dead malformed"])
        // What the AMQP layer hands over for a body over the limit: none of it, and how much was dropped.
        var huge = Self.delivery(2, body: [])
        huge.message.droppedBodyBytes = JobMessage.maxBodyBytes + 1
        #expect(
            Self.summary(m.delivery(huge, now: Self.at(0)))
                == ["reject 2", "dead malformed via broker reject"])
    }

    @Test("a redelivery is recorded with its delivery count")
    func redelivery() {
        var m = Self.machine()
        #expect(Self.summary(m.delivery(Self.delivery(1, redelivered: true), now: Self.at(0))) == ["redelivered"])
    }

    @Test("a nacked outcome publish sends the original back to its queue")
    func nackedPublish() {
        var m = Self.published(status: 503)
        #expect(
            Self.summary(m.confirmEvent(.nack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(2)))
                == ["publishFailed", "publishRefused", "requeue 1"])
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == [])
    }

    static func returned(_ seq: UInt64) -> AMQPEvent {
        .returned(
            AMQPReturn(
                channel: 2, replyCode: 312, replyText: "NO_ROUTE", exchange: "x", routingKey: "default",
                message: AMQPMessage(
                    body: [], properties: AMQPProperties(headers: [AMQPProperties.publishIDHeader: .string("\(seq)")])))
        )
    }

    @Test("an unroutable dead letter is held unacked and published again after a pause, never requeued")
    func unroutableDeadLetter() {
        var m = Self.published(status: 404)
        _ = m.confirmEvent(Self.returned(1), now: Self.at(1))
        #expect(
            Self.summary(m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(1)))
                == ["publishFailed", "deadLetterUnroutable"])
        #expect(Self.summary(m.tick(now: Self.at(5), canPublish: true)) == [])
        #expect(Self.summary(m.tick(now: Self.at(6), canPublish: true)) == ["dead http_404"])
    }

    @Test("a retry to a tier without a queue comes back and becomes a dead letter `malformed`")
    func missingTier() {
        var m = Self.published(status: 503)
        _ = m.confirmEvent(Self.returned(1), now: Self.at(1))
        _ = m.confirmEvent(.ack(channel: 2, deliveryTag: 1, multiple: false), now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(1), canPublish: true)) == ["dead malformed"])
    }

    @Test("while the broker blocks publishing, outcomes wait unacked; they go out once it unblocks")
    func blocked() {
        var m = Self.machine()
        _ = m.delivery(Self.delivery(1), now: Self.at(0))
        _ = m.tick(now: Self.at(0), canPublish: true)
        _ = m.requestFinished(1, .response(status: 503, retryAfter: nil), now: Self.at(1))
        #expect(Self.summary(m.tick(now: Self.at(1), canPublish: false)) == [])
        #expect(Self.summary(m.tick(now: Self.at(2), canPublish: true)) == ["retry 10s #2"])
    }

    @Test("a consumer cancelled by the broker voids the connection like a loss")
    func consumerCancelled() {
        var m = Self.machine()
        #expect(
            Self.summary(m.consumerCancelled(tag: "c1")) == ["consumerCancelled", "connectionLost", "close"])
    }

    @Test("records render as the documented log lines")
    func records() {
        let r = WorkerRecord.dead(
            job: "j", messageID: "m", attempt: 3, reason: "exhausted", status: 503, error: "HTTP 503", via: nil)
        #expect(r.level == .warning && "\(r.message)" == "outcome")
        let fields = r.metadata.mapValues { "\($0)" }
        #expect(fields["reason"] == "exhausted" && fields["via"] == nil && fields["outcome"] == "dead")
        #expect(WorkerRecord.requestFinished(durationMs: 3).level == .trace)
    }
}
