import CronqAMQP
import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// Pause and resume (issue "Job control and history"): a control message the leader applies and keeps
/// in its checkpoint, so that a failover keeps the pause; skipped fires are recorded; resume can catch
/// up the latest skipped fire; a pause with --until ends by itself.
@Suite("Pause and resume", .serialized, .enabled(if: TestBroker.isConfigured, "run under `make test`"))
struct JobControlTests {
    func cronq(_ d: Deployment, _ args: [String]) throws -> CommandResult {
        try runCommand("cronq", args + ["--config", d.configPath], environment: d.environment)
    }

    /// Instants of `job`'s fires in the tickers' logs.
    func fires(_ d: Deployment, _ job: String, caughtUp: Bool? = nil) -> [Int64] {
        d.logs("ticker").split(separator: "\n").filter { $0.contains("msg=fired ") && $0.contains(" job=\(job) ") }
            .filter { caughtUp == nil || $0.contains("caught_up=\(caughtUp!)") }
            .compactMap { Accounting.field("scheduled_at", in: $0).flatMap(Timestamp.parse) }
    }

    @Test(
        "pause holds across a leader failover, skipped fires are recorded, resume catches up the latest; --until ends by itself"
    )
    func pauseResume() throws {
        let broker = try ChaosBroker(name: "cronq-control", port: 5692)
        defer { broker.stop() }
        let d = try Deployment(
            broker: broker, jobs: [("a", "* * * * * *", "/cron/a"), ("b", "* * * * * *", "/cron/b")])
        defer { d.stop() }
        try d.startTicker()
        try d.startTicker()
        try d.startWorker()
        #expect(waitFor(20) { d.leaderIndex() != nil && !fires(d, "a").isEmpty })

        let pause = try cronq(d, ["pause", "a", "--reason", "maintenance"])
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(waitFor(10) { d.logs("ticker").contains("msg=\"job paused\"") })
        let pausedAt = Int64(Date().timeIntervalSince1970)
        Thread.sleep(forTimeInterval: 3)
        #expect(fires(d, "a").allSatisfy { $0 <= pausedAt + 1 }, "no fire of a while paused")
        #expect(d.logs("ticker").contains("msg=skipped") && d.logs("ticker").contains("reason=paused"))
        #expect(fires(d, "b").contains { $0 > pausedAt + 1 }, "b goes on")

        let validate = try cronq(d, ["validate"])
        #expect(
            validate.status == 0 && validate.stdout.contains("paused: a since")
                && validate.stdout.contains("until resumed (maintenance)"), "\(validate.stdout)")
        let status = try cronq(d, ["status", "--jobs"])
        #expect(
            status.stdout.contains("paused: a since") && status.stdout.contains("(maintenance)"), "\(status.stdout)")

        // Failover: the new leader reads the pause from the checkpoint.
        let leader = try #require(d.leaderIndex())
        d.kill(d.tickers[leader])
        let other = 1 - leader
        #expect(waitFor(15) { d.leaderIndex() == other })
        let takeover = Int64(Date().timeIntervalSince1970)
        Thread.sleep(forTimeInterval: 3)
        #expect(fires(d, "a").allSatisfy { $0 <= pausedAt + 1 }, "still paused after the failover")
        #expect(fires(d, "b").contains { $0 > takeover }, "the new leader fires b")

        let resume = try cronq(d, ["resume", "a", "--catch-up", "latest"])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(waitFor(10) { !fires(d, "a", caughtUp: true).isEmpty }, "the latest skipped fire is caught up")
        let resumedAt = Int64(Date().timeIntervalSince1970)
        #expect(waitFor(10) { fires(d, "a").contains { $0 > resumedAt } }, "and a fires again")

        let until = try cronq(d, ["pause", "b", "--until", "3s", "--reason", "short"])
        #expect(until.status == 0)
        #expect(waitFor(15) { d.logs("ticker").contains("reason=\"paused until") }, "the pause of b ended by itself")
        let bBack = Int64(Date().timeIntervalSince1970)
        #expect(waitFor(10) { fires(d, "b").contains { $0 > bBack } })

        let history = try cronq(d, ["history", "a", "--json"])
        #expect(history.stdout.contains("\"outcome\":\"skipped\""), "skipped fires are in the history")

        for t in d.tickers { t?.signal(SIGTERM) }
        for t in d.tickers { t?.process.waitUntilExit() }
        #expect(try d.settle())
        let a = try d.accounting()
        print("pause/resume: \(a)")
        #expect(a.lost.isEmpty && a.unknown.isEmpty && a.balancesAtRest)
    }

    @Test("bad pause and resume input: usage errors and unknown jobs")
    func badInput() throws {
        let broker = try ChaosBroker(name: "cronq-control", port: 5692)
        defer { broker.stop() }
        let d = try Deployment(broker: broker, jobs: [("a", "@daily", "/cron/a")])
        defer { d.stop() }
        let unknown = try cronq(d, ["pause", "zzz"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no job 'zzz'"))
        let badUntil = try cronq(d, ["pause", "a", "--until", "tomorrow"])
        #expect(badUntil.status == 64 && badUntil.stderr.contains("--until 'tomorrow'"))
        let past = try cronq(d, ["pause", "a", "--until", "2020-01-01T00:00:00Z"])
        #expect(past.status == 64 && past.stderr.contains("is in the past"))
        let badCatchUp = try cronq(d, ["resume", "a", "--catch-up", "all"])
        #expect(badCatchUp.status == 64 && badCatchUp.stderr.contains("--catch-up must be none or latest"))
        let noTopology = try cronq(d, ["pause", "a"])
        #expect(
            noTopology.status == 1 && noTopology.stderr.contains("run `cronq topology apply`"), "\(noTopology.stderr)")
        #expect(try cronq(d, ["topology", "apply"]).status == 0)
        // Sent with no ticker running: it waits in the control queue.
        #expect(try cronq(d, ["pause", "a"]).status == 0)
        #expect(try d.count(d.names.controlQueue) == 1)
    }
}
