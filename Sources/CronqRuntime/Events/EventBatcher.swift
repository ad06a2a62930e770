#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Coalesces the events that one worker loop turn produces with the same routing key into one
/// message: one JSON object per line.
///
/// Why: each message on `cronq.events` costs the broker about as much as consuming and acking a job
/// (it is routed, then appended to the history stream), so a worker publishing one event per job
/// doubled the broker's work per job. Only events of the same turn are coalesced — they would leave in
/// the same TCP segment anyway — so nothing waits longer than it did; at cron rates a turn rarely holds
/// two events of one job and a message carries a single event, byte for byte as before. Under a burst
/// (a backlog drained at thousands of jobs a second) one message carries up to ``maxEvents``.
struct EventBatcher {
    /// A message's worth of events.
    struct Batch: Equatable {
        /// The events' job and kind.
        var job: String
        var event: String
        /// The first event's message id, for the AMQP `message_id` property.
        var messageID: String
        var count = 0
        var body: [UInt8]

        var routingKey: String { OutcomeEvent.routingKey(job: job, event: event) }
    }

    /// Keeps one message's body small enough for any consumer (about 300 bytes an event).
    static let maxEvents = 256

    private var open: [String: Int] = [:]  // routing key → index in `batches`
    private var batches: [Batch] = []

    var isEmpty: Bool { batches.isEmpty }

    mutating func add(_ event: OutcomeEvent) {
        // A turn's events mostly share their job and kind: the last batch is checked before the key is
        // built and hashed.
        let i: Int
        if let l = batches.indices.last, batches[l].count < Self.maxEvents, batches[l].job == event.job,
            batches[l].event == event.event
        {
            i = l
        } else {
            let key = event.routingKey
            if let o = open[key], batches[o].count < Self.maxEvents {
                i = o
            } else {
                i = batches.count
                open[key] = i
                var body: [UInt8] = []
                body.reserveCapacity(384)
                batches.append(
                    Batch(job: event.job, event: event.event, messageID: event.messageID, body: body))
            }
        }
        if batches[i].count > 0 { batches[i].body.append(UInt8(ascii: "\n")) }
        event.encode(into: &batches[i].body)
        batches[i].count += 1
    }

    /// The turn's messages, in the order their first events came; the batcher is empty afterwards.
    mutating func drain() -> [Batch] {
        defer {
            batches.removeAll(keepingCapacity: true)
            open.removeAll(keepingCapacity: true)
        }
        return batches
    }
}
