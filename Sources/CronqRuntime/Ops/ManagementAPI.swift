import CronqAMQP
import CronqCore
import CronqHTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads unacked counts and message rates from the RabbitMQ management API (`[amqp] management_url`),
/// which passive declares cannot give. Best effort: a failing API leaves the fields empty, and its
/// counts lag by a few seconds (the API's statistics interval), so alerts use the passive-declare counts.
enum ManagementAPI {
    /// The vhost the API is asked about: the first endpoint's (every endpoint of a cluster names the same).
    static func vhost(of config: CronqConfig) -> String {
        (try? AMQPURL(config.amqp.endpoints[0]).vhost) ?? "/"
    }

    static func fill(_ rows: inout [QueueStatus.Row], baseURL: String, vhost: String) {
        let base = trimmed(baseURL)
        let v = percentEncode(vhost)
        let results = get(rows.map { "\(base)/api/queues/\(v)/\(percentEncode($0.queue))" })
        for (i, obj) in results.enumerated() {
            guard let obj, obj.objectValue != nil else { continue }
            rows[i].unacked = obj["messages_unacknowledged"]?.intValue
            rows[i].deadLettering = obj["messages_dlx"]?.intValue
            let stats = obj["message_stats"]?.objectValue
            func rate(_ key: String) -> Double? {
                stats?[key]?["rate"]?.doubleValue ?? (stats == nil ? nil : 0)
            }
            rows[i].publishRate = rate("publish_details")
            rows[i].deliverRate = rate("deliver_get_details")
            rows[i].ackRate = rate("ack_details")
            // Quorum queues and streams list their replicas ("members") and the reachable ones ("online").
            if let members = obj["members"]?.arrayValue?.compactMap(\.stringValue) {
                let online = Set(obj["online"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                rows[i].members = members.count
                rows[i].online = members.filter(online.contains).count
                rows[i].offlineNodes = members.filter { !online.contains($0) }.sorted()
            }
        }
    }

    /// The member count of each replicated queue among `queues` that the API could describe, and how many
    /// nodes the cluster has (nil when `/api/nodes` did not answer).
    static func replication(of queues: [String], baseURL: String, vhost: String) -> (
        members: [String: Int], nodes: Int?
    ) {
        let base = trimmed(baseURL)
        let v = percentEncode(vhost)
        let results = get(["\(base)/api/nodes"] + queues.map { "\(base)/api/queues/\(v)/\(percentEncode($0))" })
        var members: [String: Int] = [:]
        for (name, obj) in zip(queues, results.dropFirst()) {
            if let m = obj?["members"]?.arrayValue { members[name] = m.count }
        }
        return (members, results.first??.arrayValue?.count)
    }

    /// GETs `urls` at once; each answer's JSON, nil for any failure (best effort, as the doc says).
    static func get(_ urls: [String]) -> [JSONValue?] {
        let requests = urls.map { url -> HTTPRequest in
            var r = HTTPRequest(method: "GET", url: url, timeout: .seconds(5))
            r.bodyLimit = 1 << 20
            return r
        }
        return HTTPClient().perform(requests).map { result in
            guard case .success(let r) = result, r.status == 200, r.bodyBytes <= r.bodyExcerpt.count else { return nil }
            return try? JSONReader.parse(r.bodyExcerpt)
        }
    }

    private static func trimmed(_ url: String) -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(b)))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }
}
