import CronqCore
import Foundation
import Testing

@testable import CronqRuntime

/// The notification policy (which notices, once) and each sink's outbox (rate limit, digest, retries),
/// as tables: no HTTP, no clock.
@Suite("Notification policy and outbox")
struct NotifyPolicyTests {
    static func config(_ extra: String = "") throws -> CronqConfig {
        try ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://b"
            token = "tok-SECRET"
            [[jobs]]
            name = "a"
            schedule = "@hourly"
            path = "/a"
            pause_after_failures = 4
            alert_after = "10m"
            [[notify]]
            kind = "webhook"
            url = "https://hooks.example/x"
            failing_after = 2
            \(extra)
            """, path: "t.toml")
    }

    static func event(_ kind: String, at: Int64, id: String = "a@x") -> OutcomeEvent {
        OutcomeEvent(
            event: kind, job: "a", messageID: id, attempt: 3, status: 503, reason: "exhausted", error: "HTTP 503",
            at: at)
    }

    @Test(
        "dead runs: dead each time, failing once at the threshold, paused once at pause_after_failures; a success recovers"
    )
    func deadRuns() throws {
        var h = JobHealth(config: try Self.config(), now: 0)
        var seen: [String] = []
        var pauses = 0
        for i in 1...5 {
            let (notices, pause) = h.observe(Self.event("dead", at: Int64(i)))
            seen += notices.map(\.event.rawValue)
            if pause { pauses += 1 }
        }
        #expect(seen == ["dead", "dead", "failing", "dead", "dead", "paused", "dead"])
        #expect(pauses == 1)
        let (ok, _) = h.observe(Self.event("succeeded", at: 10))
        #expect(ok.map(\.event) == [.recovered] && ok[0].consecutiveDead == 5)
        #expect(h.observe(Self.event("succeeded", at: 11)).notices.isEmpty, "recovered once")
        #expect(h.observe(Self.event("retrying", at: 12)).notices.isEmpty, "retries are not outcomes")
        var ghost = Self.event("dead", at: 13)
        ghost.job = "not-configured"
        #expect(h.observe(ghost).notices.isEmpty && h.jobs["not-configured"] == nil, "unknown jobs are ignored")
    }

    @Test("breaker: one notice per change however many workers announce it; a first `closed` is no news")
    func breakerNotices() throws {
        var h = JobHealth(config: try Self.config(), now: 0)
        func said(_ state: String, by: String) -> BreakerAnnouncement {
            BreakerAnnouncement(backend: "default", state: state, by: by, at: 100, coolDownMs: 30_000)
        }
        #expect(h.breaker(said("closed", by: "a")).isEmpty)
        let opened = h.breaker(said("open", by: "a"))
        #expect(
            opened.map(\.event) == [.breaker] && opened.first?.backend == "default" && opened.first?.reason == "open")
        #expect(h.breaker(said("open", by: "b")).isEmpty, "a second worker's open is the same change")
        #expect(h.breaker(said("half_open", by: "a")).isEmpty)
        #expect(h.breaker(said("closed", by: "a")).map(\.reason) == ["closed"])
        #expect(opened.first?.summary.contains("backend default is failing") == true)
    }

    @Test("silent: once per silence, measured from the leader's start when it saw no success; recovered after")
    func silence() throws {
        var h = JobHealth(config: try Self.config(), now: 1000)
        #expect(h.check(now: 1000 + 600).isEmpty, "exactly alert_after is not over it")
        let first = h.check(now: 1000 + 601)
        #expect(first.map(\.event) == [.silent] && first[0].reason?.contains("no success for over 10m") == true)
        #expect(h.check(now: 1000 + 900).isEmpty, "once")
        #expect(h.observe(Self.event("succeeded", at: 1950)).notices.map(\.event) == [.recovered])
        #expect(h.check(now: 1950 + 601).map(\.event) == [.silent], "a new silence after the success")
    }

    @Test("the webhook body is the documented shape; the dead notice names the command to run")
    func bodies() throws {
        var h = JobHealth(config: try Self.config(), now: 0)
        let n = h.observe(Self.event("dead", at: 1_800_000_000, id: "a@2027-01-15T08:00:00Z")).notices[0]
        let o = try #require(try JSONSerialization.jsonObject(with: Data(n.webhookBody())) as? [String: Any])
        #expect(
            Set(o.keys) == ["v", "event", "job", "message_id", "attempt", "status", "reason", "error", "at", "hint"])
        #expect(o["hint"] as? String == "cronq dead show a@2027-01-15T08:00:00Z" && o["status"] as? Int == 503)
        let slack = try #require(try JSONSerialization.jsonObject(with: Data(n.slackBody())) as? [String: Any])
        #expect((slack["text"] as? String)?.contains("job a is dead (HTTP 503, attempt 3)") == true)
        #expect((slack["blocks"] as? [Any])?.count == 2)
    }

    static func sink(rate: Int = 3, events: Set<NotifySink.Event> = Set(NotifySink.Event.allCases)) -> NotifySink {
        NotifySink(
            name: "s", kind: .webhook, url: Secret("https://x"), events: events, rateCount: rate,
            ratePeriod: .seconds(60), failingAfter: 2)
    }

    static func notice(_ e: NotifySink.Event, _ job: String = "a", consecutive: Int = 1) -> Notice {
        Notice(event: e, job: job, at: 0, consecutiveDead: consecutive, hint: "h")
    }

    @Test("a burst of 50: the rate limit's worth sent at once, the rest in one digest when the window has room")
    func burst() throws {
        var o = NotifyOutbox(sink: Self.sink(rate: 3))
        var sent = 0
        for i in 0..<50 { sent += o.add(Self.notice(.dead, "j\(i % 4)"), now: .milliseconds(i)).count }
        #expect(sent == 3)
        #expect(o.tick(now: .seconds(30)).isEmpty, "the window is still full")
        let digest = o.tick(now: .seconds(61))
        #expect(digest.map(\.kind) == ["digest"])
        let body = try #require(try JSONSerialization.jsonObject(with: Data(digest[0].body)) as? [String: Any])
        #expect(
            body["count"] as? Int == 47 && (body["summary"] as? String)?.contains("dead ×47 (j0, j1, j2, j3)") == true)
        #expect(o.isIdle && o.tick(now: .seconds(200)).isEmpty)
    }

    @Test("a sink gets only what it subscribes to, and failing only at its own threshold")
    func subscriptions() {
        var o = NotifyOutbox(sink: Self.sink(events: [.failing, .recovered]))
        #expect(o.add(Self.notice(.dead), now: .zero).isEmpty)
        #expect(o.add(Self.notice(.failing, consecutive: 3), now: .zero).isEmpty, "this sink's failing_after is 2")
        #expect(o.add(Self.notice(.failing, consecutive: 2), now: .zero).count == 1)
        #expect(o.add(Self.notice(.recovered), now: .zero).count == 1)
    }

    @Test("a failed send is retried after 1 s, 5 s and 30 s, then given up")
    func retries() {
        var o = NotifyOutbox(sink: Self.sink())
        var m = o.add(Self.notice(.dead), now: .zero)[0]
        var now: Duration = .zero
        for wait in NotifyOutbox.backoff {
            #expect(o.failed(m, now: now) == nil)
            #expect(o.tick(now: now + wait - .milliseconds(1)).isEmpty)
            let again = o.tick(now: now + wait)
            #expect(again.count == 1 && again[0].attempt == m.attempt + 1)
            m = again[0]
            now += wait
        }
        #expect(o.failed(m, now: now)?.attempt == 4, "given up after the fourth attempt")
    }

    @Test("[[notify]] problems are named by position and key, never quoting the URL")
    func configProblems() {
        func problems(_ sink: String) -> [String] {
            do {
                _ = try ConfigLoader(environment: [:]).parse(
                    "[backends.default]\nbase_url = \"https://b\"\ntoken = \"t\"\n[[notify]]\n\(sink)", path: "t.toml")
                return []
            } catch let e as ConfigError {
                return e.issues.map(\.description)
            } catch {
                return ["\(error)"]
            }
        }
        #expect(
            problems("kind = \"email\"\nurl = \"https://x\"").contains {
                $0.contains("notify[0].kind: must be slack or webhook")
            })
        #expect(problems("kind = \"slack\"").contains { $0.contains("notify[0].url: is required") })
        #expect(
            problems("kind = \"slack\"\nurl = \"ftp://secret-hook\"").contains {
                $0.contains("must be an http") && !$0.contains("secret-hook")
            })
        #expect(
            problems("kind = \"slack\"\nurl = \"https://x\"\nevents = [\"breaker\", \"boom\"]").map {
                $0.contains("notify[0].events: 'boom' is not one of dead, failing, silent, recovered, paused, breaker")
            } == [true], "breaker is accepted now; only the unknown event is named")
        #expect(
            problems("kind = \"slack\"\nurl = \"https://x\"\nrate = \"lots\"").contains {
                $0.contains("N/s, N/m or N/h")
            })
        #expect(problems("kind = \"webhook\"\nurl = \"https://x\"\nevents = [\"dead\"]\nrate = \"5/m\"").isEmpty)
    }
}
