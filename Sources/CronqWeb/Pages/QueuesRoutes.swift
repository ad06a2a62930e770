import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation
import Hummingbird
import Logging

extension Dashboard {
    /// Every cronq queue (passive-declare counts; unacked, rates and members from the management API when
    /// configured) with `cronq status`'s alerts as banners.
    func queuesPage(_ context: WebContext) async throws -> Response {
        let config = config
        let now = now
        do {
            let status = try await gateway.run { c in try QueueStatus.collect(connection: c, config: config, now: now) }
            let rows: [[String: Any]] = status.rows.map { r in
                [
                    "queue": r.queue, "kind": r.kind, "ready": r.ready < 0 ? "missing" : "\(r.ready)",
                    "missing": r.ready < 0, "unacked": r.unacked.map(String.init) ?? "-", "consumers": r.consumers,
                    "members": r.members.map { "\(r.online ?? 0)/\($0)" } ?? "-",
                    "degraded": (r.members ?? 0) > (r.online ?? 0),
                    "rates": r.publishRate.map {
                        String(format: "%.1f in / %.1f out / %.1f ack", $0, r.deliverRate ?? 0, r.ackRate ?? 0)
                    } ?? "-",
                ]
            }
            let breakers: [[String: String]] = status.breakers.keys.sorted().map { b in
                ["backend": b, "state": status.breakers[b]!.state]
            }
            var values: [String: Any] = [
                "rows": rows, "alerts": status.alerts(.init()), "leader": status.leader, "tickers": status.tickers,
                "breakers": breakers, "management": config.amqp.managementURL != nil,
            ]
            values.put("oldestDead", status.oldestDeadAgeSeconds.map { JobStatus.age($0) })
            return renderer.page(
                "queues", title: "Queues", nav: "queues", context: context, dashboard: self, values: values)
        } catch {
            return brokerDown(error, context)
        }
    }

    /// Tickers (and which one leads), workers, other cronq clients: from the management API.
    func workersPage(_ context: WebContext) async throws -> Response {
        let config = config
        let now = now
        var values: [String: Any] = [:]
        do {
            let clients = try await Task.detached { try BrokerClient.collect(config: config) }.value
            values["clients"] = clients.map { c -> [String: Any] in
                [
                    "connection": c.connection, "kind": c.kind, "peer": c.peer, "node": c.node,
                    "since": c.connectedAt.map { "\(JobStatus.age(now - $0)) ago" } ?? "-",
                    "consumes": c.consumes.sorted().joined(separator: ", "), "leader": c.leader,
                ]
            }
            values["noLeader"] = !clients.contains { $0.leader }
            values["workers"] = clients.filter { $0.kind == "worker" }.count
            values["tickers"] = clients.filter { $0.kind == "ticker" }.count
        } catch {
            values["problem"] = "\(error)"
        }
        return renderer.page(
            "workers", title: "Workers and tickers", nav: "workers", context: context, dashboard: self, values: values)
    }

    func brokerDown(_ error: any Error, _ context: WebContext) -> Response {
        renderer.message(
            "The broker cannot be reached: \(error)", title: "Broker unreachable", back: "/queues", context: context,
            dashboard: self, status: .serviceUnavailable, error: true)
    }
}
