public import CronqAMQP
public import CronqCore

/// The last checkpoint the leader left in `<prefix>.ticker.state`, read without taking it (the ticker at
/// takeover, `cronq status`, `cronq validate`), and how paused jobs in it read for people.
public enum CheckpointPeek {
    /// What `<prefix>.ticker.state` holds, read without taking it (get, then reject with requeue).
    public enum Peek: Sendable, Equatable {
        case empty
        /// A message that is not a v1 checkpoint (it is then ignored).
        case unreadable
        case checkpoint(Checkpoint)

        public var checkpoint: Checkpoint? {
            if case .checkpoint(let c) = self { return c }
            return nil
        }
    }

    public static func peek(_ ch: AMQPChannel, names: Topology.Names) throws -> Peek {
        guard let m = try ch.peek(queue: names.stateQueue) else { return .empty }
        return Checkpoint.decode(m.body).map(Peek.checkpoint) ?? .unreadable
    }

    /// One line per job paused at `now`, for people: `paused: JOB since …, until … (reason)`.
    public static func pausedLines(_ paused: [String: PauseState], now: Int64) -> [String] {
        paused.filter { $0.value.holds(at: now) }.sorted { $0.key < $1.key }.map { job, p in
            "paused: \(job) since \(Timestamp.iso(p.since)), until \(p.until.map(Timestamp.iso) ?? "resumed")\(p.reason.map { " (\($0))" } ?? "")"
        }
    }
}
