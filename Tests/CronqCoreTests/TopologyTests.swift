import Foundation
import Testing

@testable import CronqCore

@Suite("Topology model")
struct TopologyTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("the DESIGN table: exchanges, work queue, retry tiers, dead letters, ticker state, history stream")
    func design() {
        let t = Topology(names: .init(prefix: "cronq"), queues: ["default"], tiers: [.seconds(60), .seconds(10)])
        #expect(
            t.exchanges.map { "\($0.name):\($0.kind)" } == [
                "cronq.jobs:direct", "cronq.retry:headers", "cronq.dead:fanout", "cronq.events:topic",
                "cronq.control:fanout",
            ])
        #expect(
            t.queues.map(\.name) == [
                "cronq.jobs.default", "cronq.retry.10s", "cronq.retry.1m", "cronq.dead", "cronq.ticker.state",
                "cronq.ticker.leader", "cronq.ticker.control", "cronq.history",
            ])
        let work = t.queues[0].arguments
        #expect(
            work.map(\.key) == [
                "x-queue-type", "x-dead-letter-exchange", "x-delivery-limit", "x-dead-letter-strategy", "x-overflow",
                "x-quorum-initial-group-size",
            ])
        #expect(
            work.map(\.value) == [
                .string("quorum"), .string("cronq.dead"), .int(20), .string("at-least-once"), .string("reject-publish"),
                .int(3),
            ])
        let tier = t.queues[1].arguments
        #expect(tier.first { $0.key == "x-message-ttl" }?.value == .int(10_000))
        #expect(tier.first { $0.key == "x-dead-letter-exchange" }?.value == .string("cronq.jobs"))
        #expect(!tier.contains { $0.key == "x-dead-letter-routing-key" }, "the original key must bring a retry home")
        let tierBinding = t.bindings.first { $0.queue == "cronq.retry.1m" }!
        #expect(tierBinding.exchange == "cronq.retry")
        #expect(tierBinding.arguments.map(\.key) == ["x-match", "cronq-delay"])
        #expect(tierBinding.arguments.map(\.value) == [.string("all"), .string("1m")])
        let state = t.queues[4].arguments
        #expect(state.map(\.value) == [.string("quorum"), .int(1), .string("drop-head"), .int(3), .int(1_000_000)])
        let leader = t.queues[5].arguments
        #expect(
            leader.map(\.key) == [
                "x-queue-type", "x-single-active-consumer", "x-max-length", "x-overflow", "x-delivery-limit",
                "x-quorum-initial-group-size",
            ])
        #expect(
            leader.map(\.value) == [
                .string("quorum"), .bool(true), .int(1), .string("reject-publish"), .int(1_000_000), .int(3),
            ],
            "a replicated lock: one active consumer holds the token; one spare at most; an explicit delivery limit")
        #expect(
            t.bindings.contains { $0.queue == "cronq.ticker.control" && $0.exchange == "cronq.control" },
            "pause/resume reach the leader")
        let history = t.queues[7].arguments
        #expect(history.map(\.key) == ["x-queue-type", "x-max-age", "x-max-length-bytes", "x-initial-cluster-size"])
        #expect(
            history.map(\.value) == [.string("stream"), .string("604800s"), .int(1 << 30), .int(3)],
            "7 days, 1 GiB by default, replicated")
        // Every quorum queue: an explicit replica count and an explicit delivery limit (4.0 would apply 20).
        for q in t.queues where q.arguments.first?.value == .string("quorum") {
            #expect(
                q.arguments.contains { $0.key == "x-quorum-initial-group-size" && $0.value == .int(3) }, "\(q.name)")
            #expect(q.arguments.contains { $0.key == "x-delivery-limit" }, "\(q.name)")
        }
        let five = Topology(names: .init(prefix: "cronq"), queues: ["default"], tiers: [], replicas: 5)
        #expect(five.queues.allSatisfy { $0.arguments.contains { $0.value == .int(5) } })
        let old = Topology(names: .init(prefix: "cronq"), queues: ["default"], tiers: [], replicas: nil)
        #expect(
            !old.queues.contains { q in
                q.arguments.contains {
                    Topology.upgradeTolerantArguments.contains($0.key) && $0.key != "x-delivery-limit"
                }
            })
        #expect(
            t.bindings.contains {
                $0.queue == "cronq.history" && $0.exchange == "cronq.events" && $0.routingKey == "#"
            }, "every event is kept")
    }

    @Test("topology/definitions.json is the export of the example config (regenerate with `make definitions`)")
    func definitionsInSync() throws {
        let config = try ConfigLoader(environment: [:], allowMissingVariables: true)
            .load(path: Self.repo.appendingPathComponent("cronq.example.toml").path)
        let committed = try String(
            contentsOf: Self.repo.appendingPathComponent("topology/definitions.json"), encoding: .utf8)
        #expect(Topology(config: config).definitionsJSON() == committed)
    }

    @Test("the definitions document is valid JSON with RabbitMQ's sections")
    func definitionsShape() throws {
        let t = Topology(names: .init(prefix: "x"), queues: ["a", "b"], tiers: [.seconds(5)])
        let doc = try JSONSerialization.jsonObject(with: Data(t.definitionsJSON(vhost: "prod").utf8)) as! [String: Any]
        let queues = doc["queues"] as! [[String: Any]]
        #expect(queues.count == 8)
        #expect(queues.allSatisfy { $0["vhost"] as? String == "prod" && $0["durable"] as? Bool == true })
        #expect((doc["bindings"] as! [Any]).count == 6)
        #expect((doc["exchanges"] as! [Any]).count == 5)
    }

    @Test("serial jobs' queues have a single active consumer; skip jobs' ends are routed to the ticker")
    func overlapTopology() {
        let t = Topology(
            names: .init(prefix: "cronq"), queues: ["default", "serial.nightly"], tiers: [.seconds(10)],
            skipJobs: ["sync"])
        let serial = t.queues.first { $0.name == "cronq.jobs.serial.nightly" }!
        #expect(serial.arguments.contains { $0.key == "x-single-active-consumer" && $0.value == .bool(true) })
        #expect(
            !t.queues.first { $0.name == "cronq.jobs.default" }!.arguments.contains {
                $0.key == "x-single-active-consumer"
            })
        #expect(
            t.bindings.filter { $0.queue == "cronq.ticker.completions" }.map(\.routingKey) == [
                "job.sync.succeeded", "job.sync.dead",
            ])
        #expect(
            Topology(names: .init(), queues: ["default"], tiers: []).queues.allSatisfy {
                $0.name != "cronq.ticker.completions"
            },
            "no completions queue without skip jobs")
    }
}
