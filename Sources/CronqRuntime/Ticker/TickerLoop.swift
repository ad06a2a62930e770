import CSystemMemory
import CronqAMQP
public import CronqCore
public import Logging
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The ticker: one connection (``TickerConnection``) that holds the leader lock and publishes fires on it.
///
/// **Leadership.** Every ticker consumes the leader queue; the one that receives its token leads while
/// its connection lives (``TickerConnection`` says why a token and not an exclusive queue). A ticker that
/// loses its connection stops firing at once. A lock over a network is not partition-safe, so a rare
/// double fire must be harmless: it carries the same `message_id`.
///
/// **Fires.** The leader publishes every due fire pipelined with publisher confirms (mandatory,
/// persistent) and reports a fire as fired only once it is confirmed; a nack, a return or a lost
/// connection puts it back to be retried. After confirmed fires it publishes a checkpoint (last fired
/// instant per job) to `cronq.ticker.state`; on becoming leader it reads the checkpoint and applies
/// each job's `catch_up` policy to what was missed (see ``FirePlanner``).
///
/// **Ownership.** ``run()`` is called once on a dedicated thread and returns after ``requestStop()``
/// (any thread): in-flight publishes finish, the connection closes (releasing the lock).
/// ``requestReload()`` (SIGHUP) re-reads the config file; an invalid file is logged and ignored.
public final class TickerLoop: @unchecked Sendable {
    // @unchecked: all state except the two atomics and the stats box is confined to the thread inside run().
    let configPath: String?
    let loader: ConfigLoader
    /// What the leader decides (planner, checkpoint, pauses, overlaps, acks); this class performs it.
    var state: LeaderState
    var config: CronqConfig { state.config }
    var names: Topology.Names
    var logger: Logger
    let nowMs: @Sendable () -> Int64
    private let stopRequested = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)

    /// The connection and its channels, while there is one.
    var link: TickerConnection?
    /// Sends the leader's notices; started with the loop when `[[notify]]` has sinks.
    private var notifier: Notifier?
    private var nextLockTryMs: Int64 = 0
    private var reconnectAtMs: Int64 = 0
    /// Which broker endpoint to connect to, and what follows a connect, a failure or a loss.
    var broker: BrokerConnector

    private let statsBox = Mutex(Stats())
    public struct Stats: Sendable {
        public var fired = 0
        public var failed = 0
        public var isLeader = false
        public var leadershipChanges = 0
        public var connected = false
    }
    public var stats: Stats { statsBox.withLock { $0 } }

    /// - Parameter loader: how a SIGHUP reads the file again: the same way the ticker read it at start
    ///   (a ticker started with unset variables allowed must not reject every reload for them).
    public init(
        config: CronqConfig, configPath: String?, logger: Logger, loader: ConfigLoader = ConfigLoader(),
        nowMs: (@Sendable () -> Int64)? = nil
    ) {
        self.state = LeaderState(config: config)
        self.configPath = configPath
        self.loader = loader
        self.broker = BrokerConnector(endpoints: config.amqp.endpoints)
        self.names = Topology.Names(prefix: config.amqp.prefix)
        self.logger = logger
        self.nowMs = nowMs ?? { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    public func requestStop() { stopRequested.store(true, ordering: .sequentiallyConsistent) }
    public func requestReload() { reloadRequested.store(true, ordering: .sequentiallyConsistent) }

    public func run() {
        cronq_release_free_memory()
        if !config.notify.isEmpty {
            notifier = Notifier(sinks: config.notify, logger: logger)
            notifier?.start()
        }
        defer { notifier?.stop() }
        logger.info(
            "ticker starting",
            metadata: [
                "jobs": "\(config.jobs.reduce(0) { $0 + ($1.enabled ? 1 : 0) })",
                "broker": "\(broker.description)",
            ])
        while !stopRequested.load(ordering: .relaxed) {
            if reloadRequested.exchange(false, ordering: .relaxed) { reload() }
            guard let link = link ?? (nowMs() >= reconnectAtMs ? connect() : nil) else {
                LoopThread.sleep(seconds: 0.05)
                continue
            }
            do {
                if !state.isLeading && nowMs() >= nextLockTryMs {
                    nextLockTryMs = nowMs() + config.ticker.lockRetry.totalMilliseconds
                    try link.offerToken(names: names)
                }
                // While a resource alarm blocks publishing, fires stay due in the planner: once unblocked
                // they go out on time or, if late, through the job's catch-up policy.
                if state.isLeading, !link.connection.isBlocked { try perform(state.plan(nowMs: nowMs())) }
                try wait()
            } catch let e as AMQPError {
                lost(e)
            } catch {
                lost(AMQPError(.protocolError, detail: "\(error)"))
            }
        }
        let leading = state.isLeading
        if leading { try? perform([.publishCheckpoint]) }
        link?.close()
        link = nil
        if leading {
            CronqMetrics.leader(false)
            logger.info("leadership released", metadata: ["reason": "stopping"])
        }
        let s = stats
        logger.info("ticker stopped", metadata: ["fired": "\(s.fired)", "failed": "\(s.failed)"])
    }

    // MARK: - Actions

    private func perform(_ actions: [LeaderState.Action]) throws {
        for action in actions {
            switch action {
            case .publishFires(let fires):
                try publish(fires)
            case .publishCheckpoint:
                try publishCheckpoint()
            case .ack(.control(let tag)):
                try link?.control?.ack(tag)
            case .ack(.completion(let tag)):
                try link?.completions?.ack(tag)
            case .ack(.outcome(let tag)):
                try link?.outcomes?.ack(tag)
            case .notify(let notice):
                notifier?.submit(notice)
            case .emit(let event):
                link?.emit(event, names: names)
            case .record(let r):
                statsBox.withLock { r.count(in: &$0) }
                logger.log(level: r.level, r.message, metadata: r.metadata)
            }
        }
    }

    // MARK: - Connection and leadership

    private func connect() -> TickerConnection? {
        do {
            let url = try broker.next()
            let c = try TickerConnection(url: url, config: config) { broker.declared($0, logger: logger) }
            link = c
            broker.connected(url, now: .now)
            nextLockTryMs = 0
            statsBox.withLock { $0.connected = true }
            logger.info("connected; standing by for the leader lock", metadata: ["endpoint": "\(url)"])
            return c
        } catch {
            var (delay, metadata) = broker.connectFailed()
            metadata["error"] = "\(error)"
            reconnectAtMs = nowMs() + delay.totalMilliseconds
            logger.error("cannot connect to the broker; retrying", metadata: metadata)
            return nil
        }
    }

    private func lost(_ error: AMQPError) {
        if state.isLeading {
            logger.error("leadership lost: broker connection failed", metadata: ["error": "\(error)"])
            statsBox.withLock {
                $0.isLeader = false; $0.leadershipChanges += 1
            }
        } else {
            logger.error("broker connection failed", metadata: ["error": "\(error)"])
        }
        state.lost()
        statsBox.withLock { $0.connected = false }
        CronqMetrics.leader(false)
        link?.close()
        link = nil
        reconnectAtMs = nowMs() + broker.lost(now: .now).totalMilliseconds
    }

    /// The leader token arrived: this ticker leads until its connection ends.
    private func becomeLeader(_ link: TickerConnection) throws {
        // The checkpoint first: while the state queue has no leader (its node just died) the broker
        // closes the connection on this read, and this ticker has not led.
        let peek = try link.peekCheckpoint(names: names)
        statsBox.withLock {
            $0.isLeader = true
            $0.leadershipChanges += 1
        }
        CronqMetrics.leader(true)
        if peek == .unreadable { logger.warning("ignoring an unreadable checkpoint in \(names.stateQueue)") }
        let records = state.lead(checkpoint: peek.checkpoint, nowMs: nowMs())
        cronq_release_free_memory()  // building the planner's jobs left garbage of the size of the config
        try link.consumeLeaderQueues(names: names, completions: state.needsCompletions, outcomes: state.needsOutcomes)
        try perform(records)
    }

    // MARK: - Publishing

    /// Publishes fires as one confirmed batch; only confirmed ones count as fired, the rest are retried.
    private func publish(_ fires: [LeaderState.Outgoing]) throws {
        guard let ch = link?.publish else { return }
        let batch = fires.map { $0.message(names: names, key: config.amqp.messageKey) }
        let results: [PublishConfirms<Int>.Outcome?]
        do {
            results = try ch.publishAndConfirm(batch, timeout: .seconds(30))
        } catch {
            try perform(state.firesFailed(fires, nowMs: nowMs()))
            throw error
        }
        try perform(state.firesPublished(fires, outcomes: results, nowMs: nowMs()))
    }

    private func publishCheckpoint() throws {
        guard state.checkpointDirty, let link, !link.connection.isBlocked else { return }
        guard try link.publishCheckpoint(state.checkpoint(nowMs: nowMs()), names: names) else { return }
        try perform(state.checkpointConfirmed())
    }

    /// Sleeps until the next fire or lock attempt (at most 250 ms, so stop and reload are prompt),
    /// servicing the connection (heartbeats, blocked/unblocked) meanwhile.
    private func wait() throws {
        guard let link else { return }
        let now = nowMs()
        var until = now + 250
        if state.isLeading, let due = state.nextDueMs { until = min(until, due) }
        if !state.isLeading { until = min(until, nextLockTryMs) }
        guard let event = try link.connection.nextEvent(timeout: .milliseconds(max(0, until - now))) else { return }
        switch event {
        case .channelClosed(let ch, let e):
            if ch == link.publish.id || ch == link.leader.id { throw e }
        case .consumerCancelled(let ch, _) where ch == link.leader.id:
            throw AMQPError(.channelClosed, detail: "the broker cancelled the leader-queue consumer (queue deleted?)")
        case .delivery(let d) where d.channel == link.leader.id:
            if state.isLeading {
                // A second token (prefetch 1 makes this rare): back to the queue, as a spare.
                try link.leader.nack(d.deliveryTag, requeue: true)
            } else {
                try becomeLeader(link)
            }
        case .blocked(let reason):
            logger.warning("broker blocked publishing (resource alarm); fires wait", metadata: ["reason": "\(reason)"])
        case .unblocked:
            logger.info("broker unblocked publishing")
        case .delivery(let d) where d.channel == link.control?.id:
            try perform(state.control(ControlMessage.decode(d.message.body), tag: d.deliveryTag, nowMs: nowMs()))
        case .delivery(let d) where d.channel == link.completions?.id:
            try perform(state.completion(OutcomeEvent.decodeAll(d.message.body), tag: d.deliveryTag))
        case .delivery(let d) where d.channel == link.outcomes?.id:
            if let a = BreakerAnnouncement.decode(d.message.body) {
                try perform(state.breaker(a, tag: d.deliveryTag))
            } else {
                try perform(state.outcomes(OutcomeEvent.decodeAll(d.message.body), tag: d.deliveryTag, nowMs: nowMs()))
            }
        default:
            break
        }
    }
}

extension TickerLoop: StoppableLoop {}
