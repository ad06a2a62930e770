import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation
import NIOConcurrencyHelpers

/// Dead-letter replays and purges started from the dashboard. Each runs on a thread and connection of its
/// own, with ``DeadLetters`` (the code `cronq dead replay` / `purge` runs, so the same confirm-before-ack
/// guarantee), while the page shows its progress: a replay at `--rate 5` of a thousand messages takes
/// minutes, which no HTTP request should wait for, and which must not hold the pages' connection.
final class DeadOperations: Sendable {
    struct Operation: Sendable {
        var id: Int
        var kind: String
        /// The filter, for people: `job=x reason=y`, `3 selected`.
        var what: String
        var summary = DeadLetters.Summary()
        var running = true
        var error: String?
    }

    private let operations = NIOLockedValueBox<[Operation]>([])
    private let endpoints: [String]
    private let names: Topology.Names
    private let messageKey: Secret?

    init(endpoints: [String], names: Topology.Names, messageKey: Secret?) {
        self.endpoints = endpoints
        self.names = names
        self.messageKey = messageKey
    }

    /// Newest first; the last 20.
    var list: [Operation] { operations.withLockedValue { Array($0.suffix(20).reversed()) } }

    /// The operation running now, if any: one at a time (two walking the dead queue at once would take
    /// each other's messages for a moment).
    var running: Operation? { operations.withLockedValue { $0.first { $0.running } } }

    /// Starts a replay (`rate`: per second) or, with `purge`, a purge: its id, or the running operation's
    /// when one is still running (checked and started under one lock, so two requests cannot both start).
    func start(purge: Bool, filter: DeadLetters.Filter, what: String, rate: Double?) -> Result<Int, Busy> {
        let claimed = operations.withLockedValue { ops -> Result<Int, Busy> in
            if let r = ops.first(where: \.running) { return .failure(Busy(operation: r)) }
            let id = (ops.last?.id ?? 0) + 1
            ops.append(Operation(id: id, kind: purge ? "purge" : "replay", what: what))
            return .success(id)
        }
        guard case .success(let id) = claimed else { return claimed }
        let t = Thread { [self] in
            do {
                let c = try AMQPConnection.connect(
                    BrokerEndpoints(strings: endpoints),
                    name: "cronq-web/\(getpid()) dead \(purge ? "purge" : "replay")")
                defer { c.close() }
                let dead = DeadLetters(connection: c, names: names)
                let summary =
                    purge
                    ? try dead.purge(filter)
                    : try dead.replay(
                        filter, rate: rate, messageKey: messageKey, progress: { s in update(id) { $0.summary = s } })
                update(id) {
                    $0.summary = summary
                    $0.running = false
                }
            } catch {
                update(id) {
                    $0.error = "\(error)"
                    $0.running = false
                }
            }
        }
        t.name = "cronq-web dead \(id)"
        t.start()
        return .success(id)
    }

    struct Busy: Error {
        var operation: Operation
    }

    private func update(_ id: Int, _ change: (inout Operation) -> Void) {
        operations.withLockedValue { ops in
            if let i = ops.firstIndex(where: { $0.id == id }) { change(&ops[i]) }
        }
    }
}
