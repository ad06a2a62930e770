import CronqAMQP
public import CronqCore

/// `cronq topology apply`: connect with the config's URL and declare the config's topology.
public enum TopologyApply {
    /// With `[amqp] management_url` set, the report also warns about replicated queues with fewer members
    /// than `[amqp] replicas` asks for (``ReplicaCheck``); without it, membership is not checked.
    /// - Throws: ``AMQPError`` (connection), ``TopologyError`` (conflicts).
    public static func run(config: CronqConfig) throws -> TopologyDeclarer.Report {
        let connection = try AMQPConnection.connect(
            BrokerEndpoints(strings: config.amqp.endpoints), name: "cronq topology apply")
        defer { connection.close() }
        let topology = Topology(config: config)
        var report = try TopologyDeclarer(connection: connection).apply(topology)
        // The backend guard's queues too, so that workers running as users without configure permission
        // find them (created and filled once, whoever comes first: see GuardQueues).
        let guarded = try GuardQueues.prepare(connection, config: config)
        report.queues += guarded.created.count + guarded.existing.count
        if let management = config.amqp.managementURL {
            let r = ManagementAPI.replication(
                of: topology.queues.filter(\.isReplicated).map(\.name), baseURL: management,
                vhost: ManagementAPI.vhost(of: config))
            if let nodes = r.nodes {
                report.warnings += ReplicaCheck.warnings(
                    members: r.members, asked: config.amqp.replicas, clusterNodes: nodes)
            } else {
                report.warnings.append(
                    "queue membership not checked: the management API at [amqp] management_url did not answer")
            }
        }
        return report
    }
}
