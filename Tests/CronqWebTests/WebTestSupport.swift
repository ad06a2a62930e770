import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

@testable import CronqWeb

/// A dashboard on the test broker with a prefix of its own (its topology applied), for in-process route
/// tests: Hummingbird's router test framework calls the routes without a socket; the broker is real.
struct WebFixture {
    let config: CronqConfig
    let names: Topology.Names
    static let token = "route-test-token-0123456789"

    init(token: Bool = true, readOnly: Bool = false) throws {
        let prefix = uniqueName("web")
        let text = """
            [amqp]
            url = "\(TestBroker.url!)"
            prefix = "\(prefix)"
            [backends.default]
            base_url = "http://127.0.0.1:9"
            token = "backend-secret-token"
            [web]
            \(token ? "token = \"\(Self.token)\"" : "")
            read_only = \(readOnly)
            [[jobs]]
            name = "nightly"
            schedule = "0 3 * * *"
            timezone = "Europe/London"
            path = "/cron/nightly"
            headers = { "X-Api-Key" = "header-secret-value", "X-Team" = "data" }
            [[jobs]]
            name = "often"
            schedule = "*/5 * * * *"
            path = "/cron/often"

            """
        config = try ConfigLoader(environment: [:]).parse(text, path: "web-test.toml")
        names = Topology.Names(prefix: prefix)
        _ = try TopologyApply.run(config: config)
    }

    func dashboard() throws -> Dashboard {
        try Dashboard(
            config: config, readOnly: false, logger: Logger(label: "web-test") { _ in SwiftLogNoOpLogHandler() })
    }

    /// Runs `body` against the dashboard's router, with its history follower running, then deletes the
    /// fixture's queues.
    func run(_ body: @escaping @Sendable (any TestClientProtocol, Dashboard) async throws -> Void) async throws {
        let d = try dashboard()
        d.start()
        defer {
            d.stop()
            cleanUp()
        }
        let app = Application(router: d.router())
        try await app.test(.router) { client in try await body(client, d) }
    }

    func connection() throws -> AMQPConnection {
        try AMQPConnection(url: AMQPURL(TestBroker.url!), name: "web-test")
    }

    func count(_ queue: String) throws -> UInt32 {
        let c = try connection()
        defer { c.close() }
        return try c.openChannel().inspectQueue(queue).messageCount
    }

    /// Puts a message straight into the dead-letter queue, as a worker would have (headers and all).
    func plantDead(id: String, job: String, error: String, body: String) throws {
        let c = try connection()
        defer { c.close() }
        let ch = try c.openChannel()
        try ch.enableConfirms()
        var h = AMQPTable()
        h[JobMessageProperties.deadReasonHeader] = .string("status")
        h[JobMessageProperties.deadErrorHeader] = .string(error)
        h[JobMessageProperties.deadAtHeader] = .string(Timestamp.iso(Int64(Date().timeIntervalSince1970)))
        h[JobMessageProperties.queueHeader] = .string(names.jobsExchange + ".default")
        let m = AMQPMessage(
            body: Array(body.utf8),
            properties: AMQPProperties(contentType: "application/json", headers: h, deliveryMode: 2, messageID: id))
        _ = try ch.publishAndConfirm([OutgoingMessage(exchange: "", routingKey: names.deadQueue, message: m)])
    }

    /// A dead letter that replays: its body is a job message of `job` (POST /cron/<job>), its error an HTTP 500.
    func plantReplayable(id: String, job: String = "often") throws {
        try plantDead(
            id: id, job: job, error: "HTTP 500",
            body:
                #"{"v":1,"job":"\#(job)","message_id":"\#(id)","scheduled_at":"2026-12-01T00:00:00Z","backend":"default","request":{"method":"POST","path":"/cron/\#(job)"}}"#
        )
    }

    func cleanUp() {
        guard let c = try? connection() else { return }
        defer { c.close() }
        for q in Topology(config: config).queues.map(\.name) { _ = try? c.openChannel().deleteQueue(q) }
    }
}

/// A browser for route tests: keeps the session cookie and the last page's CSRF token.
final class TestBrowser: @unchecked Sendable {
    let client: any TestClientProtocol
    var cookie: String?
    var csrf: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
    }

    @discardableResult
    func get(_ uri: String) async throws -> Page {
        try await send(uri, method: .get, body: nil)
    }

    /// Posts a form; `_csrf` is added from the last page unless `csrf` says otherwise.
    @discardableResult
    func post(_ uri: String, _ fields: [(String, String)] = [], csrf: String? = nil) async throws -> Page {
        var all = fields
        if let token = csrf ?? self.csrf { all.append(("_csrf", token)) }
        let body = all.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        return try await send(uri, method: .post, body: body)
    }

    @discardableResult
    func login(_ token: String = WebFixture.token) async throws -> Page {
        try await get("/login")
        return try await post("/login", [("token", token), ("next", "/jobs")])
    }

    private func send(_ uri: String, method: HTTPRequest.Method, body: String?) async throws -> Page {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let r = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        if let set = r.headers[.setCookie], let pair = set.split(separator: ";").first { cookie = String(pair) }
        let text = String(buffer: r.body)
        if let range = text.range(of: #"name="_csrf" value="([^"]+)""#, options: .regularExpression) {
            csrf = String(text[range].dropFirst(#"name="_csrf" value=""#.count).dropLast())
        }
        return Page(status: r.status, headers: r.headers, body: text)
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
