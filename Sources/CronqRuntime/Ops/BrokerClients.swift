public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Who is connected, for the dashboard's workers page: cronq's connections (they name themselves
/// `cronq-ticker/<pid>`, `cronq-worker/<pid> consume`, …), the queues each consumes, and which ticker
/// holds the leader lock (the active consumer of the single-active-consumer leader queue). Only the
/// management API knows this; without `management_url` there is nothing to list.
public struct BrokerClient: Sendable, Equatable {
    public var connection: String
    /// `ticker`, `worker`, `web`, `cli` or `other`.
    public var kind: String
    /// The client's address as the broker sees it.
    public var peer: String
    public var node: String
    public var connectedAt: Int64?
    public var consumes: [String]
    /// Holds the leader lock.
    public var leader = false
}

extension BrokerClient {
    /// Connections of the config's vhost and their consumers, sorted by kind then name.
    /// - Throws: ``Unavailable`` when the management API is not configured or does not answer.
    public static func collect(config: CronqConfig) throws -> [BrokerClient] {
        guard let base = config.amqp.managementURL else { throw Unavailable.notConfigured }
        let v = ManagementAPI.percentEncode(ManagementAPI.vhost(of: config))
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        let answers = ManagementAPI.get(["\(root)/api/vhosts/\(v)/connections", "\(root)/api/consumers/\(v)"])
        guard let connections = answers[0]?.arrayValue, let consumers = answers[1]?.arrayValue else {
            throw Unavailable.noAnswer(root)
        }
        let leaderQueue = Topology.Names(prefix: config.amqp.prefix).leaderQueue
        // Keyed by the broker's name for the connection (`host:port -> host:port`), which consumers refer to.
        var byName: [String: BrokerClient] = [:]
        for c in connections {
            guard let brokerName = c["name"]?.stringValue else { continue }
            let name = c["client_properties"]?["connection_name"]?.stringValue ?? brokerName
            let kind =
                name.hasPrefix("cronq-ticker")
                ? "ticker"
                : name.hasPrefix("cronq-worker")
                    ? "worker"
                    : name.hasPrefix("cronq-web") ? "web" : name.hasPrefix("cronq") ? "cli" : "other"
            let peer = "\(c["peer_host"]?.stringValue ?? "?"):\(c["peer_port"]?.intValue.map(String.init) ?? "?")"
            let connectedAt = c["connected_at"]?.intValue.map { Int64($0) / 1000 }
            byName[brokerName] = BrokerClient(
                connection: name, kind: kind, peer: peer, node: c["node"]?.stringValue ?? "", connectedAt: connectedAt,
                consumes: [])
        }
        for c in consumers {
            guard let conn = c["channel_details"]?["connection_name"]?.stringValue,
                let queue = c["queue"]?["name"]?.stringValue, byName[conn] != nil
            else { continue }
            byName[conn]?.consumes.append(queue)
            if queue == leaderQueue, c["active"]?.boolValue ?? false { byName[conn]?.leader = true }
        }
        return byName.values.sorted { ($0.kind, $0.connection) < ($1.kind, $1.connection) }
    }

    public enum Unavailable: Error, CustomStringConvertible {
        case notConfigured
        case noAnswer(String)

        public var description: String {
            switch self {
            case .notConfigured: "set [amqp] management_url to see who is connected"
            case .noAnswer(let url): "the management API at \(url) did not answer"
            }
        }
    }
}
