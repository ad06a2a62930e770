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

/// A worker's two connections to one broker endpoint, opened together and lost together: `publish`
/// (topology, the confirm channel for outcomes, the events channel) and `consume` (one channel, every
/// work queue's consumer). Two, because a consume connection that the broker throttles for flow control
/// must not hold back the confirms that let its deliveries be acked.
///
/// Owned by the worker's loop thread, like every handle in it.
final class WorkerConnections {
    let publish: AMQPConnection
    let confirm: AMQPChannel
    let events: AMQPChannel
    let consume: AMQPConnection
    let consumeChannel: AMQPChannel
    /// Permits, rate tokens and breaker announcements (nil when no backend has limits): a channel of its
    /// own so that its prefetch and acks never mix with the work deliveries'.
    private(set) var guardChannel: AMQPChannel?
    /// Consumer tag → work queue name (without prefix).
    private(set) var consumers: [String: String] = [:]

    /// Connects, declares the topology, opens the channels and starts every consumer.
    /// - Throws: ``AMQPError`` when any step fails (whatever was opened is closed again).
    init(url: AMQPURL, options: WorkerOptions, onTopology: (TopologyDeclarer.Report) -> Void) throws {
        let names = Topology.Names(prefix: options.config.amqp.prefix)
        let publish = try AMQPConnection(url: url, name: "cronq-worker/\(getpid()) publish")
        do {
            onTopology(
                try TopologyDeclarer(connection: publish).apply(
                    Topology(config: options.config), verifyWhenRefused: true))
            confirm = try publish.openChannel()
            try confirm.enableConfirms()
            events = try publish.openChannel()
            consume = try AMQPConnection(url: url, name: "cronq-worker/\(getpid()) consume")
        } catch {
            publish.close()
            throw error
        }
        self.publish = publish
        do {
            consume.maximumBodyBytes = JobMessage.maxBodyBytes
            consumeChannel = try consume.openChannel()
        } catch {
            consume.close()
            publish.close()
            throw error
        }
        do {
            if options.config.backends.values.contains(where: { !$0.limits.isEmpty }) {
                guardChannel = try Self.openGuard(consume, publish: publish, config: options.config, names: names)
            }
            // Serial jobs' queues first, each consumer with prefetch 1 (QoS is per consumer, set before
            // it starts): with the queue's single active consumer, one run at a time cluster-wide.
            let serial = options.queues.filter { $0.hasPrefix(CronqConfig.serialQueuePrefix) }
            if !serial.isEmpty {
                try consumeChannel.setPrefetch(1)
                for q in serial { consumers[try consumeChannel.consume(queue: names.workQueue(q))] = q }
            }
            try consumeChannel.setPrefetch(UInt16(clamping: options.prefetch))
            for q in options.queues where !q.hasPrefix(CronqConfig.serialQueuePrefix) {
                consumers[try consumeChannel.consume(queue: names.workQueue(q))] = q
            }
        } catch {
            close()
            throw error
        }
    }

    /// Creates the guard queues (once across every process, see ``GuardQueues``) and opens the guard
    /// channel; with a breaker, a private queue hears every backend's announcements.
    private static func openGuard(
        _ consume: AMQPConnection, publish: AMQPConnection, config: CronqConfig, names: Topology.Names
    ) throws -> AMQPChannel {
        try GuardQueues.prepare(publish, config: config)
        let ch = try consume.openChannel()
        let breakers = config.backends.values.filter { $0.limits.breaker != nil }.map(\.name).sorted()
        if !breakers.isEmpty {
            // Exclusive, and expiring: on RabbitMQ 4.2+ a dead node keeps its exclusive queues until it returns.
            var args = AMQPTable()
            args["x-expires"] = .int64(60_000)
            let q = try ch.declareQueue("", durable: false, exclusive: true, autoDelete: true, arguments: args).name
            for b in breakers {
                try ch.bindQueue(q, exchange: names.eventsExchange, routingKey: "backend.\(b).*")
            }
            try ch.consume(queue: q, consumerTag: WorkerStateMachine.breakerTag, noAck: true)
        }
        return ch
    }

    /// Both sockets, for the loop's poll set.
    var all: [AMQPConnection] { [consume, publish] }

    /// Cancels every consumer (a graceful stop); best effort, the connection may be gone.
    func cancelConsumers() {
        for tag in consumers.keys { try? consumeChannel.cancel(consumerTag: tag) }
    }

    /// Closing the channels is a close/close-ok handshake: the broker has applied the acks by then.
    func closeGracefully() {
        for c in all { c.batchWrites(false) }
        consumeChannel.close()
        guardChannel?.close()
        confirm.close()
        events.close()
        close()
    }

    /// Best effort: an event that cannot be published never blocks or fails a job.
    func publishEvents(_ batches: [EventBatcher.Batch], exchange: String) throws {
        let stamp = UInt64(max(0, Date().timeIntervalSince1970))
        for b in batches {
            let message = AMQPMessage(
                body: b.body,
                properties: AMQPProperties(
                    contentType: b.count == 1 ? "application/json" : "application/x-ndjson", deliveryMode: 2,
                    messageID: b.messageID, timestamp: stamp, type: "cronq.event", appID: "cronq-worker"))
            do {
                try events.publish(exchange: exchange, routingKey: b.routingKey, message: message, mandatory: false)
            } catch let e as AMQPError where !e.isConnectionFatal {
                continue
            }
        }
    }

    /// The backend guard's actions, all on the guard channel (permits, tokens, breaker announcements on
    /// the events channel).
    func performGuard(_ action: WorkerStateMachine.Action) throws {
        switch action {
        case .guardConsume(let queue, let tag, let prefetch):
            guard let ch = guardChannel else { return }
            consume.batchWrites(false)  // an RPC: its request must not wait in a corked socket
            try ch.setPrefetch(UInt16(clamping: prefetch))
            try ch.consume(queue: queue, consumerTag: tag)
        case .guardCancel(let tag):
            consume.batchWrites(false)
            try guardChannel?.cancel(consumerTag: tag)
        case .guardAck(let tag):
            try guardChannel?.ack(tag)
        case .guardRelease(let tag):
            try guardChannel?.nack(tag, requeue: true)
        case .guardPublish(let m):
            do {
                try events.publish(
                    exchange: m.exchange, routingKey: m.routingKey, message: m.message, mandatory: false)
            } catch let e as AMQPError where !e.isConnectionFatal {}
        default:
            break
        }
    }

    func close() {
        consume.close()
        publish.close()
    }
}
