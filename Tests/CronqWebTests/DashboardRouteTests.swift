import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import CronqWeb

/// Every page and action of `cronq web`, in process (Hummingbird's router test framework) against the
/// test broker: auth, CSRF, read-only mode, escaping of hostile text, and each action's effect on the
/// broker.
@Suite("Dashboard routes", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct DashboardRouteTests {
    @Test("without a session every page redirects to the login and every action is refused")
    func loginRequired() async throws {
        try await WebFixture().run { client, _ in
            let b = TestBrowser(client)
            for path in ["/jobs", "/jobs/nightly", "/queues", "/dead", "/live", "/workers", "/live/events"] {
                let p = try await b.get(path)
                #expect(p.status == .found, "\(path)")
                #expect(p.headers[.location]?.hasPrefix("/login?next=") == true, "\(path)")
            }
            let action = try await b.post("/jobs/nightly/trigger", csrf: "anything")
            #expect(action.status == .unauthorized)
            // Assets and the health check are open.
            #expect(try await b.get("/assets/app.js").status == .ok)
            #expect(try await b.get("/healthz").body == "ok\n")
        }
    }

    @Test("login: a wrong token is refused, a missing CSRF token is refused, the right one opens the pages")
    func login() async throws {
        try await WebFixture().run { client, _ in
            let b = TestBrowser(client)
            // An anonymous session's cookie with its flag flipped to "authenticated": the signature fails.
            try await b.get("/login")
            let anonymous = b.cookie!
            #expect(anonymous.contains(".n."))
            b.cookie = anonymous.replacingOccurrences(of: ".n.", with: ".a.")
            #expect(try await b.get("/jobs").status == .found)
            let wrong = try await b.login("not-the-token-at-all")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.body.contains("not the dashboard"))
            #expect(!wrong.body.contains("not-the-token-at-all"))
            let noCSRF = try await b.post("/login", [("token", WebFixture.token)], csrf: "forged")
            #expect(noCSRF.status == .forbidden)
            let ok = try await b.login()
            #expect(ok.status == .found)
            #expect(ok.headers[.location] == "/jobs")
            let setCookie = ok.headers[.setCookie] ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            #expect(!setCookie.contains("Secure"), "no TLS here")
            #expect(b.cookie != anonymous, "a login issues a new session")
            let jobs = try await b.get("/jobs")
            #expect(jobs.status == .ok)
            #expect(jobs.body.contains("nightly") && jobs.body.contains("often"))
        }
    }

    @Test("login never redirects off the site")
    func noOpenRedirect() async throws {
        try await WebFixture().run { client, _ in
            let b = TestBrowser(client)
            try await b.get("/login")
            for next in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
                b.cookie = nil
                try await b.get("/login")
                let r = try await b.post("/login", [("token", WebFixture.token), ("next", next)])
                #expect(r.headers[.location] == "/jobs", "\(next)")
            }
        }
    }

    @Test("every page answers with the security headers; pages are not stored")
    func pagesAndHeaders() async throws {
        try await WebFixture().run { client, _ in
            let b = TestBrowser(client)
            try await b.login()
            for path in ["/jobs", "/jobs/nightly", "/queues", "/dead", "/live", "/workers"] {
                let p = try await b.get(path)
                #expect(p.status == .ok, "\(path): \(p.body.prefix(300))")
                let csp = p.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
                #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "\(path)")
                #expect(csp.contains("frame-ancestors 'none'"))
                #expect(p.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(p.headers[.cacheControl] == "no-store")
                #expect(!p.body.contains("<script>"), "no inline script: \(path)")
            }
            let job = try await b.get("/jobs/nightly")
            #expect(job.body.contains("Europe/London"))
            #expect(job.body.contains("X-Team") && job.body.contains("data"))
            #expect(!job.body.contains("header-secret-value") && !job.body.contains("backend-secret-token"))
            #expect(try await b.get("/jobs/no-such-job").status == .notFound)
            let queues = try await b.get("/queues")
            #expect(queues.body.contains(".dead") && queues.body.contains(".history"))
            // No ticker runs: the queues page says so, as `cronq status --require-leader` would.
            #expect(queues.body.contains("none"))
        }
    }

    @Test("the jobs page is paged and filtered")
    func paging() async throws {
        let f = try WebFixture()
        let d = try Dashboard(config: f.config, readOnly: false, logger: .init(label: "t"), pageSize: 1)
        defer { f.cleanUp() }
        let app = Application(router: d.router())
        try await app.test(.router) { client in
            let b = TestBrowser(client)
            try await b.login()
            let first = try await b.get("/jobs")
            #expect(first.body.contains("data-job=\"nightly\"") && !first.body.contains("data-job=\"often\""))
            #expect(first.body.contains("page 1 of 2") && first.body.contains("/jobs?page=2"))
            let second = try await b.get("/jobs?page=2")
            #expect(second.body.contains("data-job=\"often\"") && !second.body.contains("data-job=\"nightly\""))
            let filtered = try await b.get("/jobs?q=OFT")
            #expect(filtered.body.contains("data-job=\"often\"") && filtered.body.contains("page 1 of 1"))
        }
    }

    @Test("actions need the session's CSRF token: run now, pause and resume reach the broker with it")
    func actions() async throws {
        let f = try WebFixture()
        try await f.run { client, _ in
            let b = TestBrowser(client)
            try await b.login()
            try await b.get("/jobs")
            let forged = try await b.post("/jobs/often/trigger", csrf: "not-this-sessions-token")
            #expect(forged.status == .forbidden)
            let missing = try await b.post("/jobs/often/trigger", csrf: "")
            #expect(missing.status == .forbidden)
            #expect(try f.count(f.names.workQueue("default")) == 0)
            let run = try await b.post("/jobs/often/trigger")
            #expect(run.status == .ok, "\(run.body)")
            #expect(run.body.contains("Published often@manual-"))
            #expect(try f.count(f.names.workQueue("default")) == 1)
            try await b.get("/jobs")
            let pause = try await b.post("/jobs/often/pause", [("reason", "deploy <b>window</b>"), ("until", "2h")])
            #expect(pause.status == .ok, "\(pause.body)")
            let bad = try await b.post("/jobs/often/pause", [("until", "yesterday")])
            #expect(bad.status == .badRequest)
            try await b.post("/jobs/often/resume", [("catch_up", "latest")])
            #expect(try f.count(f.names.controlQueue) == 2, "pause and resume, not the refused one")
        }
    }

    @Test("read-only: no action is shown or routed")
    func readOnly() async throws {
        let f = try WebFixture(readOnly: true)
        try await f.run { client, _ in
            let b = TestBrowser(client)
            try await b.login()
            let jobs = try await b.get("/jobs")
            #expect(jobs.body.contains("read-only"))
            #expect(!jobs.body.contains("Run now") && !jobs.body.contains("/pause"))
            for path in [
                "/jobs/often/trigger", "/jobs/often/pause", "/jobs/often/resume", "/dead/replay", "/dead/purge",
            ] {
                #expect(try await b.post(path).status == .notFound, "\(path)")
            }
            #expect(try f.count(f.names.workQueue("default")) == 0)
        }
    }

    @Test("without a token (loopback): no login, but actions still need the CSRF token")
    func noToken() async throws {
        let f = try WebFixture(token: false)
        try await f.run { client, _ in
            let b = TestBrowser(client)
            let jobs = try await b.get("/jobs")
            #expect(jobs.status == .ok)
            #expect(!jobs.body.contains("Log out"))
            #expect(try await b.post("/jobs/often/trigger", csrf: "guess").status == .forbidden)
            #expect(try await b.post("/jobs/often/trigger").status == .ok)
        }
    }

    @Test("hostile text in a dead letter (job, error, body) is escaped on every page that shows it")
    func escaping() async throws {
        let f = try WebFixture()
        let script = "<script>alert('x')</script>"
        try f.plantDead(
            id: "\(script)@1", job: script, error: "<img src=x onerror=alert(1)> upstream said \(script)",
            body: #"{"job":"<script>alert(2)</script>","x":"</pre><script>alert(3)</script>"}"#)
        try await f.run { client, _ in
            let b = TestBrowser(client)
            try await b.login()
            let list = try await b.get("/dead")
            #expect(list.status == .ok)
            #expect(list.body.contains("&lt;img src=x onerror=alert(1)&gt;"), "\(list.body)")
            #expect(!list.body.contains("<img src=x") && !list.body.contains("<script>alert"))
            let show = try await b.get("/dead/show?id=\(TestBrowser.escape("\(script)@1"))")
            #expect(show.status == .ok, "\(show.body)")
            #expect(show.body.contains("&lt;/pre&gt;&lt;script&gt;alert(3)"))
            #expect(!show.body.contains("<script>alert"))
            #expect(!show.body.contains("<img src=x"))
        }
    }

    @Test(
        "dead letters: replay asks first (a dry-run count), then replays in the background; purge wants 'purge' typed")
    func deadReplayAndPurge() async throws {
        let f = try WebFixture()
        for i in 0..<3 {
            try f.plantReplayable(id: "often@\(i)")
        }
        try await f.run { client, d in
            let b = TestBrowser(client)
            try await b.login()
            try await b.get("/dead")
            let dry = try await b.post("/dead/replay", [("id", "often@0")])
            #expect(dry.body.contains("1 dead letter(s) match"), "\(dry.body)")
            #expect(try f.count(f.names.deadQueue) == 3, "a dry run moves nothing")
            let go = try await b.post("/dead/replay", [("id", "often@0"), ("confirm", "yes"), ("rate", "50")])
            #expect(go.status == .found)
            #expect(waitFor(10) { (try? f.count(f.names.deadQueue)) == 2 })
            #expect(waitFor(10) { d.operations.running == nil })
            #expect(try f.count(f.names.workQueue("default")) == 1)
            let page = try await b.get("/dead")
            #expect(page.body.contains("replay #1"))
            let wrong = try await b.post("/dead/purge", [("job", "often"), ("typed", "yes")])
            #expect(wrong.body.contains("Type purge to confirm"))
            #expect(try f.count(f.names.deadQueue) == 2)
            let purge = try await b.post("/dead/purge", [("job", "often"), ("typed", "purge")])
            #expect(purge.status == .found)
            #expect(waitFor(10) { (try? f.count(f.names.deadQueue)) == 0 })
        }
    }

    @Test("one dead-letter operation at a time: while a replay runs the list waits and a second operation is refused")
    func oneOperationAtATime() async throws {
        let f = try WebFixture()
        for i in 0..<2 {
            try f.plantReplayable(id: "often@slow-\(i)")
        }
        try await f.run { client, d in
            let b = TestBrowser(client)
            try await b.login()
            try await b.get("/dead")
            // Two at half a message a second: the second is due 2 s after the first.
            let go = try await b.post("/dead/replay", [("job", "often"), ("confirm", "yes"), ("rate", "0.5")])
            #expect(go.status == .found)
            let page = try await b.get("/dead")
            #expect(page.body.contains("The list is back when the running operation has finished"), "\(page.body)")
            #expect(page.body.contains("data-refresh"))
            let second = try await b.post("/dead/purge", [("job", "often"), ("typed", "purge")])
            #expect(second.status == .conflict)
            #expect(second.body.contains("Replay #1 is still running"))
            #expect(waitFor(15) { d.operations.running == nil })
            #expect(try f.count(f.names.deadQueue) == 0, "the replay moved both; the refused purge did nothing")
            #expect(try f.count(f.names.workQueue("default")) == 2)
        }
    }
}

func waitFor(_ timeout: TimeInterval, _ f: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if f() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return f()
}
