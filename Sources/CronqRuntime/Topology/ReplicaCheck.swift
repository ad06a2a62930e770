/// What `cronq topology apply` says about replicated queues that have fewer members than asked.
///
/// A quorum queue's or stream's membership is fixed when it is created (from `[amqp] replicas`, capped by
/// the nodes there were then): a queue created on one node before the cluster formed, or while a node was
/// away, keeps fewer replicas for good, and declaring it again changes nothing. Only an operator's
/// `rabbitmq-queues grow` adds members, so apply names each such queue and the command.
public enum ReplicaCheck {
    /// - Parameters:
    ///   - members: each replicated queue's member count, as the management API lists them.
    ///   - asked: `[amqp] replicas`.
    ///   - clusterNodes: how many nodes the cluster has (running or not).
    /// - Returns: one warning per queue with fewer members than `min(asked, clusterNodes)`, in name order.
    public static func warnings(members: [String: Int], asked: Int, clusterNodes: Int) -> [String] {
        let expected = min(asked, clusterNodes)
        return members.sorted { $0.key < $1.key }.compactMap { name, count in
            guard count < expected else { return nil }
            return "queue \(name) has \(count) of the \(expected) replicas asked for ([amqp] replicas = \(asked), "
                + "\(clusterNodes) nodes): membership is fixed at creation; add members with "
                + "`rabbitmq-queues grow <node> all` on each node that lacks one"
        }
    }
}
