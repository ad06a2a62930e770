import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Follows the history stream on a thread and connection of its own: first the window the jobs page
/// counts over, then every new event as it is written. It keeps the ``JobTimeline`` the pages read and
/// feeds the live tail, so no page load reads the stream itself.
///
/// A lost connection is retried with a growing pause (1 s to 15 s); the timeline is then read again from
/// the window's start (a stream offset is a timestamp; re-reading is simpler than de-duplicating).
final class HistoryFollower: Sendable {
    struct State: Sendable {
        var timeline = JobTimeline()
        /// The first read of the window has reached the stream's end.
        var caughtUp = false
        /// Why the stream cannot be read, when it cannot.
        var problem: String?
    }

    let state = NIOLockedValueBox(State())
    let feed = LiveFeed()
    private let stopped = NIOLockedValueBox(false)
    private let endpoints: [String]
    private let names: Topology.Names
    private let window: Int64
    private let logger: Logger

    init(endpoints: [String], names: Topology.Names, window: Duration, logger: Logger) {
        self.endpoints = endpoints
        self.names = names
        self.window = window.totalSeconds
        self.logger = logger
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "cronq-web history"
        t.start()
    }

    func stop() {
        stopped.withLockedValue { $0 = true }
        feed.close()
    }

    private var isStopped: Bool { stopped.withLockedValue { $0 } }

    private func loop() {
        var pause: Double = 1
        while !isStopped {
            do {
                try follow()
            } catch {
                let why = "\(error)"
                state.withLockedValue { $0.problem = why }
                logger.warning("history stream", metadata: ["error": "\(why)", "retry_in_s": "\(Int(pause))"])
                var waited = 0.0
                while waited < pause && !isStopped {
                    Thread.sleep(forTimeInterval: 0.1)
                    waited += 0.1
                }
                pause = min(pause * 2, 15)
            }
        }
    }

    private func follow() throws {
        let c = try AMQPConnection.connect(BrokerEndpoints(strings: endpoints), name: "cronq-web/\(getpid()) history")
        defer { c.close() }
        let ch = try c.openChannel()
        try ch.setPrefetch(1000)  // a stream consumer needs a prefetch, and acks only as credit
        let start = Int64(Date().timeIntervalSince1970)
        try ch.consume(
            queue: names.historyStream, arguments: ["x-stream-offset": .timestamp(UInt64(max(0, start - window)))])
        state.withLockedValue { $0 = State() }
        var sinceAck = 0
        var lastPing = ContinuousClock.now
        var lastPrune = ContinuousClock.now
        while !isStopped {
            let event = try c.nextEvent(timeout: .milliseconds(250))
            if ContinuousClock.now - lastPing > .seconds(15) {
                feed.publish(.ping)
                lastPing = ContinuousClock.now
            }
            guard case .delivery(let d)? = event else {
                if event == nil { state.withLockedValue { $0.caughtUp = true } }
                continue
            }
            sinceAck += 1
            if sinceAck >= 500 {
                try ch.ack(d.deliveryTag, multiple: true)
                sinceAck = 0
            }
            let events = OutcomeEvent.decodeAll(d.message.body)
            // Every 5 minutes, hours that left the window are forgotten.
            let prune = ContinuousClock.now - lastPrune > .seconds(300)
            if prune { lastPrune = ContinuousClock.now }
            let cutoff = Int64(Date().timeIntervalSince1970) - window
            state.withLockedValue { s in
                for e in events { s.timeline.add(e) }
                if prune { s.timeline.prune(before: cutoff) }
            }
            // The live tail shows what happens from now on, not the window being read.
            for e in events where (Timestamp.parse(e.at) ?? 0) >= start - 5 { feed.publish(.event(e)) }
        }
    }
}
