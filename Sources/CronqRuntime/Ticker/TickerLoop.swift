import CSystemMemory
import CronqAMQP
public import CronqCore
import Foundation
public import Logging
import Synchronization

/// The ticker: one connection that holds the leader lock and publishes fires on it.
///
/// **Leadership.** Every ticker consumes `cronq.ticker.leader`, a replicated (quorum) queue with a single
/// active consumer, with prefetch 1; the active one receives the queue's token and leads while it holds
/// it unacked. When the leader's connection or its node dies, the queue returns the token and activates
/// the next consumer: no queue record of a dead node has to be deleted first, which RabbitMQ 4.2+
/// (Khepri) no longer does for exclusive queues. A standby publishes a token every `lock_retry` when it
/// sees none. A ticker that loses its connection stops firing at once. A lock over a network is not
/// partition-safe, so a rare double fire must be harmless: it carries the same `message_id`.
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
    // @unchecked: all state except the two atomics is confined to the thread inside run().
    var config: CronqConfig
    private let configPath: String?
    private let loader: ConfigLoader
    /// Fires of `catch_up = "none"` jobs whose publish died unconfirmed with its connection: the next
    /// planner this process builds retries them (``makePlanner()``).
    private var unconfirmed: [FirePlanner.Fire] = []
    var names: Topology.Names
    var logger: Logger
    let nowMs: @Sendable () -> Int64
    private let stopRequested = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)

    var connection: AMQPConnection?
    private var publishChannel: AMQPChannel?
    private var eventsChannel: AMQPChannel?
    private var isLeader = false
    var planner: FirePlanner?
    /// Jobs paused by `cronq pause` (kept in the checkpoint), and the channel the leader reads control messages on.
    var paused: [String: PauseState] = [:]
    /// Consumes the leader queue (prefetch 1): a delivery on it is the leader token.
    private var leaderChannel: AMQPChannel?
    var controlChannel: AMQPChannel?
    /// `overlap = "skip"` jobs' runs in flight (kept in the checkpoint, so a new leader waits for them
    /// too), and the channel their ends arrive on.
    var running: [String: Checkpoint.RunInFlight] = [:]
    var completionsChannel: AMQPChannel?
    /// Deliveries (control messages, run ends) whose effect the next confirmed checkpoint records: acked
    /// then, so that a leader dying before it leaves them in their queue for the next one.
    var acksAfterCheckpoint: [(channel: AMQPChannel, tag: UInt64)] = []
    /// For each of the planner's jobs, its index in `config.jobs` (the enabled ones, in order): a fire
    /// finds its job without a name lookup, and no second copy of 100,000 jobs is kept.
    var plannedJobIndices: [Int] = []
    /// Confirmed fires remembered across leadership changes and reconnects (merged with the checkpoint).
    var lastFired: [String: Int64] = [:]
    var checkpointDirty = false
    private var nextLockTryMs: Int64 = 0
    private var reconnectAtMs: Int64 = 0
    /// Which broker endpoint to connect to, and what follows a connect, a failure or a loss.
    private var broker: BrokerConnector

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
        self.config = config
        self.configPath = configPath
        self.loader = loader
        self.broker = BrokerConnector(endpoints: config.amqp.endpoints)
        self.names = Topology.Names(prefix: config.amqp.prefix)
        self.logger = logger
        self.nowMs = nowMs ?? { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    public func requestStop() { stopRequested.store(true, ordering: .sequentiallyConsistent) }
    public func requestReload() { reloadRequested.store(true, ordering: .sequentiallyConsistent) }

    /// The configured job a fire is for (nil if a reload has since replaced the planner's jobs).
    func plannedJob(_ f: FirePlanner.Fire) -> CronqConfig.Job? {
        plannedJobIndices.indices.contains(f.jobIndex) ? config.jobs[plannedJobIndices[f.jobIndex]] : nil
    }

    /// A planner for the enabled jobs of the current config, from the checkpoint kept in `lastFired`.
    private func makePlanner() -> FirePlanner {
        var (planner, indices) = makePlanner(for: config)
        plannedJobIndices = indices
        // Fires published but never confirmed by the connection that died (catch_up = "none" jobs only):
        // retried as they are, outside the catch-up policy (docs/decisions.md, "On-time grace"). A lookup
        // of only their jobs: a map of every job would leave megabytes of holes in a big ticker's heap.
        if !unconfirmed.isEmpty {
            let wanted = Set(unconfirmed.map(\.job))
            var byName: [String: Int] = [:]
            for (i, jobIndex) in indices.enumerated()
            where wanted.contains(config.jobs[jobIndex].name) && config.jobs[jobIndex].catchUp == .none {
                byName[config.jobs[jobIndex].name] = i
            }
            for f in unconfirmed {
                guard let i = byName[f.job] else { continue }
                planner.retry(
                    FirePlanner.Fire(job: f.job, jobIndex: i, instant: f.instant, caughtUp: false), atMs: nowMs())
            }
            unconfirmed.removeAll()
        }
        return planner
    }

    /// A planner for `config`, and the indices of its jobs the planner's job numbers stand for; built
    /// before anything is swapped, so a reload that fails leaves the running trio as it was.
    private func makePlanner(for config: CronqConfig) -> (FirePlanner, [Int]) {
        let indices = config.jobs.indices.filter { config.jobs[$0].enabled }
        let planner = FirePlanner(
            jobs: indices.map { FirePlanner.Job(config.jobs[$0]) }, lastFired: lastFired, now: nowMs() / 1000,
            windowSeconds: config.ticker.catchUpWindow.totalSeconds, maxCatchUp: config.ticker.maxCatchUp)
        return (planner, indices)
    }

    public func run() {
        cronq_release_free_memory()
        logger.info(
            "ticker starting",
            metadata: [
                "jobs": "\(config.jobs.reduce(0) { $0 + ($1.enabled ? 1 : 0) })",
                "broker": "\(broker.description)",
            ])
        while !stopRequested.load(ordering: .relaxed) {
            if reloadRequested.exchange(false, ordering: .relaxed) { reload() }
            if connection == nil {
                if nowMs() >= reconnectAtMs { connect() }
                if connection == nil { Thread.sleep(forTimeInterval: 0.05); continue }
            }
            do {
                if !isLeader && nowMs() >= nextLockTryMs { try ensureToken() }
                if isLeader { try fireDue() }
                try wait()
            } catch let e as AMQPError {
                lost(e)
            } catch {
                lost(AMQPError(.protocolError, detail: "\(error)"))
            }
        }
        if isLeader, checkpointDirty { try? publishCheckpoint() }
        connection?.close()
        connection = nil
        if isLeader { logger.info("leadership released", metadata: ["reason": "stopping"]) }
        let s = stats
        logger.info("ticker stopped", metadata: ["fired": "\(s.fired)", "failed": "\(s.failed)"])
    }

    // MARK: - Connection and leadership

    private func connect() {
        do {
            let url = try broker.next()
            let c = try AMQPConnection(url: url, name: "cronq-ticker/\(getpid())")
            broker.declared(
                try TopologyDeclarer(connection: c).apply(Topology(config: config), verifyWhenRefused: true),
                logger: logger)
            let p = try c.openChannel()
            try p.enableConfirms()
            eventsChannel = try c.openChannel()
            let leader = try c.openChannel()
            try leader.setPrefetch(1)
            try leader.consume(queue: names.leaderQueue)
            leaderChannel = leader
            connection = c
            publishChannel = p
            broker.connected(url)
            nextLockTryMs = 0
            statsBox.withLock { $0.connected = true }
            logger.info("connected; standing by for the leader lock", metadata: ["endpoint": "\(url)"])
        } catch {
            var (delay, metadata) = broker.connectFailed()
            metadata["error"] = "\(error)"
            reconnectAtMs = nowMs() + delay.totalMilliseconds
            logger.error("cannot connect to the broker; retrying", metadata: metadata)
        }
    }

    private func lost(_ error: AMQPError) {
        if isLeader {
            logger.error("leadership lost: broker connection failed", metadata: ["error": "\(error)"])
            statsBox.withLock {
                $0.isLeader = false; $0.leadershipChanges += 1
            }
        } else {
            logger.error("broker connection failed", metadata: ["error": "\(error)"])
        }
        isLeader = false
        statsBox.withLock { $0.connected = false }
        CronqMetrics.leader(false)
        if let p = planner { lastFired.merge(p.lastFired) { max($0, $1) } }
        planner = nil
        leaderChannel = nil
        controlChannel = nil
        completionsChannel = nil
        acksAfterCheckpoint.removeAll()  // their channels are gone: the broker gives them to the next leader
        connection?.close()
        connection = nil
        publishChannel = nil
        eventsChannel = nil
        reconnectAtMs = nowMs() + broker.lost().totalMilliseconds
    }

    /// A standby's part of the lock: when the leader queue shows no token ready, publish one (confirmed).
    /// While a leader holds the token this adds at most one spare (the queue keeps one ready); with no
    /// leader, the token goes to the active consumer, which may be this ticker.
    private func ensureToken() throws {
        guard let c = connection, let p = publishChannel else { return }
        nextLockTryMs = nowMs() + config.ticker.lockRetry.totalMilliseconds
        let ch = try c.openChannel()
        defer { ch.close() }
        guard try ch.inspectQueue(names.leaderQueue).messageCount == 0 else { return }
        let token = AMQPMessage(
            body: Array("leader".utf8),
            properties: AMQPProperties(
                contentType: "text/plain", deliveryMode: 2, type: "cronq.leader-token",
                appID: JobMessageProperties.appTicker))
        // A refused publish (the queue already holds a spare) is fine: the result is not needed.
        _ = try p.publishAndConfirm(
            [OutgoingMessage(exchange: "", routingKey: names.leaderQueue, message: token)], timeout: .seconds(10))
    }

    /// The leader token arrived: this ticker leads until its connection ends.
    private func becomeLeader(_ c: AMQPConnection) throws {
        isLeader = true
        statsBox.withLock {
            $0.isLeader = true
            $0.leadershipChanges += 1
        }
        CronqMetrics.leader(true)
        let checkpoint = try readCheckpoint(c)
        if let cp = checkpoint {
            lastFired.merge(cp.fired) { max($0, $1) }
            paused = cp.paused  // the cluster's pauses: what the last leader recorded
            running = cp.running  // not ours from an earlier term: the leader since may have heard their ends
        }
        pruneRunning()
        planner = makePlanner()
        cronq_release_free_memory()  // building the planner's jobs left garbage of the size of the config
        try startControlConsumer(c)
        try startCompletionsConsumer(c)
        logger.notice(
            "leadership acquired",
            metadata: [
                "checkpoint_at": "\(checkpoint.map { Timestamp.iso($0.at) } ?? "none")",
                "jobs": "\(planner?.count ?? 0)",
            ])
    }

    /// Reads the last checkpoint without consuming it (get, then reject with requeue).
    private func readCheckpoint(_ c: AMQPConnection) throws -> Checkpoint? {
        let ch = try c.openChannel()
        defer { ch.close() }
        let peek = try CheckpointPeek.peek(ch, names: names)
        if peek == .unreadable { logger.warning("ignoring an unreadable checkpoint in \(names.stateQueue)") }
        return peek.checkpoint
    }

    // MARK: - Firing

    private func fireDue() throws {
        // While a resource alarm blocks publishing, fires stay due in the planner: once unblocked they
        // go out on time or, if late, through the job's catch-up policy. No reconnect churn meanwhile.
        guard var p = planner, connection?.isBlocked != true else { return }
        let fires = p.takeDue(nowMs: nowMs())
        planner = p
        try publish(skippingOverlaps(skippingPaused(fires)))
        // Right after the fires: a new leader then re-publishes only what was confirmed in the last
        // moment before a crash (same message ids, so harmless).
        if checkpointDirty { try publishCheckpoint() }
    }

    /// Publishes fires as one confirmed batch; only confirmed ones count as fired, the rest are retried.
    func publish(_ fires: [FirePlanner.Fire]) throws {
        guard let ch = publishChannel else { return }
        if !fires.isEmpty {
            try recordFirstFires(fires)
            var batch: [OutgoingMessage] = []
            var sent: [(fire: FirePlanner.Fire, job: CronqConfig.Job, id: String)] = []
            for f in fires {
                guard let job = plannedJob(f) else { continue }
                let m = JobMessage(job: job, scheduledAt: f.instant)
                var message = AMQPMessage(
                    body: m.encoded(),
                    properties: AMQPProperties(
                        contentType: JobMessageProperties.contentType, deliveryMode: 2, messageID: m.messageID,
                        timestamp: UInt64(f.instant), type: JobMessageProperties.type,
                        appID: JobMessageProperties.appTicker))
                MessageSignature.apply(to: &message, key: config.amqp.messageKey)
                batch.append(
                    OutgoingMessage(exchange: names.jobsExchange, routingKey: job.routingQueue, message: message))
                sent.append((f, job, m.messageID))
            }
            let results: [PublishConfirms<Int>.Outcome?]
            do {
                results = try ch.publishAndConfirm(batch, timeout: .seconds(30))
            } catch {
                // Nothing of this batch counts as fired: put it back for the next leader or connection.
                for s in sent { planner?.retry(s.fire, atMs: nowMs() + 1000) }
                // The planner is thrown away with the connection; the catch-up of the next one covers
                // `latest` and `all`, but `none` would drop these fires: they are kept to be retried as they are.
                unconfirmed += sent.filter { $0.job.catchUp == .none }.map(\.fire)
                if let p = planner { lastFired.merge(p.lastFired) { max($0, $1) } }
                throw error
            }
            let confirmedAt = nowMs()
            for ((f, job, id), outcome) in zip(sent, results) {
                if outcome == .confirmed {
                    planner?.confirmed(job: f.job, instant: f.instant)
                    lastFired[f.job] = max(lastFired[f.job] ?? 0, f.instant)
                    checkpointDirty = true
                    statsBox.withLock { $0.fired += 1 }
                    CronqMetrics.fired(f.job, latenessMs: confirmedAt - f.instant * 1000)
                    logger.info(
                        "fired",
                        metadata: [
                            "job": "\(f.job)", "scheduled_at": "\(Timestamp.iso(f.instant))", "message_id": "\(id)",
                            "lateness_ms": "\(confirmedAt - f.instant * 1000)", "caught_up": "\(f.caughtUp)",
                        ])
                    emitFired(f, id: id)
                    if job.overlap == .skip {
                        running[f.job] = .init(
                            id: id, scheduledAt: f.instant,
                            expiresAt: confirmedAt / 1000 + job.worstCaseRun.totalSeconds)
                    }
                } else {
                    statsBox.withLock { $0.failed += 1 }
                    CronqMetrics.fireFailed(f.job)
                    logger.error(
                        "fire not confirmed; retrying",
                        metadata: [
                            "job": "\(f.job)", "scheduled_at": "\(Timestamp.iso(f.instant))",
                            "publish": "\(outcome.map { "\($0)" } ?? "no confirm")",
                        ])
                    planner?.retry(f, atMs: nowMs() + 1000)
                }
            }
        }
    }

    /// A job that never fired has no entry in the checkpoint, and a planner starts such a job from
    /// "now": if its first fire's publish then failed (the broker went away before confirming it), the
    /// next planner would never fire that instant — lost, or run unlogged if the broker had taken it.
    /// So before a job's first fire its baseline (the instant just before) is recorded and checkpointed:
    /// whichever ticker leads next catches the fire up by its policy, like any other missed fire.
    private func recordFirstFires(_ fires: [FirePlanner.Fire]) throws {
        var first = false
        for f in fires where lastFired[f.job] == nil {
            lastFired[f.job] = f.instant - 1
            first = true
        }
        guard first else { return }
        checkpointDirty = true
        try publishCheckpoint()
    }

    func publishCheckpoint() throws {
        guard let ch = publishChannel, connection?.isBlocked != true else { return }
        let now = nowMs()
        let cp = Checkpoint(at: now / 1000, fired: lastFired, paused: paused, running: running)
        let r = try ch.publishAndConfirm([
            OutgoingMessage(
                exchange: "", routingKey: names.stateQueue,
                message: AMQPMessage(
                    body: cp.encoded(),
                    properties: AMQPProperties(
                        contentType: "application/json", deliveryMode: 2, type: "cronq.checkpoint",
                        appID: JobMessageProperties.appTicker)))
        ])
        guard r.first == .confirmed else { return }
        checkpointDirty = false
        for a in acksAfterCheckpoint { try a.channel.ack(a.tag) }
        acksAfterCheckpoint.removeAll()
    }

    private func emitFired(_ f: FirePlanner.Fire, id: String) {
        emit(
            OutcomeEvent(
                event: "fired", job: f.job, messageID: id, scheduledAt: Timestamp.iso(f.instant), at: nowMs() / 1000))
    }

    /// Best effort, like every event: a full or blocked broker never holds up a fire for an event.
    func emit(_ e: OutcomeEvent) {
        guard let ch = eventsChannel, let c = connection, !c.isBlocked else { return }
        let id = e.messageID
        _ = try? ch.publish(
            exchange: names.eventsExchange, routingKey: e.routingKey,
            message: AMQPMessage(
                body: e.encoded(),
                properties: AMQPProperties(
                    contentType: "application/json", deliveryMode: 2, messageID: id, type: "cronq.event",
                    appID: JobMessageProperties.appTicker)),
            mandatory: false)
    }

    /// Sleeps until the next fire or lock attempt (at most 250 ms, so stop and reload are prompt),
    /// servicing the connection (heartbeats, blocked/unblocked) meanwhile.
    private func wait() throws {
        guard let c = connection else { return }
        let now = nowMs()
        var until = now + 250
        if isLeader, let due = planner?.nextDueMs { until = min(until, due) }
        if !isLeader { until = min(until, nextLockTryMs) }
        let timeout = Duration.milliseconds(max(0, until - now))
        if let event = try c.nextEvent(timeout: timeout) {
            switch event {
            case .channelClosed(let ch, let e):
                if ch == publishChannel?.id || ch == leaderChannel?.id { throw e }
            case .consumerCancelled(let ch, _) where ch == leaderChannel?.id:
                throw AMQPError(
                    .channelClosed, detail: "the broker cancelled the leader-queue consumer (queue deleted?)")
            case .delivery(let d) where d.channel == leaderChannel?.id:
                if isLeader {
                    // A second token (prefetch 1 makes this rare): back to the queue, as a spare.
                    try leaderChannel?.nack(d.deliveryTag, requeue: true)
                } else {
                    try becomeLeader(c)
                }
            case .blocked(let reason):
                logger.warning(
                    "broker blocked publishing (resource alarm); fires wait", metadata: ["reason": "\(reason)"])
            case .unblocked:
                logger.info("broker unblocked publishing")
            case .delivery(let d) where d.channel == controlChannel?.id:
                try handleControl(d)
            case .delivery(let d) where d.channel == completionsChannel?.id:
                try handleCompletion(d)
            default:
                break
            }
        }
    }

    // MARK: - Reload

    private func reload() {
        guard let path = configPath else { return }
        do {
            // All or nothing: read the file, apply its topology, build its planner; only then swap the
            // three. A step that fails leaves the running configuration, names and planner as they were.
            let new = try loader.load(path: path)
            if new.amqp.messageKeyMissing { throw ConfigError(issues: [Self.missingKeyIssue(path)]) }
            let old = Set(config.jobs.map(\.name))
            let now = Set(new.jobs.map(\.name))
            if let c = connection {
                try TopologyDeclarer(connection: c).apply(Topology(config: new), verifyWhenRefused: true)
            }
            if let p = planner { lastFired.merge(p.lastFired) { max($0, $1) } }
            let built = isLeader ? makePlanner(for: new) : nil
            broker.reload(endpoints: new.amqp.endpoints)
            config = new
            names = Topology.Names(prefix: new.amqp.prefix)
            if let built {
                planner = built.0
                plannedJobIndices = built.1
                pruneRunning()
                // The first `overlap = "skip"` job needs the ends of runs now, not at the next leadership change.
                if completionsChannel == nil, let c = connection { try startCompletionsConsumer(c) }
            }
            cronq_release_free_memory()
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "added": "\(now.subtracting(old).sorted().joined(separator: ","))",
                    "removed": "\(old.subtracting(now).sorted().joined(separator: ","))", "jobs": "\(new.jobs.count)",
                ])
        } catch let e as ConfigError {
            logger.error(
                "configuration reload rejected; keeping the running configuration",
                metadata: ["errors": "\(e.issues.map(\.description).joined(separator: "; "))"])
        } catch {
            logger.error("configuration reload failed", metadata: ["error": "\(error)"])
        }
    }
}

extension TickerLoop: StoppableLoop {}

extension TickerLoop {
    /// The ticker signs what it fires: a key named in the config but not available is not a detail to skip.
    public static func missingKeyIssue(_ path: String) -> ConfigError.Issue {
        .init(
            file: path, job: nil, key: "amqp.message_key",
            message:
                "is set but its variable or file is missing: job messages must be signed (workers with the key refuse unsigned ones)"
        )
    }
}
