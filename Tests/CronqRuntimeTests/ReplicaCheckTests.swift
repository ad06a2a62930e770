import CronqRuntime
import Testing

/// `topology apply`'s membership warning, as a table: which queues are short of replicas.
@Suite("Replica check")
struct ReplicaCheckTests {
    @Test("a queue with fewer members than min(replicas, nodes) is named, with the command that grows it")
    func shortQueues() {
        let w = ReplicaCheck.warnings(
            members: ["p.work.default": 1, "p.dead": 3, "p.history": 2], asked: 3, clusterNodes: 3)
        #expect(w.count == 2)
        #expect(w[0].hasPrefix("queue p.history has 2 of the 3 replicas asked for"))
        #expect(w[1].hasPrefix("queue p.work.default has 1 of the 3 replicas asked for"))
        #expect(w.allSatisfy { $0.contains("rabbitmq-queues grow <node> all") })
    }

    @Test("replicas above the cluster size ask only for every node; a single node asks for nothing more")
    func cappedByNodes() {
        #expect(ReplicaCheck.warnings(members: ["q": 3], asked: 5, clusterNodes: 3).isEmpty)
        #expect(ReplicaCheck.warnings(members: ["q": 2], asked: 5, clusterNodes: 3).count == 1)
        #expect(ReplicaCheck.warnings(members: ["q": 1], asked: 3, clusterNodes: 1).isEmpty)
        #expect(ReplicaCheck.warnings(members: ["q": 1], asked: 1, clusterNodes: 3).isEmpty)
        #expect(ReplicaCheck.warnings(members: [:], asked: 3, clusterNodes: 3).isEmpty)
    }
}
