import Testing

@testable import CronqCore

@Suite("Job control messages and the checkpoint")
struct JobControlMessageTests {
    @Test("control messages round-trip; malformed ones are refused")
    func control() {
        let m = ControlMessage(
            action: .pause, job: "ee-recent", until: 1_800_000_000, reason: "db \"migration\"", at: 1_799_999_000)
        #expect(ControlMessage.decode(m.encoded()) == m)
        let r = ControlMessage(action: .resume, job: "a", catchUp: .latest, at: 5)
        #expect(ControlMessage.decode(r.encoded()) == r)
        for bad in [
            #"{"v":2,"action":"pause","job":"a","at":"2026-01-01T00:00:00Z"}"#,
            #"{"v":1,"action":"stop","job":"a","at":"2026-01-01T00:00:00Z"}"#,
            #"{"v":1,"action":"pause","job":"","at":"2026-01-01T00:00:00Z"}"#, #"{"v":1,"action":"pause","job":"a"}"#,
            #"{"v":1,"action":"pause","job":"a","until":"soon","at":"2026-01-01T00:00:00Z"}"#,
            #"{"v":1,"action":"resume","job":"a","catch_up":"all","at":"2026-01-01T00:00:00Z"}"#, "not json",
        ] {
            #expect(ControlMessage.decode(Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test("the checkpoint keeps skip jobs' runs in flight; a run with a missing field is dropped, not the checkpoint")
    func checkpointRunning() {
        let cp = Checkpoint(
            at: 100, fired: ["sk": 90],
            running: [
                "sk": .init(id: "sk@1970-01-01T00:01:30Z", scheduledAt: 90, expiresAt: 400),
                "x\"y": .init(id: "q", scheduledAt: 1, expiresAt: 2),
            ])
        #expect(Checkpoint.decode(cp.encoded()) == cp)
        let partial = Array(
            #"{"v":1,"at":"2026-01-01T00:00:00Z","fired":{},"running":{"a":{"id":"a@x","scheduled_at":"2026-01-01T00:00:00Z"},"b":{"id":"b@x","scheduled_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:10:00Z"}}}"#
                .utf8)
        #expect(Checkpoint.decode(partial)?.running.keys.sorted() == ["b"])
    }

    @Test("the checkpoint keeps paused jobs; an old checkpoint without them still reads")
    func checkpoint() {
        let cp = Checkpoint(
            at: 100, fired: ["a": 60],
            paused: [
                "a": PauseState(until: 200, reason: "x", since: 90, lastSkipped: 95), "b": PauseState(since: 10),
            ])
        #expect(Checkpoint.decode(cp.encoded()) == cp)
        let old = Array(#"{"v":1,"at":"2026-01-01T00:00:00Z","fired":{"a":"2026-01-01T00:00:00Z"}}"#.utf8)
        #expect(Checkpoint.decode(old)?.paused == [:] && Checkpoint.decode(old)?.running == [:])
        #expect(PauseState(until: 200, since: 0).holds(at: 199) && !PauseState(until: 200, since: 0).holds(at: 200))
        #expect(PauseState(since: 0).holds(at: .max), "no until: until resumed")
    }
}
