import CronqAMQP
import CronqCore
import Foundation
import Logging
import Testing

@testable import CronqRuntime

/// The leader's policies as tables: plan, confirms, control messages, run ends and failovers go in,
/// actions come out. No broker, no clock, no sleep.
@Suite("Leader state")
struct LeaderStateTests {
    /// 2026-12-01T00:00:00Z, a minute boundary.
    static let t0: Int64 = 1_796_083_200

    static func config(catchUp: String = "latest") -> CronqConfig {
        try! ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://b"
            token = "t"
            [ticker]
            catch_up_window = "1h"
            [[jobs]]
            name = "a"
            schedule = "* * * * *"
            path = "/cron/a"
            catch_up = "\(catchUp)"
            [[jobs]]
            name = "s"
            schedule = "* * * * *"
            path = "/cron/s"
            overlap = "skip"
            timeout = "10s"
            retry = { max_attempts = 1 }
            """, path: "t.toml")
    }

    static func ms(_ seconds: Int64) -> Int64 { (t0 + seconds) * 1000 }

    static func summary(_ actions: [LeaderState.Action]) -> [String] {
        actions.map { a in
            switch a {
            case .publishFires(let f):
                return "fire "
                    + f.map { "\($0.fire.job)@\($0.fire.instant - t0)\($0.fire.caughtUp ? "c" : "")" }
                    .joined(separator: ",")
            case .publishCheckpoint: return "checkpoint"
            case .ack(.control(let t)): return "ack control \(t)"
            case .ack(.completion(let t)): return "ack completion \(t)"
            case .ack(.outcome(let t)): return "ack outcome \(t)"
            case .notify(let n): return "notify \(n.event.rawValue) \(n.job)"
            case .emit(let e): return "event \(e.event) \(e.job)"
            case .record(let r):
                switch r {
                case .skipped(let job, _, let reason, _): return "skipped \(job) \(reason.prefix(7))"
                case .fired(let job, let at, _, _, _): return "fired \(job)@\(at - t0)"
                default: return "\(r)".prefix { $0 != "(" }.description
                }
            }
        }
    }

    /// Performs the plan like the driver: every batch confirmed (or not), every checkpoint confirmed.
    @discardableResult
    static func run(
        _ s: inout LeaderState, _ actions: [LeaderState.Action], at ms: Int64, confirm: Bool = true,
        checkpointConfirmed: Bool = true
    ) -> [String] {
        var out: [String] = []
        for a in actions {
            out += summary([a])
            switch a {
            case .publishFires(let fires):
                out += run(
                    &s, s.firesPublished(fires, outcomes: fires.map { _ in confirm ? .confirmed : .nacked }, nowMs: ms),
                    at: ms, confirm: confirm, checkpointConfirmed: checkpointConfirmed)
            case .publishCheckpoint where s.checkpointDirty && checkpointConfirmed:
                out += run(&s, s.checkpointConfirmed(), at: ms)
            default:
                break
            }
        }
        return out
    }

    static func leader(_ checkpoint: Checkpoint? = nil, catchUp: String = "latest") -> LeaderState {
        var s = LeaderState(config: config(catchUp: catchUp))
        #expect(summary(s.lead(checkpoint: checkpoint, nowMs: ms(0))) == ["leadershipAcquired"])
        return s
    }

    @Test("first fire: its baseline is checkpointed before the fire is published; the next fire needs none")
    func firstFireBaseline() {
        var s = Self.leader()
        let plan = s.plan(nowMs: Self.ms(60))
        #expect(Self.summary(plan) == ["checkpoint", "fire a@60,s@60", "checkpoint"])
        #expect(s.checkpoint(nowMs: Self.ms(60)).fired == ["a": Self.t0 + 59, "s": Self.t0 + 59])
        Self.run(&s, plan, at: Self.ms(60))
        #expect(s.checkpoint(nowMs: Self.ms(60)).fired == ["a": Self.t0 + 60, "s": Self.t0 + 60])
        _ = s.completion(
            [
                OutcomeEvent(
                    event: "succeeded", job: "s", messageID: "s@x", scheduledAt: Timestamp.iso(Self.t0 + 60), at: 0)
            ], tag: 1)
        #expect(Self.summary(s.plan(nowMs: Self.ms(120))) == ["fire a@120,s@120", "checkpoint"])
    }

    @Test("fires not confirmed are retried a second later; confirmed ones never again")
    func unconfirmedRetried() {
        var s = Self.leader()
        _ = Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60), confirm: false)
        #expect(Self.summary(s.plan(nowMs: Self.ms(60) + 500)).isEmpty)
        let again = Self.run(&s, s.plan(nowMs: Self.ms(61)), at: Self.ms(61))
        #expect(again.contains("fired a@60") && again.contains("fired s@60"))
        #expect(!Self.run(&s, s.plan(nowMs: Self.ms(62)), at: Self.ms(62)).contains { $0.hasPrefix("fire") })
    }

    @Test(
        "a nacked fire whose job's next fire is confirmed first: retried, the checkpoint held before it, and a new leader catches it up"
    )
    func owedAcrossFailover() {
        var s = Self.leader(catchUp: "all")
        let first = s.plan(nowMs: Self.ms(60))
        Self.run(&s, first, at: Self.ms(60), confirm: false)  // a@60 and s@60 nacked: retried at 61
        // At 120 the retries and the new fires leave in one batch; a@60 is nacked again, the rest confirmed.
        let plan = s.plan(nowMs: Self.ms(120))
        guard case .publishFires(let batch) = plan.first(where: { if case .publishFires = $0 { true } else { false } })
        else {
            Issue.record("no fires at 120: \(Self.summary(plan))")
            return
        }
        // (s@120 waits for s@60's run: overlap = "skip")
        #expect(batch.map { "\($0.fire.job)@\($0.fire.instant - Self.t0)" } == ["a@60", "s@60", "a@120"])
        let outcomes: [PublishConfirms<Int>.Outcome?] = batch.map {
            $0.fire.job == "a" && $0.fire.instant == Self.t0 + 60 ? .nacked : .confirmed
        }
        _ = s.firesPublished(batch, outcomes: outcomes, nowMs: Self.ms(120))
        #expect(s.lastFired["a"] == Self.t0 + 120)
        #expect(
            s.checkpoint(nowMs: Self.ms(120)).fired["a"] == Self.t0 + 59,
            "a's checkpoint stays before the fire it still owes")

        // This leader's connection dies before the retry goes out; another ticker leads from its checkpoint.
        let checkpoint = s.checkpoint(nowMs: Self.ms(120))
        s.lost()
        var next = LeaderState(config: Self.config(catchUp: "all"))
        _ = next.lead(checkpoint: checkpoint, nowMs: Self.ms(125))
        let caught = Self.run(&next, next.plan(nowMs: Self.ms(125)), at: Self.ms(125))
        #expect(caught.contains("fired a@60"), "the owed fire is caught up: \(caught)")
        #expect(caught.contains("fired a@120"), "and the one after it again, with its same message id")
        #expect(next.checkpoint(nowMs: Self.ms(125)).fired["a"] == Self.t0 + 120)

        // The same ticker leading again (reconnect) catches it up too: the owed fire outlives its planner.
        _ = s.lead(checkpoint: checkpoint, nowMs: Self.ms(125))
        #expect(Self.run(&s, s.plan(nowMs: Self.ms(125)), at: Self.ms(125)).contains("fired a@60"))
        #expect(s.checkpoint(nowMs: Self.ms(125)).fired["a"] == Self.t0 + 120)
    }

    @Test("pause: fires are skipped and marked done; the control message is acked only after a confirmed checkpoint")
    func pauseAckedAfterCheckpoint() {
        var s = Self.leader()
        Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        let pause = ControlMessage(action: .pause, job: "a", reason: "deploy", at: Self.t0 + 61)
        let applied = Self.run(
            &s, s.control(pause, tag: 7, nowMs: Self.ms(61)), at: Self.ms(61), checkpointConfirmed: false)
        #expect(applied == ["paused", "event paused a", "checkpoint"])
        #expect(s.checkpoint(nowMs: Self.ms(61)).paused["a"]?.reason == "deploy")
        #expect(Self.summary(s.checkpointConfirmed()) == ["ack control 7"])
        #expect(Self.summary(s.checkpointConfirmed()) == [], "acked once")
        let next = Self.summary(s.plan(nowMs: Self.ms(120)))
        #expect(next.contains("skipped a paused") && next.contains("event skipped a") && !next.contains("fire a@120"))
    }

    @Test("a leader that dies before its checkpoint is confirmed acks nothing: the next leader gets the message again")
    func pauseWithoutConfirmedCheckpoint() {
        var a = Self.leader()
        let pause = ControlMessage(action: .pause, job: "a", at: Self.t0 + 61)
        _ = Self.run(&a, a.control(pause, tag: 3, nowMs: Self.ms(61)), at: Self.ms(61), checkpointConfirmed: false)
        a.lost()
        #expect(Self.summary(a.checkpointConfirmed()) == [], "the old channel's tag is never acked")
        // The next leader reads the last confirmed checkpoint (no pause) and receives the message again.
        var b = Self.leader(Checkpoint(at: Self.t0, fired: ["a": Self.t0, "s": Self.t0]))
        #expect(Self.run(&b, b.control(pause, tag: 1, nowMs: Self.ms(62)), at: Self.ms(62)).contains("ack control 1"))
        #expect(Self.summary(b.plan(nowMs: Self.ms(120))).contains("skipped a paused"))
    }

    @Test("resume with catch-up latest fires the latest skipped instant once; without, nothing")
    func resume() {
        for (catchUp, expected) in [(CronqConfig.CatchUp.latest, true), (.none, false)] {
            var s = Self.leader()
            Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
            Self.run(
                &s, s.control(ControlMessage(action: .pause, job: "a", at: 0), tag: 1, nowMs: Self.ms(61)),
                at: Self.ms(61))
            Self.run(&s, s.plan(nowMs: Self.ms(120)), at: Self.ms(120))
            Self.run(&s, s.plan(nowMs: Self.ms(180)), at: Self.ms(180))
            let resumed = Self.run(
                &s,
                s.control(
                    ControlMessage(action: .resume, job: "a", catchUp: catchUp, at: 0), tag: 2, nowMs: Self.ms(200)),
                at: Self.ms(200))
            #expect(resumed.contains("fire a@180c") == expected, "\(catchUp): \(resumed)")
            #expect(resumed.contains("ack control 2"))
        }
    }

    @Test("a pause with until ends at the first fire after it")
    func pauseUntil() {
        var s = Self.leader()
        Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        let pause = ControlMessage(action: .pause, job: "a", until: Self.t0 + 150, at: 0)
        Self.run(&s, s.control(pause, tag: 1, nowMs: Self.ms(61)), at: Self.ms(61))
        #expect(Self.summary(s.plan(nowMs: Self.ms(120))).contains("skipped a paused"))
        let after = Self.summary(s.plan(nowMs: Self.ms(180)))
        #expect(after.contains("pauseExpired") && after.contains { $0.hasPrefix("fire a@180") })
    }

    @Test("unreadable control messages and messages for unknown jobs are acked at once and change nothing")
    func badControl() {
        var s = Self.leader()
        #expect(Self.summary(s.control(nil, tag: 1, nowMs: Self.ms(1))) == ["unreadableControl", "ack control 1"])
        #expect(
            Self.summary(s.control(ControlMessage(action: .pause, job: "ghost", at: 0), tag: 2, nowMs: Self.ms(1)))
                == ["controlForUnknownJob", "ack control 2"])
        #expect(!s.checkpointDirty)
    }

    static func ended(_ instant: Int64, _ outcome: String = "succeeded") -> OutcomeEvent {
        OutcomeEvent(
            event: outcome, job: "s", messageID: "s@\(Timestamp.iso(instant))", scheduledAt: Timestamp.iso(instant),
            at: 0)
    }

    @Test(
        "overlap skip: the end arriving early (before the next fire), late (after a skip) or never (expiry)",
        arguments: ["early", "late", "never"])
    func overlap(_ when: String) {
        var s = Self.leader()
        Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        #expect(s.running["s"]?.scheduledAt == Self.t0 + 60)
        switch when {
        case "early":
            #expect(Self.run(&s, s.completion([Self.ended(Self.t0 + 60)], tag: 5), at: Self.ms(70)) == ["runEnded"])
            #expect(Self.run(&s, s.plan(nowMs: Self.ms(120)), at: Self.ms(120)).contains("fired s@120"))
        case "late":
            #expect(Self.run(&s, s.plan(nowMs: Self.ms(120)), at: Self.ms(120)).contains("skipped s overlap"))
            let end = Self.run(&s, s.completion([Self.ended(Self.t0 + 60, "dead")], tag: 5), at: Self.ms(130))
            #expect(end == ["runEnded"])
            // The end is acked with the next confirmed checkpoint, which no longer holds the run.
            #expect(Self.run(&s, s.plan(nowMs: Self.ms(180)), at: Self.ms(180)).contains("ack completion 5"))
            #expect(s.running["s"]?.scheduledAt == Self.t0 + 180)
        default:
            let expires = s.running["s"]!.expiresAt
            let beforeExpiry = (expires - Self.t0) / 60 * 60
            #expect(
                Self.run(&s, s.plan(nowMs: Self.ms(beforeExpiry)), at: Self.ms(beforeExpiry)).contains(
                    "skipped s overlap"))
            let at = beforeExpiry + 60
            let late = Self.run(&s, s.plan(nowMs: Self.ms(at)), at: Self.ms(at))
            #expect(late.contains("noEndHeard") && late.contains("fired s@\(at)"), "\(late)")
        }
    }

    @Test("an end of an unrelated or older run is acked at once; the end of a later run ends the earlier one")
    func completionMatching() {
        var s = Self.leader()
        Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        #expect(Self.summary(s.completion([Self.ended(Self.t0)], tag: 1)) == ["ack completion 1"])
        #expect(Self.summary(s.completion([Self.ended(Self.t0 + 120)], tag: 2)) == ["runEnded"])
    }

    @Test("failover mid-run: the next leader reads the run from the checkpoint and waits for its end too")
    func failoverMidRun() {
        var a = Self.leader()
        Self.run(&a, a.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        let cp = a.checkpoint(nowMs: Self.ms(61))
        a.lost()
        var b = Self.leader(cp)
        let next = Self.run(&b, b.plan(nowMs: Self.ms(120)), at: Self.ms(120))
        #expect(next.contains("skipped s overlap") && next.contains("fired a@120"), "\(next)")
        #expect(!next.contains("fired a@60"), "what the old leader confirmed is not fired again")
    }

    @Test("a clock jumping back fires nothing twice; a jump forward catches up by the job's policy")
    func clockJumps() {
        var s = Self.leader(catchUp: "all")
        Self.run(&s, s.plan(nowMs: Self.ms(60)), at: Self.ms(60))
        _ = s.completion([Self.ended(Self.t0 + 60)], tag: 1)
        #expect(Self.summary(s.plan(nowMs: Self.ms(-3600))).filter { $0.hasPrefix("fire") }.isEmpty)
        #expect(Self.summary(s.plan(nowMs: Self.ms(60))).filter { $0.hasPrefix("fire") }.isEmpty)
        // Ten minutes ahead: a (catch_up = all) gets every missed minute, then the on-time one.
        let ahead = Self.summary(s.plan(nowMs: Self.ms(660)))
        let fired = ahead.first { $0.hasPrefix("fire") } ?? ""
        #expect(fired.components(separatedBy: "a@").count - 1 == 10, "\(fired)")
        #expect(fired.contains("a@120c") && fired.contains("a@660") && !fired.contains("a@660c"))
    }

    @Test("catch_up = none after downtime: only the on-time fire")
    func catchUpNone() {
        var s = Self.leader(Checkpoint(at: Self.t0, fired: ["a": Self.t0, "s": Self.t0]), catchUp: "none")
        let fired = Self.summary(s.plan(nowMs: Self.ms(600))).first { $0.hasPrefix("fire") } ?? ""
        #expect(fired.contains("a@600") && !fired.contains("a@540"), "\(fired)")
    }

    @Test("a batch that fails with its connection: catch_up = none fires are retried by the next planner")
    func noneFiresSurviveLoss() {
        var s = Self.leader(catchUp: "none")
        let plan = s.plan(nowMs: Self.ms(60))
        for case .publishFires(let fires) in plan {
            let records = s.firesFailed(fires, nowMs: Self.ms(60))
            // each fire is named: the broker may have enqueued it before the connection died
            #expect(records.count == fires.count && !fires.isEmpty)
            for (r, f) in zip(records, fires) {
                guard case .record(let record) = r else {
                    Issue.record("not a record: \(r)")
                    continue
                }
                #expect(record == .fireFailed(job: f.fire.job, scheduledAt: f.fire.instant, publish: "connection lost"))
                #expect("\(record.message)".hasPrefix("fire not confirmed"))
            }
        }
        s.lost()
        _ = s.lead(checkpoint: nil, nowMs: Self.ms(62))
        let again = Self.summary(s.plan(nowMs: Self.ms(62)))
        #expect(again.contains { $0.hasPrefix("fire") && $0.contains("a@60") }, "\(again)")
    }

    @Test("records render the documented log lines")
    func records() {
        let r = TickerRecord.fired(job: "a", scheduledAt: Self.t0, messageID: "a@x", latenessMs: 12, caughtUp: false)
        #expect("\(r.message)" == "fired" && r.level == .info)
        #expect("\(r.metadata["scheduled_at"]!)" == "2026-12-01T00:00:00Z")
    }

    @Test("pause_after_failures: the third dead run pauses the job; that outcome is acked only after the checkpoint")
    func pauseAfterFailures() throws {
        var config = Self.config()
        config.jobs[0].pauseAfterFailures = 3
        var s = LeaderState(config: config)
        _ = s.lead(checkpoint: nil, nowMs: Self.ms(0))
        #expect(s.needsOutcomes)
        func dead(_ i: Int) -> OutcomeEvent {
            OutcomeEvent(event: "dead", job: "a", messageID: "a@\(i)", at: Self.t0 + Int64(i))
        }
        #expect(Self.summary(s.outcomes([dead(1)], tag: 1, nowMs: Self.ms(1))) == ["notify dead a", "ack outcome 1"])
        #expect(Self.summary(s.outcomes([dead(2)], tag: 2, nowMs: Self.ms(2))) == ["notify dead a", "ack outcome 2"])
        let third = Self.run(&s, s.outcomes([dead(3)], tag: 3, nowMs: Self.ms(3)), at: Self.ms(3))
        #expect(
            third == ["notify dead a", "notify paused a", "paused", "event paused a", "checkpoint", "ack outcome 3"],
            "\(third)")
        #expect(s.paused["a"]?.reason == "auto: 3 failures")
        #expect(Self.summary(s.plan(nowMs: Self.ms(60))).contains("skipped a paused"))
    }
}
