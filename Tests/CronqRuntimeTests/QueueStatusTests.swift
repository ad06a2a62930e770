import Testing

@testable import CronqRuntime

/// What `cronq status` prints from counts it collected: the rendering alone, no broker.
@Suite("Queue status")
struct QueueStatusTests {
    @Test("messages a retry tier holds for dead-lettering are shown (text and JSON), not counted as ready")
    func deadLettering() {
        var retry = QueueStatus.Row(queue: "cronq.retry.5s", kind: "retry", ready: 0, consumers: 0, unacked: 0)
        retry.deadLettering = 2
        var quiet = QueueStatus.Row(queue: "cronq.retry.1m", kind: "retry", ready: 0, consumers: 0, unacked: 0)
        quiet.deadLettering = 0
        let s = QueueStatus(rows: [retry, quiet], leader: true, oldestDeadAgeSeconds: nil, paused: [:], at: 0)
        let text = s.table(color: false)
        #expect(text.contains("cronq.retry.5s: 2 message(s) on their way back to a work queue"))
        #expect(!text.contains("cronq.retry.1m:"), "a tier with none says nothing")
        #expect(s.json().contains(#""dead_lettering":2"#))
        #expect(s.alerts(.init()).isEmpty, "on their way, not lost: no alert")
    }
}
