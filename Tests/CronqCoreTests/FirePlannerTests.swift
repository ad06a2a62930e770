import Testing

@testable import CronqCore

@Suite("Ticker fire planning")
struct FirePlannerTests {
    static let t0 = utc("2026-11-28T10:00:00Z")

    func job(_ name: String, _ expr: String, catchUp: CronqConfig.CatchUp = .latest, jitterMs: Int64 = 0)
        -> FirePlanner.Job
    {
        FirePlanner.Job(name: name, schedule: try! CronSchedule(expr), catchUp: catchUp, jitterMs: jitterMs)
    }

    func planner(
        _ jobs: [FirePlanner.Job], last: [String: Int64] = [:], now: Int64 = t0, window: Int64 = 3600, max: Int = 100
    ) -> FirePlanner {
        FirePlanner(jobs: jobs, lastFired: last, now: now, windowSeconds: window, maxCatchUp: max)
    }

    @Test("fires come due in order across jobs; nothing is due early")
    func ordering() {
        var p = planner([job("a", "*/2 * * * *"), job("b", "* * * * *")])
        #expect(p.nextDueMs == (Self.t0 + 60) * 1000)
        #expect(p.takeDue(nowMs: (Self.t0 + 59) * 1000).isEmpty)
        #expect(
            p.takeDue(nowMs: (Self.t0 + 60) * 1000) == [
                .init(job: "b", jobIndex: 1, instant: Self.t0 + 60, caughtUp: false)
            ])
        let at120 = p.takeDue(nowMs: (Self.t0 + 120) * 1000 + 300)
        #expect(
            at120 == [
                .init(job: "a", jobIndex: 0, instant: Self.t0 + 120, caughtUp: false),
                .init(job: "b", jobIndex: 1, instant: Self.t0 + 120, caughtUp: false),
            ])
        #expect(p.count == 2)
    }

    @Test(
        "catch-up after 10 minutes down: none, latest, all",
        arguments: [
            (CronqConfig.CatchUp.none, [600]),
            (.latest, [540, 600]),
            (.all, [60, 120, 180, 240, 300, 360, 420, 480, 540, 600]),
        ])
    func catchUp(policy: CronqConfig.CatchUp, offsets: [Int64]) {
        // (The on-time grace is 2 s: a fire found more than 2 s late counts as missed.)
        let now = Self.t0 + 600
        var p = planner([job("j", "* * * * *", catchUp: policy)], last: ["j": Self.t0], now: now)
        let fires = p.takeDue(nowMs: now * 1000)
        #expect(fires.map { $0.instant - Self.t0 } == offsets)
        #expect(fires.filter { !$0.caughtUp }.map(\.instant) == [now], "only the current one is on time")
    }

    @Test("catch-up is capped and limited to the window")
    func window() {
        let now = Self.t0 + 7200
        var p = planner([job("j", "* * * * *", catchUp: .all)], last: ["j": Self.t0], now: now, window: 600, max: 5)
        let fires = p.takeDue(nowMs: now * 1000)
        #expect(
            fires.map { now - $0.instant } == [300, 240, 180, 120, 60, 0],
            "the newest 5 missed within 10 min, then the one on time")
    }

    @Test("a job without a checkpoint starts from now: nothing to catch up")
    func noCheckpoint() {
        var p = planner([job("new", "* * * * *", catchUp: .all)], now: Self.t0 + 30)
        #expect(p.takeDue(nowMs: (Self.t0 + 30) * 1000).isEmpty)
        #expect(p.nextDueMs == (Self.t0 + 60) * 1000)
    }

    @Test("a wall clock that jumps backwards never re-fires a confirmed instant")
    func clockBackwards() {
        var p = planner([job("j", "* * * * *")])
        let first = p.takeDue(nowMs: (Self.t0 + 60) * 1000)
        for f in first { p.confirmed(job: f.job, instant: f.instant) }
        // The clock goes back 5 minutes: nothing is due, and when time passes 60 s again nothing repeats.
        #expect(p.takeDue(nowMs: (Self.t0 - 300) * 1000).isEmpty)
        #expect(p.takeDue(nowMs: (Self.t0 + 61) * 1000).isEmpty)
        #expect(p.takeDue(nowMs: (Self.t0 + 120) * 1000).map(\.instant) == [Self.t0 + 120])
    }

    @Test("a wall clock that jumps forward is handled as missed fires by the policy")
    func clockForward() {
        var p = planner([job("j", "*/10 * * * *", catchUp: .latest)])
        let fires = p.takeDue(nowMs: (Self.t0 + 3600 + 2) * 1000)
        #expect(fires.map { $0.instant - Self.t0 } == [3000, 3600])
        #expect(fires.map(\.caughtUp) == [true, false])
        #expect(p.nextDueMs == (Self.t0 + 4200) * 1000)
    }

    @Test("jitter is stable, bounded, and delays the due time but not the scheduled instant")
    func jitter() {
        let a = FirePlanner.jitterMs(job: "sync", instant: Self.t0, bound: 30_000)
        #expect(a == FirePlanner.jitterMs(job: "sync", instant: Self.t0, bound: 30_000))
        #expect((0..<30_000).contains(a))
        let spread = Set((0..<50).map { FirePlanner.jitterMs(job: "job\($0)", instant: Self.t0, bound: 30_000) })
        #expect(spread.count > 40, "identical schedules spread out")
        var p = planner([job("sync", "* * * * *", jitterMs: 30_000)])
        let due = FirePlanner.jitterMs(job: "sync", instant: Self.t0 + 60, bound: 30_000)
        #expect(p.nextDueMs == (Self.t0 + 60) * 1000 + due)
        #expect(p.takeDue(nowMs: (Self.t0 + 60) * 1000 + due).map(\.instant) == [Self.t0 + 60])
    }

    @Test("a failed publish is retried with its original instant")
    func retry() {
        var p = planner([job("j", "* * * * *")])
        let f = p.takeDue(nowMs: (Self.t0 + 60) * 1000)[0]
        p.retry(f, atMs: (Self.t0 + 70) * 1000)
        // Even 10 s late and with catch_up none, a retry is published as it is, once.
        #expect(p.takeDue(nowMs: (Self.t0 + 70) * 1000) == [f])
        #expect(p.count == 1, "the retry did not add a second regular entry")
        #expect(p.takeDue(nowMs: (Self.t0 + 119) * 1000).isEmpty)
        // A retry for an instant confirmed meanwhile (a late confirm) is dropped.
        let g = p.takeDue(nowMs: (Self.t0 + 120) * 1000)[0]
        p.retry(g, atMs: (Self.t0 + 121) * 1000)
        p.confirmed(job: g.job, instant: g.instant)
        #expect(p.takeDue(nowMs: (Self.t0 + 121) * 1000).isEmpty)
    }

    @Test(
        "a fire still owed stays owed when a later fire of its job is confirmed first; the checkpoint settles before it"
    )
    func owedPastLaterConfirm() {
        var p = planner([job("j", "* * * * *", catchUp: .all)], last: ["j": Self.t0])
        let f60 = p.takeDue(nowMs: (Self.t0 + 60) * 1000)[0]
        p.retry(f60, atMs: (Self.t0 + 121) * 1000)  // nacked; due again with the next fire
        let batch = p.takeDue(nowMs: (Self.t0 + 120) * 1000)
        #expect(batch.map { $0.instant - Self.t0 } == [120])
        p.confirmed(job: "j", instant: Self.t0 + 120)  // the later fire is confirmed first
        #expect(p.lastFired["j"] == Self.t0 + 120)
        #expect(p.settled["j"] == Self.t0 + 59, "the checkpoint may not record 10:02 while 10:01 is owed")
        #expect(p.takeDue(nowMs: (Self.t0 + 121) * 1000) == [f60], "the retry is not dropped")
        p.confirmed(job: "j", instant: Self.t0 + 60)
        #expect(p.settled["j"] == Self.t0 + 120 && p.unconfirmed.isEmpty)
        // Owed instants of several jobs: each job held back on its own; jobs without any untouched.
        #expect(
            FirePlanner.settle(["a": 100, "b": 200, "c": 300], ["a": [90, 95], "b": [250]])
                == ["a": 89, "b": 200, "c": 300])
    }

    @Test("a retry that meets the same instant found by the schedule is one fire, not two")
    func retryMeetsSchedule() {
        // A new planner from the last confirmed fire (t0) finds t0+60 on time; the old planner's
        // unconfirmed fire of t0+60 is fed back as a retry: one publish.
        var p = FirePlanner(
            jobs: [job("j", "* * * * *", catchUp: .none)], lastFired: ["j": Self.t0], now: Self.t0 + 61,
            windowSeconds: 3600, maxCatchUp: 10)
        p.retry(
            FirePlanner.Fire(job: "j", jobIndex: 0, instant: Self.t0 + 60, caughtUp: false), atMs: (Self.t0 + 61) * 1000
        )
        #expect(p.takeDue(nowMs: (Self.t0 + 61) * 1000).map(\.instant) == [Self.t0 + 60])
    }

    @Test("100,000 jobs: the heap stays consistent")
    func manyJobs() {
        let jobs = (0..<100_000).map { job("j\($0)", "\($0 % 60) * * * *") }
        var p = planner(jobs)
        #expect(p.count == 100_000)
        // At 10:59 every job with minute 1-59 has come due once (minute 0 is next at 11:00).
        let fires = p.takeDue(nowMs: (Self.t0 + 59 * 60) * 1000)
        #expect(fires.count == 100_000 - 1667)
        #expect(fires == fires.sorted { ($0.instant, $0.job) < ($1.instant, $1.job) })
        #expect(p.count == 100_000)
    }

    @Test("checkpoint JSON round trip")
    func checkpoint() {
        let c = Checkpoint(at: Self.t0, fired: ["a": Self.t0 - 60, "b": Self.t0])
        #expect(
            String(decoding: c.encoded(), as: UTF8.self)
                == #"{"v":1,"at":"2026-11-28T10:00:00Z","fired":{"a":"2026-11-28T09:59:00Z","b":"2026-11-28T10:00:00Z"},"paused":{},"running":{}}"#
        )
        #expect(Checkpoint.decode(c.encoded()) == c)
        #expect(Checkpoint.decode(Array("nonsense".utf8)) == nil)
        #expect(Checkpoint.decode(Array(#"{"v":2}"#.utf8)) == nil)
    }
}
