import CronqAMQP
import CronqCore

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A ticker's one connection to a broker endpoint and its channels, opened together and lost together:
/// publishing with confirms (fires, checkpoints, tokens), events, the leader queue's consumer (the lock),
/// and, once this ticker leads, the consumers of what only the leader reads (control messages, the ends
/// of runs, outcomes).
///
/// **The lock.** `cronq.ticker.leader` is a quorum queue with a single active consumer; every ticker
/// consumes it with prefetch 1, and the active one receives the token and leads while it holds it unacked.
/// When the leader's connection or node dies the queue returns the token to the next consumer: nothing
/// depends on a dead node's queue record being deleted, which RabbitMQ 4.2+ (Khepri) no longer does for
/// exclusive queues. Standbys offer a token (``offerToken()``) when none is ready.
///
/// Owned by the ticker's loop thread, like every handle in it.
final class TickerConnection {
    let connection: AMQPConnection
    let publish: AMQPChannel
    let events: AMQPChannel
    let leader: AMQPChannel
    private(set) var control: AMQPChannel?
    private(set) var completions: AMQPChannel?
    private(set) var outcomes: AMQPChannel?

    /// Connects, declares the topology (verifying what this user may not declare) and starts consuming
    /// the leader queue.
    /// - Throws: ``AMQPError`` (or a ``TopologyError``) when any step fails; the connection is closed again.
    init(url: AMQPURL, config: CronqConfig, onTopology: (TopologyDeclarer.Report) -> Void) throws {
        let c = try AMQPConnection(url: url, name: "cronq-ticker/\(getpid())")
        do {
            onTopology(try TopologyDeclarer(connection: c).apply(Topology(config: config), verifyWhenRefused: true))
            publish = try c.openChannel()
            try publish.enableConfirms()
            events = try c.openChannel()
            leader = try c.openChannel()
            try leader.setPrefetch(1)
            try leader.consume(queue: Topology.Names(prefix: config.amqp.prefix).leaderQueue)
        } catch {
            c.close()
            throw error
        }
        connection = c
    }

    /// A standby's part of the lock: when the leader queue shows no token ready, publish one (confirmed).
    /// While a leader holds the token this adds at most one spare (the queue keeps one ready); with no
    /// leader, the token goes to the active consumer, which may be this ticker.
    func offerToken(names: Topology.Names) throws {
        let ch = try connection.openChannel()
        defer { ch.close() }
        guard try ch.inspectQueue(names.leaderQueue).messageCount == 0 else { return }
        let token = AMQPMessage(
            body: Array("leader".utf8),
            properties: AMQPProperties(
                contentType: "text/plain", deliveryMode: 2, type: "cronq.leader-token",
                appID: JobMessageProperties.appTicker))
        // A refused publish (the queue already holds a spare) is fine: the result is not needed.
        _ = try publish.publishAndConfirm(
            [OutgoingMessage(exchange: "", routingKey: names.leaderQueue, message: token)], timeout: .seconds(10))
    }

    /// Reads the last checkpoint without taking it (``CheckpointPeek``).
    func peekCheckpoint(names: Topology.Names) throws -> CheckpointPeek.Peek {
        let ch = try connection.openChannel()
        defer { ch.close() }
        return try CheckpointPeek.peek(ch, names: names)
    }

    /// Starts the leader's consumers that are not running yet: control always, the ends of runs and the
    /// outcomes when the configuration needs them (called on becoming leader and after a reload).
    func consumeLeaderQueues(names: Topology.Names, completions: Bool, outcomes: Bool) throws {
        if control == nil { control = try consumer(names.controlQueue, prefetch: 16) }
        if completions, self.completions == nil {
            self.completions = try consumer(names.completionsQueue, prefetch: 256)
        }
        if outcomes, self.outcomes == nil { self.outcomes = try consumer(names.outcomesQueue, prefetch: 256) }
    }

    private func consumer(_ queue: String, prefetch: UInt16) throws -> AMQPChannel {
        let ch = try connection.openChannel()
        try ch.setPrefetch(prefetch)
        try ch.consume(queue: queue)
        return ch
    }

    /// Publishes the checkpoint to the state queue (a last-value queue) and waits for its confirm.
    /// - Returns: whether the broker confirmed it (only then may what it records be acked).
    func publishCheckpoint(_ checkpoint: Checkpoint, names: Topology.Names) throws -> Bool {
        let r = try publish.publishAndConfirm([
            OutgoingMessage(
                exchange: "", routingKey: names.stateQueue,
                message: AMQPMessage(
                    body: checkpoint.encoded(),
                    properties: AMQPProperties(
                        contentType: "application/json", deliveryMode: 2, type: "cronq.checkpoint",
                        appID: JobMessageProperties.appTicker)))
        ])
        return r.first == .confirmed
    }

    /// Best effort, like every event: a full or blocked broker never holds up a fire for an event.
    func emit(_ e: OutcomeEvent, names: Topology.Names) {
        guard !connection.isBlocked else { return }
        _ = try? events.publish(
            exchange: names.eventsExchange, routingKey: e.routingKey,
            message: AMQPMessage(
                body: e.encoded(),
                properties: AMQPProperties(
                    contentType: "application/json", deliveryMode: 2, messageID: e.messageID, type: "cronq.event",
                    appID: JobMessageProperties.appTicker)),
            mandatory: false)
    }

    /// Closes the connection: the broker returns the token (if held) to the next ticker.
    func close() { connection.close() }
}
