import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation
import Hummingbird
import Logging

extension Dashboard {
    /// The filter a dead-letter page or action applies: `job`, `reason`, `since` (a duration back), and
    /// with `id` (repeatable) only those messages.
    func deadFilter(_ get: (String) -> String?, ids: [String]) -> (filter: DeadLetters.Filter, what: String)? {
        var since: Int64? = nil
        if let s = get("since") {
            guard let d = DurationText.parse(s) else { return nil }
            since = now - d.totalSeconds
        }
        let filter = DeadLetters.Filter(job: get("job"), reason: get("reason"), ids: Set(ids), deadSince: since)
        var what: [String] = []
        if let j = filter.job { what.append("job=\(j)") }
        if let r = filter.reason { what.append("reason=\(r)") }
        if let s = get("since") { what.append("since=\(s)") }
        if !ids.isEmpty { what.append(ids.count == 1 ? ids[0] : "\(ids.count) selected") }
        return (filter, what.isEmpty ? "all" : what.joined(separator: " "))
    }

    func deadPage(_ request: Request, _ context: WebContext) async throws -> Response {
        let query = request.uri.queryParameters
        func get(_ k: String) -> String? { query[k[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        guard let filter = deadFilter(get, ids: [])?.filter else {
            return renderer.message(
                "since must be a duration (e.g. 2h, 7d).", title: "Dead letters", back: "/dead", context: context,
                dashboard: self, status: .badRequest, error: true)
        }
        let page = max(1, query["page"].flatMap { Int($0) } ?? 1)
        let names = names
        let limit = page * pageSize + 1
        // While a replay or purge walks the queue, listing would take its messages from under it for a
        // moment: the page shows the operation's progress instead.
        let busy = operations.running != nil
        do {
            let entries =
                busy
                ? []
                : try await gateway.run { c in
                    try DeadLetters(connection: c, names: names).list(filter, limit: limit)
                }
            let shown = entries.dropFirst((page - 1) * pageSize).prefix(pageSize)
            let now = now
            let rows: [[String: Any]] = shown.map { e in
                let age: String = e.deadAt.map { "\(JobStatus.age(now - $0)) ago" } ?? "-"
                let status: String = e.status == 0 ? "-" : "\(e.status)"
                return [
                    "id": e.messageID, "idQuery": Self.queryValue(e.messageID), "job": e.job, "reason": e.reason,
                    "status": status, "attempts": e.attempts, "age": age, "error": String(e.error.prefix(160)),
                ]
            }
            let filterQuery = ["job", "reason", "since"].compactMap { k in get(k).map { "&\(k)=\(Self.queryValue($0))" }
            }
            .joined()
            var values: [String: Any] = [
                "rows": rows, "empty": rows.isEmpty, "job": get("job") ?? "", "reason": get("reason") ?? "",
                "since": get("since") ?? "", "page": page,
                "operations": operations.list.map { op -> [String: Any] in
                    [
                        "id": op.id, "kind": op.kind, "what": op.what, "running": op.running,
                        "matched": op.summary.matched,
                        "done": op.kind == "purge" ? op.summary.purged : op.summary.replayed,
                        "failed": op.summary.failed, "unsigned": op.summary.unsigned, "error": op.error ?? "",
                        "hasFailed": op.summary.failed > 0, "hasUnsigned": op.summary.unsigned > 0,
                        "failedOp": op.error != nil,
                    ]
                },
                "refresh": busy, "busy": busy,
            ]
            values.put("prev", page > 1 ? "/dead?page=\(page - 1)\(filterQuery)" : nil)
            values.put("nextPage", entries.count > page * pageSize ? "/dead?page=\(page + 1)\(filterQuery)" : nil)
            values.put("jobName", get("job"))
            return renderer.page(
                "dead", title: "Dead letters", nav: "dead", context: context, dashboard: self, values: values)
        } catch {
            return brokerDown(error, context)
        }
    }

    /// One dead letter: its headers, body and error. Headers are what cronq put there (never a token, by
    /// contract) or what the publisher did; the body is the job message. Both are escaped, never rendered.
    func deadShow(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let id = request.uri.queryParameters["id"].map(String.init) else {
            return notFound("Which dead letter? (/dead/show?id=...)", context)
        }
        let names = names
        do {
            let found = try await gateway.run { c in
                try DeadLetters(connection: c, names: names).list(.init(ids: [id]), limit: 1).first
            }
            guard let e = found else { return notFound("No dead letter \(id) (replayed or purged since?)", context) }
            let headers: [[String: String]] = (e.message.properties.headers ?? AMQPTable()).entries.map { h in
                ["name": h.key, "value": h.value.stringValue ?? h.value.intValue.map(String.init) ?? "\(h.value)"]
            }
            return renderer.page(
                "dead_show", title: "Dead letter \(id)", nav: "dead", context: context, dashboard: self,
                values: [
                    "id": e.messageID, "job": e.job, "reason": e.reason, "status": e.status, "attempts": e.attempts,
                    "deadAt": e.deadAt.map(Timestamp.iso) ?? "-", "error": e.error, "queue": e.queue,
                    "routingKey": e.routingKey, "headers": headers,
                    "body": String(decoding: e.message.body.prefix(64 * 1024), as: UTF8.self),
                    "appID": e.message.properties.appID ?? "-",
                ])
        } catch {
            return brokerDown(error, context)
        }
    }

    /// Replay or purge. Without `confirm`, a dry run: the page says how many match and asks again (purge:
    /// by typing `purge`). Confirmed, it starts in the background and the dead-letter page shows progress.
    func deadAction(purge: Bool, _ context: WebContext) async -> Response {
        let form = context.form
        let kind = purge ? "purge" : "replay"
        guard let (filter, what) = deadFilter({ form[$0] }, ids: form.all("id").filter { !$0.isEmpty }) else {
            return renderer.message(
                "since must be a duration (e.g. 2h, 7d).", title: kind.capitalized, back: "/dead", context: context,
                dashboard: self, status: .badRequest, error: true)
        }
        var rate: Double? = nil
        if let r = form["rate"] {
            guard let v = Double(r), v > 0 else {
                return renderer.message(
                    "rate must be a number of messages per second above 0.", title: kind.capitalized, back: "/dead",
                    context: context, dashboard: self, status: .badRequest, error: true)
            }
            rate = v
        }
        if let running = operations.running { return busy(running, kind: kind, context) }
        let confirmed = purge ? form["typed"] == "purge" : form["confirm"] == "yes"
        guard confirmed else {
            // The dry run: count what matches, on the pages' connection (reads only).
            let names = names
            let count: Int
            do {
                count = try await gateway.run { c in try DeadLetters(connection: c, names: names).list(filter).count }
            } catch {
                return brokerDown(error, context)
            }
            return renderer.page(
                "confirm", title: "Confirm \(kind)", nav: "dead", context: context, dashboard: self,
                values: [
                    "kind": kind, "purge": purge, "what": what, "count": count, "job": form["job"] ?? "",
                    "reason": form["reason"] ?? "", "since": form["since"] ?? "", "rate": form["rate"] ?? "",
                    "ids": form.all("id").filter { !$0.isEmpty }, "typedWrong": purge && form["typed"] != nil,
                ])
        }
        switch operations.start(purge: purge, filter: filter, what: what, rate: rate) {
        case .success(let id):
            logger.info("web dead \(kind)", metadata: ["operation": "\(id)", "filter": "\(what)"])
            return .redirect(to: "/dead", type: .found)
        case .failure(let b):
            return busy(b.operation, kind: kind, context)
        }
    }

    private func busy(_ running: DeadOperations.Operation, kind: String, _ context: WebContext) -> Response {
        renderer.message(
            "\(running.kind.capitalized) #\(running.id) is still running; one dead-letter operation at a time.",
            title: kind.capitalized, back: "/dead", context: context, dashboard: self, status: .conflict, error: true)
    }

    static func queryValue(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
