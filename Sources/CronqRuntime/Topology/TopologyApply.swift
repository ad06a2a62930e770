import CronqAMQP
public import CronqCore

/// `cronq topology apply`: connect with the config's URL and declare the config's topology.
public enum TopologyApply {
    /// - Throws: ``AMQPError`` (connection), ``TopologyError`` (conflicts).
    public static func run(config: CronqConfig) throws -> TopologyDeclarer.Report {
        let connection = try AMQPConnection.connect(
            BrokerEndpoints(strings: config.amqp.endpoints), name: "cronq topology apply")
        defer { connection.close() }
        return try TopologyDeclarer(connection: connection).apply(Topology(config: config))
    }
}
