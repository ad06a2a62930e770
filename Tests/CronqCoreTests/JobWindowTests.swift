import CronqCore
import Testing

/// `start`, `end` and one-off `at` jobs: parsed, checked, and planned like any bounded schedule.
@Suite("Job windows and one-off jobs")
struct JobWindowTests {
    static func parse(_ job: String) throws -> CronqConfig {
        try ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://b"
            token = "t"
            [ticker]
            catch_up_window = "1h"
            [[jobs]]
            name = "j"
            path = "/cron/j"
            \(job)
            """, path: "t.toml")
    }

    static func problems(_ job: String) -> [String] { configIssues { try parse(job) } }

    @Test("start, end and at are RFC 3339 instants with an offset; at replaces schedule and fires once")
    func parsing() throws {
        let j = try Self.parse(
            "schedule = \"*/5 * * * *\"\nstart = \"2026-12-01T10:00:00+01:00\"\nend = \"2026-12-31T23:59:59Z\""
        )
        .jobs[0]
        #expect(j.start == Timestamp.parse("2026-12-01T09:00:00Z") && j.end == Timestamp.parse("2026-12-31T23:59:59Z"))
        let once = try Self.parse("at = \"2026-12-24T18:00:30+01:00\"").jobs[0]
        let at = try #require(Timestamp.parse("2026-12-24T17:00:30Z"))
        #expect(once.at == at && once.start == at && once.end == at)
        #expect(once.nextFire(after: at - 86_400 * 400, in: CronSchedule(once.schedule, zone: once.zone)) == at)
        #expect(once.nextFire(after: at, in: CronSchedule(once.schedule, zone: once.zone)) == nil, "and never again")
    }

    @Test(
        "bad windows are named: not an instant, at with a schedule or a window, end before start, neither schedule nor at",
        arguments: [
            ("schedule = \"@daily\"\nstart = \"tomorrow\"", "start: 'tomorrow' is not an RFC 3339 instant"),
            ("schedule = \"@daily\"\nend = \"2026-12-01\"", "end: '2026-12-01' is not an RFC 3339 instant"),
            ("schedule = \"@daily\"\nat = \"2026-12-24T18:00:00Z\"", "at: a job has either a schedule or an at"),
            ("at = \"2026-12-24T18:00:00Z\"\nend = \"2026-12-25T00:00:00Z\"", "at: a one-off job has no start or end"),
            (
                "schedule = \"@daily\"\nstart = \"2026-12-02T00:00:00Z\"\nend = \"2026-12-01T00:00:00Z\"",
                "end: 2026-12-01T00:00:00Z is before start 2026-12-02T00:00:00Z"
            ),
            ("method = \"POST\"", "schedule: is required (or at, for a one-off job)"),
        ])
    func problems(_ job: String, _ expected: String) {
        let found = Self.problems(job)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    static let t0: Int64 = 1_796_083_200  // 2026-12-01T00:00:00Z

    static func planner(_ config: CronqConfig, lastFired: [String: Int64] = [:], now: Int64) -> FirePlanner {
        FirePlanner(
            jobs: config.jobs.map(FirePlanner.Job.init), lastFired: lastFired, now: now, windowSeconds: 3600,
            maxCatchUp: 100)
    }

    @Test("no fire before start or after end")
    func window() throws {
        let c = try Self.parse(
            "schedule = \"* * * * *\"\nstart = \"2026-12-01T00:03:00Z\"\nend = \"2026-12-01T00:05:00Z\"")
        var p = Self.planner(c, now: Self.t0)
        var fired: [Int64] = []
        for minute in 1...10 {
            let now = (Self.t0 + Int64(minute) * 60) * 1000
            for f in p.takeDue(nowMs: now) {
                fired.append(f.instant - Self.t0)
                p.confirmed(job: f.job, instant: f.instant)
            }
        }
        #expect(fired == [180, 240, 300])
        #expect(p.nextDueMs == nil, "nothing left after the end")
    }

    @Test("a one-off job fires once, on time; a planner after it (checkpoint says fired) has nothing to do")
    func oneOff() throws {
        let c = try Self.parse("at = \"2026-12-01T00:02:00Z\"")
        var p = Self.planner(c, now: Self.t0)
        #expect(p.takeDue(nowMs: (Self.t0 + 119) * 1000).isEmpty)
        let fires = p.takeDue(nowMs: (Self.t0 + 120) * 1000)
        #expect(fires.map(\.instant) == [Self.t0 + 120] && fires.first?.caughtUp == false)
        #expect(p.nextDueMs == nil)
        let after = Self.planner(c, lastFired: ["j": Self.t0 + 120], now: Self.t0 + 600)
        #expect(after.nextDueMs == nil)
    }

    @Test(
        "a ticker down at a one-off job's instant: caught up by its policy within the window, never after it",
        arguments: [("latest", 600, true), ("all", 600, true), ("none", 600, false), ("latest", 7200, false)])
    func oneOffMissed(_ catchUp: String, _ lateBy: Int64, _ fires: Bool) throws {
        let c = try Self.parse("at = \"2026-12-01T00:02:00Z\"\ncatch_up = \"\(catchUp)\"")
        let now = Self.t0 + 120 + lateBy
        var p = Self.planner(c, now: now)
        let got = p.takeDue(nowMs: now * 1000)
        #expect(got.map(\.instant) == (fires ? [Self.t0 + 120] : []))
        #expect(got.allSatisfy { $0.caughtUp })
    }

    @Test("lifecycle: not started, active, ended; a one-off is done once fired, missed if its instant passed without")
    func lifecycle() throws {
        let w = try Self.parse(
            "schedule = \"* * * * *\"\nstart = \"2026-12-01T00:03:00Z\"\nend = \"2026-12-01T00:05:00Z\""
        )
        .jobs[0]
        #expect(w.lifecycle(at: Self.t0, lastFired: nil) == .notStarted)
        #expect(w.lifecycle(at: Self.t0 + 240, lastFired: nil) == .active)
        #expect(w.lifecycle(at: Self.t0 + 301, lastFired: Self.t0 + 300) == .ended)
        let once = try Self.parse("at = \"2026-12-01T00:02:00Z\"").jobs[0]
        #expect(once.lifecycle(at: Self.t0, lastFired: nil) == .notStarted)
        #expect(once.lifecycle(at: Self.t0 + 500, lastFired: Self.t0 + 120) == .done)
        #expect(once.lifecycle(at: Self.t0 + 500, lastFired: nil) == .missed)
    }
}
