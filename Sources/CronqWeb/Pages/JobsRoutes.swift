import CronqAMQP
public import CronqCore
public import CronqRuntime
import Foundation
import Hummingbird
import Logging
import Mustache
import NIOConcurrencyHelpers

extension Dashboard {
    /// The pause states in the leader's checkpoint (best effort: none when it cannot be read).
    func pausedJobs() async -> [String: PauseState] {
        let names = names
        let now = now
        return
            (try? await gateway.run { c in
                let ch = try c.openChannel()
                defer { ch.close() }
                return try CheckpointPeek.peek(ch, names: names).checkpoint?.pauses(at: now) ?? [:]
            }) ?? [:]
    }

    func jobsPage(_ request: Request, _ context: WebContext) async throws -> Response {
        let q = request.uri.queryParameters["q"].map(String.init) ?? ""
        let page = max(1, request.uri.queryParameters["page"].flatMap { Int($0) } ?? 1)
        let values = jobsValues(query: q, page: page, paused: await pausedJobs(), now: now)
        return renderer.page("jobs", title: "Jobs", nav: "jobs", context: context, dashboard: self, values: values)
    }

    /// The jobs page's values: the rows, and how far the history follower has got.
    private func jobsValues(query: String, page: Int, paused: [String: PauseState], now: Int64) -> [String: Any] {
        let state = follower.state.withLockedValue { $0 }
        var values = JobsView.values(
            config: config, timeline: state.timeline, paused: paused, now: now, window: window, query: query,
            page: page, pageSize: pageSize)
        values["catchingUp"] = !state.caughtUp && state.problem == nil
        values["events"] = state.timeline.events
        values.put("historyProblem", state.problem)
        return values
    }

    /// The jobs page's HTML as `GET /jobs` renders it (with a placeholder CSRF token): the benchmark's
    /// subject, with the history already folded by ``load(history:)``.
    public func renderJobsPage(query: String = "", page: Int = 1, paused: [String: PauseState] = [:], now: Int64)
        -> String
    {
        var values = jobsValues(query: query, page: page, paused: paused, now: now)
        values["csrf"] = "benchmark"
        values["actions"] = !readOnly
        return renderer.library.render(values, withTemplate: "jobs") ?? ""
    }

    /// Folds events into the jobs page's timeline as the history follower does.
    public func load(history events: [OutcomeEvent]) {
        follower.state.withLockedValue { s in
            for e in events { s.timeline.add(e) }
        }
    }

    func jobPage(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let job = job(context) else { return notFound("No job of that name in \(config.path).", context) }
        let paused = await pausedJobs()
        let timeline = follower.state.withLockedValue { $0.timeline }
        let values = JobsView.detail(job, config: config, timeline: timeline, paused: paused[job.name], now: now)
        return renderer.page("job", title: job.name, nav: "jobs", context: context, dashboard: self, values: values)
    }

    func trigger(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let job = job(context) else { return notFound("No job of that name in \(config.path).", context) }
        if config.amqp.messageKeyMissing {
            return renderer.message(
                "amqp.message_key is set but its variable or file is missing here: job messages must be signed.",
                title: "Not sent", back: "/jobs", context: context, dashboard: self, status: .internalServerError,
                error: true)
        }
        let config = config
        let now = now
        do {
            let result = try await gateway.run(retry: false) { c in
                try Trigger.run(job: job, config: config, connection: c, now: now, wait: nil)
            }
            guard case .published(let id) = result else { throw Control.Failure.notConfirmed("\(result)") }
            logger.info("web trigger", metadata: ["job": "\(job.name)", "message_id": "\(id)"])
            return renderer.message(
                "Published \(id). Its outcome shows in the job's history and the live tail.", title: "Run now",
                back: "/jobs/\(job.name)", context: context, dashboard: self)
        } catch {
            return actionFailed("run \(job.name) now", error, context)
        }
    }

    func pause(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let job = job(context) else { return notFound("No job of that name in \(config.path).", context) }
        let now = now
        var until: Int64? = nil
        if let u = context.form["until"] {
            guard let t = Timestamp.parse(u) ?? DurationText.parse(u).map({ now + $0.totalSeconds }), t > now else {
                return renderer.message(
                    "'\(u)' is neither a future ISO 8601 instant nor a duration (e.g. 2h).", title: "Not paused",
                    back: "/jobs", context: context, dashboard: self, status: .badRequest, error: true)
            }
            until = t
        }
        let reason = context.form["reason"].map { String($0.prefix(200)) }
        return await control(
            ControlMessage(action: .pause, job: job.name, until: until, reason: reason, at: now), what: "pause",
            context)
    }

    func resume(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let job = job(context) else { return notFound("No job of that name in \(config.path).", context) }
        let catchUp = CronqConfig.CatchUp(rawValue: context.form["catch_up"] ?? "none") ?? .none
        return await control(
            ControlMessage(action: .resume, job: job.name, catchUp: catchUp, at: now), what: "resume", context)
    }

    private func control(_ message: ControlMessage, what: String, _ context: WebContext) async -> Response {
        let names = names
        do {
            try await gateway.run(retry: false) { c in
                try Control.send(message, connection: c, names: names, sender: "cronq-web")
            }
            logger.info("web \(what)", metadata: ["job": "\(message.job)"])
            return renderer.message(
                "\(what.capitalized) of \(message.job) sent; the leader ticker applies it within a moment.",
                title: what.capitalized, back: "/jobs", context: context, dashboard: self)
        } catch {
            return actionFailed("\(what) \(message.job)", error, context)
        }
    }

    func actionFailed(_ what: String, _ error: any Error, _ context: WebContext) -> Response {
        logger.error("web action failed", metadata: ["action": "\(what)", "error": "\(error)"])
        return renderer.message(
            "Could not \(what): \(error)", title: "Failed", back: "/jobs", context: context, dashboard: self,
            status: .serviceUnavailable, error: true)
    }
}
