/// Turns the acks of one consume channel into as few `basic.ack` frames as is safe.
///
/// Why: on a quorum queue every ack frame becomes a settle command in the queue's Raft log, so at tens
/// of thousands of jobs a second the broker spends more on acks than on deliveries. One
/// `basic.ack(multiple: true)` settles a whole run of deliveries in one command.
///
/// Safety: `multiple` acks *every* unsettled delivery up to its tag on the channel, so it is only
/// sent up to the highest tag below which every delivery is ready (its outcome is durable) or was
/// already settled some other way (nacked back). Ready deliveries above the first one still being
/// worked on are acked one by one, so a slow request never holds back the others' acks (nor the
/// prefetch window). The caller flushes once per turn of its event loop.
struct AckCoalescer {
    private enum State { case working, ready, settled }

    /// Delivered tags in order (delivery tags only grow on a channel); `head` is the oldest one
    /// not yet known settled.
    private var tags: [UInt64] = []
    private var head = 0
    private var states: [UInt64: State] = [:]
    /// Tags that became ready since the last flush (so a flush never scans every delivery).
    private var newlyReady: [UInt64] = []

    /// What to send now: one multiple ack (if any), then single acks.
    struct Flush: Equatable {
        var multipleUpTo: UInt64?
        var singles: [UInt64]
        var isEmpty: Bool { multipleUpTo == nil && singles.isEmpty }
    }

    /// Deliveries received and not yet settled.
    var unsettled: Int { states.count }

    mutating func delivered(_ tag: UInt64) {
        tags.append(tag)
        states[tag] = .working
    }

    /// The delivery's outcome is durable: ack it at the next flush.
    mutating func ready(_ tag: UInt64) {
        if states[tag] == .working {
            states[tag] = .ready
            newlyReady.append(tag)
        }
    }

    /// The delivery was settled by a nack or reject sent directly: it no longer blocks a multiple ack.
    mutating func settledElsewhere(_ tag: UInt64) {
        if states[tag] != nil { states[tag] = .settled }
    }

    mutating func flush() -> Flush {
        var out = Flush(multipleUpTo: nil, singles: [])
        // The contiguous prefix of ready-or-settled deliveries goes in one multiple ack.
        while head < tags.count, let s = states[tags[head]], s != .working {
            if s == .ready { out.multipleUpTo = tags[head] }
            states[tags[head]] = nil
            head += 1
        }
        // Past the first delivery still being worked on, ready ones are acked singly.
        for tag in newlyReady where states[tag] == .ready {
            out.singles.append(tag)
            states[tag] = .settled
        }
        newlyReady.removeAll(keepingCapacity: true)
        if head > 1024 && head * 2 > tags.count {
            tags.removeFirst(head)
            head = 0
        }
        return out
    }

    /// The channel is gone: its tags mean nothing any more.
    mutating func reset() {
        tags.removeAll()
        head = 0
        states.removeAll()
        newlyReady.removeAll()
    }
}
