import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// Hostile AMQP messages, generated from a seed (so a failure reproduces): random bytes, mutated job
/// bodies, cronq and broker headers of the wrong types, missing properties. The worker must give every
/// one an outcome (dead-lettered, or run if the mutation left it valid), never crash, and keep working.
@Suite("Malformed message fuzzing", .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct MalformedFuzzTests {
    /// Every field type but a NaN double, which RabbitMQ itself refuses (it closes the connection, 541).
    static let oddValues: [AMQPFieldValue] = [
        .string("x"), .string(""), .int64(-5), .int64(Int64.max), .int32(0), .bool(true), .double(1.5),
        .bytes([0xFF, 0x00]),
        .table(["a": .int8(1)]), .array([.string("1s"), .int16(2)]), .timestamp(0), .void,
        .decimal(scale: 2, value: 12345),
    ]

    @Test("400 seeded hostile messages: each dead-lettered or run, the worker survives and keeps working")
    func fuzz() throws {
        let h = try WorkerHarness(backoff: ["1s"], maxAttempts: 2, timeout: "2s")
        defer { h.stop() }
        let worker = try h.startWorker(concurrency: 16)
        var rng = SplitMix64(seed: 2026)
        var messages: [AMQPMessage] = []
        for i in 0..<400 {
            let at = Timestamp.iso(1_800_000_000 + Int64(i))
            let valid = h.message(
                job: "fuzz", path: "/cron/ee-recent", scheduledAt: at, maxAttempts: 2, backoff: ["1s"], timeoutMs: 2000)
            var m = valid
            switch i % 4 {
            case 0:  // random bytes
                m.body = (0..<Int.random(in: 0...2000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:  // a valid body, mutated: flipped bytes, cut short, or bytes inserted
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    guard !m.body.isEmpty else { break }
                    let k = Int.random(in: 0..<m.body.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: m.body[k] = UInt8.random(in: 0...255, using: &rng)
                    case 1: m.body.removeSubrange(k...)
                    default: m.body.insert(UInt8.random(in: 0...255, using: &rng), at: k)
                    }
                }
            case 2:  // valid body, cronq and broker headers of every wrong type
                var t = AMQPTable()
                for name in [
                    "cronq-attempt", "cronq-first-attempt-at", "cronq-delay", "x-death", "x-delivery-count",
                    "cronq-replayed",
                ]
                where Bool.random(using: &rng) {
                    t[name] = Self.oddValues.randomElement(using: &rng)!
                }
                m.properties.headers = t
            default:  // valid body, properties missing
                m.properties = AMQPProperties()
            }
            messages.append(m)
        }
        try h.publish(messages)
        try h.publish([h.message(path: "/cron/ee-recent", id: "good-after")])
        func successes() -> Set<String> {
            Set(
                h.requests().filter { ($0["status"] as? Int).map { (200..<300).contains($0) } == true }
                    .compactMap { $0["idempotency_key"] as? String }.filter { $0 != "good-after" })
        }
        let settled = h.eventually(90) {
            (try? h.count(h.names.workQueue("default"))) == 0 && (try? h.count(h.names.retryQueue("1s"))) == 0
                && Int((try? h.count(h.names.deadQueue)) ?? 0) + successes().count == messages.count
        }
        let dead = try h.drain(h.names.deadQueue)
        let reasons = Dictionary(grouping: dead) {
            $0.message.properties.headers?["cronq-dead-reason"]?.stringValue ?? "?"
        }.mapValues(\.count)
        print(
            "malformed fuzz: \(messages.count) messages, \(dead.count) dead \(reasons.sorted { $0.key < $1.key }), \(successes().count) run"
        )
        #expect(
            settled, "every message got an outcome: \(dead.count) dead + \(successes().count) run of \(messages.count)")
        #expect(worker.process.isRunning, "the worker survived")
        #expect(h.requests().contains { $0["idempotency_key"] as? String == "good-after" }, "and still works")
        #expect((reasons["malformed"] ?? 0) >= 150, "random bytes and most mutations are malformed")
        #expect(!h.workerLogs().contains("Fatal error"))
    }
}
