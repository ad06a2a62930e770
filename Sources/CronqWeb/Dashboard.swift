public import CronqCore
import CronqRuntime
import Foundation
public import Hummingbird
public import Logging

/// `cronq web`: one process that any number of operators' browsers use. It holds one broker connection for
/// page reads and quick actions (``BrokerGateway``), one that follows the history stream
/// (``HistoryFollower``: the jobs page's counts and the live tail), and one per running dead-letter
/// replay or purge (``DeadOperations``).
public final class Dashboard: Sendable {
    let config: CronqConfig
    let names: Topology.Names
    let readOnly: Bool
    let signer: SessionSigner
    let renderer: PageRenderer
    let gateway: BrokerGateway
    let follower: HistoryFollower
    let operations: DeadOperations
    /// The window of the jobs page's counts (and how far back the follower reads).
    let window: Duration = .seconds(24 * 3600)
    let logger: Logger
    /// Rows per jobs page and dead-letter page.
    let pageSize: Int

    public init(config: CronqConfig, readOnly: Bool, logger: Logger, pageSize: Int = 50) throws {
        self.config = config
        names = Topology.Names(prefix: config.amqp.prefix)
        self.readOnly = readOnly || config.web.readOnly
        signer = SessionSigner(token: config.web.token, lifetime: config.web.sessionLifetime)
        renderer = try PageRenderer()
        gateway = BrokerGateway(endpoints: config.amqp.endpoints)
        follower = HistoryFollower(endpoints: config.amqp.endpoints, names: names, window: window, logger: logger)
        operations = DeadOperations(
            endpoints: config.amqp.endpoints, names: names, messageKey: config.amqp.messageKey)
        self.logger = logger
        self.pageSize = pageSize
    }

    /// Starts following the history stream (pages work before it has caught up; they say so).
    public func start() { follower.start() }

    public func stop() {
        follower.stop()
        gateway.close()
    }

    /// Every route, behind the session middleware. Actions are not routed at all in read-only mode.
    public func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.add(middleware: SessionMiddleware(signer: signer))
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/assets/{file}") { request, _ in Self.asset(request.uri.path) }
        router.get("/login") { [self] request, context in loginPage(request, context) }
        router.post("/login") { [self] request, context in try await login(request, context) }
        router.post("/logout") { _, _ in
            var r = Response.redirect(to: "/login", type: .found)
            r.headers[SessionMiddleware.sessionHeader] = "anonymous"
            return r
        }
        router.get("/") { _, _ in Response.redirect(to: "/jobs", type: .found) }
        router.get("/jobs") { [self] request, context in try await jobsPage(request, context) }
        router.get("/jobs/{name}") { [self] request, context in try await jobPage(request, context) }
        router.get("/queues") { [self] _, context in try await queuesPage(context) }
        router.get("/workers") { [self] _, context in try await workersPage(context) }
        router.get("/dead") { [self] request, context in try await deadPage(request, context) }
        router.get("/dead/show") { [self] request, context in try await deadShow(request, context) }
        router.get("/live") { [self] request, context in livePage(request, context) }
        router.get("/live/events") { [self] request, _ in liveEvents(request) }
        if !readOnly {
            router.post("/jobs/{name}/trigger") { [self] request, context in try await trigger(request, context) }
            router.post("/jobs/{name}/pause") { [self] request, context in try await pause(request, context) }
            router.post("/jobs/{name}/resume") { [self] request, context in try await resume(request, context) }
            router.post("/dead/replay") { [self] _, context in await deadAction(purge: false, context) }
            router.post("/dead/purge") { [self] _, context in await deadAction(purge: true, context) }
        }
        return router
    }

    /// Serves until the task is cancelled or the process gets SIGINT/SIGTERM (graceful: open requests end).
    /// Logs `web listening` with the bound address once the socket listens (port 0 picks a free one).
    public func run(listen: WebListen) async throws {
        start()
        defer { stop() }
        let logger = logger
        let readOnly = readOnly
        let login = signer.requiresLogin
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.info(
                    "web listening",
                    metadata: [
                        "address": "http://\(listen.host):\(port)/", "read_only": "\(readOnly)", "login": "\(login)",
                    ])
            },
            logger: logger)
        try await app.runService()
    }

    static func asset(_ path: String) -> Response {
        guard let a = PageRenderer.assets[path] else {
            return SessionMiddleware.plain(.notFound, "no such asset")
        }
        return Response(
            status: .ok, headers: [.contentType: a.type], body: .init(byteBuffer: ByteBuffer(bytes: a.bytes)))
    }

    /// The job a route names, or nil (a 404 page).
    func job(_ context: WebContext) -> CronqConfig.Job? {
        guard let name = context.parameters.get("name") else { return nil }
        return config.jobs.first { $0.name == name }
    }

    func notFound(_ what: String, _ context: WebContext) -> Response {
        renderer.message(
            what, title: "Not found", back: "/jobs", context: context, dashboard: self, status: .notFound, error: true)
    }

    var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
