import CronqCore
import CronqRuntime
import Testing

@testable import CronqWeb

/// The jobs page's fold of the history stream: pure, fed tables of events.
@Suite("Dashboard job timeline")
struct JobTimelineTests {
    static let t0: Int64 = 1_796_000_400  // on the hour

    func event(_ kind: String, _ job: String, _ id: String, at: Int64, attempt: Int? = nil, error: String? = nil)
        -> OutcomeEvent
    {
        OutcomeEvent(event: kind, job: job, messageID: id, attempt: attempt, error: error, at: at)
    }

    @Test("a run's events fold into one run (success wins over a later failure); last fire and success kept")
    func folding() {
        var t = JobTimeline()
        t.add(event("fired", "a", "a@1", at: Self.t0))
        t.add(event("retrying", "a", "a@1", at: Self.t0 + 1, attempt: 1, error: "HTTP 503"))
        t.add(event("succeeded", "a", "a@1", at: Self.t0 + 12, attempt: 2))
        t.add(event("dead", "a", "a@1", at: Self.t0 + 13, attempt: 2, error: "late duplicate"))
        t.add(event("fired", "a", "a@2", at: Self.t0 + 60))
        t.add(event("paused", "a", "a@pause", at: Self.t0 + 61))
        let a = t.jobs["a"]!
        #expect(a.runs.map(\.messageID) == ["a@1", "a@2"], "pause is about the job, not a run")
        #expect(a.runs[0].outcome == "succeeded" && a.runs[0].attempts == 2 && a.runs[0].error == "HTTP 503")
        #expect(a.runs[1].outcome == "fired")
        #expect(a.lastFired == Self.t0 + 60 && a.lastSuccess == Self.t0 + 12)
        #expect(JobsView.spark(a.runs) == ["ok", "wait"])
    }

    @Test("the sparkline keeps the last 50 runs, oldest first")
    func cap() {
        var t = JobTimeline()
        for i in 0..<70 { t.add(event(i % 7 == 0 ? "dead" : "succeeded", "a", "a@\(i)", at: Self.t0 + Int64(i))) }
        let runs = t.jobs["a"]!.runs
        #expect(runs.count == 50 && runs.first?.messageID == "a@20" && runs.last?.messageID == "a@69")
    }

    @Test("counts cover whole hours from the one holding the window's start; pruning forgets older hours")
    func counts() {
        var t = JobTimeline()
        t.add(event("fired", "a", "a@1", at: Self.t0 - 7200))  // two hours before
        t.add(event("succeeded", "a", "a@1", at: Self.t0 - 3599))  // in the hour before t0
        t.add(event("fired", "a", "a@2", at: Self.t0 + 10))
        t.add(event("dead", "a", "a@2", at: Self.t0 + 20))
        #expect(t.counts("a", since: Self.t0 + 1800) == .init(fired: 1, dead: 1))
        #expect(t.counts("a", since: Self.t0 - 1) == .init(fired: 1, succeeded: 1, dead: 1))
        #expect(t.counts("a", since: Self.t0 - 7200) == .init(fired: 2, succeeded: 1, dead: 1))
        #expect(t.counts("nobody", since: 0) == .init())
        t.prune(before: Self.t0)
        #expect(t.counts("a", since: 0) == .init(fired: 1, succeeded: 1, dead: 1), "the hour before the cut stays")
    }

    @Test("an event whose time does not parse is ignored")
    func badTime() {
        var t = JobTimeline()
        var e = event("fired", "a", "a@1", at: Self.t0)
        e.at = "yesterday"
        t.add(e)
        #expect(t.jobs.isEmpty && t.events == 0)
    }
}
