import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

@Suite("Topology on RabbitMQ", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct TopologyApplyTests {
    @Test("apply twice is idempotent; the declared queues are what DESIGN.md says")
    func idempotent() async throws {
        let prefix = uniqueName("tq")
        let r = try await onThread {
            let c = try AMQPConnection(url: AMQPURL(TestBroker.url!))
            let topology = Topology(
                names: .init(prefix: prefix), queues: ["default", "heavy"], tiers: [.seconds(10), .seconds(60)])
            defer { Self.cleanup(c, topology) }
            let first = try TopologyDeclarer(connection: c).apply(topology)
            let ch = try c.openChannel()
            try ch.enableConfirms()
            // Something in a queue survives the second apply untouched.
            _ = try ch.publishAndConfirm([
                OutgoingMessage(
                    exchange: "\(prefix).jobs", routingKey: "heavy", message: AMQPMessage(body: Array("{}".utf8)))
            ])
            let second = try TopologyDeclarer(connection: c).apply(topology)
            let heavy = try ch.inspectQueue("\(prefix).jobs.heavy").messageCount
            return (first.queues, second.queues, heavy)
        }
        #expect(r.0 == 9, "2 work queues, 2 tiers, dead, ticker state, leader and control, history stream")
        #expect(r.1 == 9)
        #expect(r.2 == 1)
    }

    @Test("a queue that exists with other arguments is reported by name and argument")
    func conflict() async throws {
        let prefix = uniqueName("tc")
        let error = try await onThread { () -> TopologyError? in
            let c = try AMQPConnection(url: AMQPURL(TestBroker.url!))
            let topology = Topology(names: .init(prefix: prefix), queues: ["default"], tiers: [.seconds(10)])
            defer { Self.cleanup(c, topology) }
            // Everything as cronq declares it, except the delivery limit.
            try c.openChannel().declareQueue(
                "\(prefix).jobs.default",
                arguments: [
                    "x-queue-type": .string("quorum"), "x-dead-letter-exchange": .string("\(prefix).dead"),
                    "x-delivery-limit": .int64(3), "x-dead-letter-strategy": .string("at-least-once"),
                    "x-overflow": .string("reject-publish"),
                ])
            do {
                try TopologyDeclarer(connection: c).apply(topology)
            } catch let e as TopologyError { return e }
            return nil
        }
        let e = try #require(error)
        #expect(e.conflicts.count == 1)
        #expect(e.conflicts[0].contains("queue \(prefix).jobs.default"))
        #expect(e.conflicts[0].contains("x-delivery-limit"))
    }

    @Test("topology/definitions.json imports into RabbitMQ, and apply agrees with what it created")
    func definitionsImport() async throws {
        let vhost = uniqueName("cronq-defs")
        try TestBroker.ctl(["add_vhost", vhost])
        defer { _ = try? TestBroker.ctl(["delete_vhost", vhost]) }
        try TestBroker.ctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(vhost).json")
        let config = try ConfigLoader(environment: [:], allowMissingVariables: true).load(
            path: Repo.root + "/cronq.example.toml")
        try Topology(config: config).definitionsJSON(vhost: vhost).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // rabbitmqctl runs as the rabbitmq user: the file must be readable by it.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
        try TestBroker.ctl(["import_definitions", file.path])
        let report = try await onThread { () -> TopologyDeclarer.Report in
            var url = TestBroker.url!
            url = String(url[..<url.range(of: "/%2F")!.lowerBound]) + "/" + vhost
            let c = try AMQPConnection(url: AMQPURL(url))
            return try TopologyDeclarer(connection: c).apply(Topology(config: config))
        }
        #expect(report.queues == 10)
    }

    static func cleanup(_ c: AMQPConnection, _ t: Topology) {
        guard let ch = try? c.openChannel() else { return }
        for q in t.queues { _ = try? ch.deleteQueue(q.name) }
        for x in t.exchanges { try? ch.deleteExchange(x.name) }
    }

    @Test(
        "queues created by a cronq before the cluster arguments are kept, with a warning; apply and the services go on")
    func upgradeFromOlderTopology() throws {
        let prefix = uniqueName("up")
        let names = Topology.Names(prefix: prefix)
        let old = Topology(names: names, queues: ["default"], tiers: [.seconds(10)], replicas: nil)
        let new = Topology(names: names, queues: ["default"], tiers: [.seconds(10)])
        let (report, again) = try onThreadSync { [url = TestBroker.url!] in
            let c = try AMQPConnection(url: AMQPURL(url))
            defer {
                if let ch = try? c.openChannel() {
                    for q in new.queues { _ = try? ch.deleteQueue(q.name) }
                    for x in new.exchanges { try? ch.deleteExchange(x.name) }
                }
            }
            try TopologyDeclarer(connection: c).apply(old)
            let report = try TopologyDeclarer(connection: c).apply(new)
            let again = try TopologyDeclarer(connection: c).apply(new)
            return (report, again)
        }
        #expect(report.queues == new.queues.count, "every queue accounted for")
        #expect(
            report.warnings.count == new.queues.count,
            "each pre-cluster queue is named once")
        #expect(report.warnings.allSatisfy { $0.contains(prefix) && $0.contains("earlier cronq") })
        #expect(again.warnings.count == report.warnings.count, "stable: nothing changed them")
    }
}
