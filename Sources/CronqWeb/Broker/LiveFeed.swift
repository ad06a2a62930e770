import CronqRuntime
import Foundation
import NIOConcurrencyHelpers

/// Fans the follower's new events out to the live tails (Server-Sent Events) that are open.
///
/// Each subscriber has a bounded buffer that keeps the newest items: a slow browser loses the oldest
/// events (and is told how many) instead of growing the server's memory or slowing the others.
final class LiveFeed: Sendable {
    enum Item: Sendable, Equatable {
        case event(OutcomeEvent)
        /// Keeps proxies from closing an idle stream.
        case ping
    }

    /// Per subscriber; 1,000 events a second for a second or two.
    static let buffer = 2000

    private let subscribers = NIOLockedValueBox<[UInt64: AsyncStream<Item>.Continuation]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)

    /// A stream of what comes next; it ends when the feed closes or the subscriber goes away.
    func subscribe() -> AsyncStream<Item> {
        let id = nextID.withLockedValue {
            $0 += 1
            return $0
        }
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffer))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLockedValue { $0.removeValue(forKey: id) }
        }
        subscribers.withLockedValue { $0[id] = continuation }
        return stream
    }

    var count: Int { subscribers.withLockedValue { $0.count } }

    func publish(_ item: Item) {
        for c in subscribers.withLockedValue({ Array($0.values) }) { c.yield(item) }
    }

    func close() {
        for c in subscribers.withLockedValue({ Array($0.values) }) { c.finish() }
    }
}
