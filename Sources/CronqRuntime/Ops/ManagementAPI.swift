import CronqHTTP
import Foundation

/// Reads unacked counts and message rates from the RabbitMQ management API (`[amqp] management_url`),
/// which passive declares cannot give. Best effort: a failing API leaves the fields empty, and its
/// counts lag by a few seconds (the API's statistics interval), so alerts use the passive-declare counts.
enum ManagementAPI {
    static func fill(_ rows: inout [QueueStatus.Row], baseURL: String, vhost: String) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let v = percentEncode(vhost)
        let requests = rows.map { row -> HTTPRequest in
            var r = HTTPRequest(
                method: "GET", url: "\(base)/api/queues/\(v)/\(percentEncode(row.queue))", timeout: .seconds(5))
            r.bodyLimit = 1 << 20
            return r
        }
        let results = HTTPClient().perform(requests)
        for (i, result) in results.enumerated() {
            guard case .success(let r) = result, r.status == 200, r.bodyBytes <= r.bodyExcerpt.count,
                let obj = try? JSONSerialization.jsonObject(with: Data(r.bodyExcerpt)) as? [String: Any]
            else { continue }
            rows[i].unacked = obj["messages_unacknowledged"] as? Int
            let stats = obj["message_stats"] as? [String: Any]
            func rate(_ key: String) -> Double? {
                ((stats?[key] as? [String: Any])?["rate"] as? NSNumber)?.doubleValue ?? (stats == nil ? nil : 0)
            }
            rows[i].publishRate = rate("publish_details")
            rows[i].deliverRate = rate("deliver_get_details")
            rows[i].ackRate = rate("ack_details")
            // Quorum queues and streams list their replicas ("members") and the reachable ones ("online").
            if let members = obj["members"] as? [String] {
                let online = Set((obj["online"] as? [String]) ?? [])
                rows[i].members = members.count
                rows[i].online = members.filter(online.contains).count
                rows[i].offlineNodes = members.filter { !online.contains($0) }.sorted()
            }
        }
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
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
