import CronqAMQP
import CronqCore
import CronqHTTP
public import Logging
import Synchronization

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

/// The worker's driver: one thread owns both AMQP connections and the curl multi handle and waits on
/// all of their sockets at once (`curl_multi_poll` with the AMQP descriptors as extras). What to do
/// with each delivery, result and confirm is decided by ``WorkerStateMachine``; this class performs its
/// actions and feeds it what happened.
///
/// **Ownership and shutdown.** ``run()`` is called once, on a dedicated thread, and returns when the
/// worker has stopped. ``requestStop()`` may be called from any thread (a signal handler's queue): the
/// machine cancels the consumers, lets in-flight requests finish for up to the grace period, waits for
/// the confirms of their outcomes; the driver then closes its channels cleanly (so quorum queues apply
/// the last acks) and returns. Whatever is unfinished goes back to the queue unacked.
public final class WorkerLoop: @unchecked Sendable {
    // @unchecked: every stored property except `stopRequested`, `wakerBox` and `statsBox` is touched
    // only by the thread inside run(); those three are the thread-safe doors in.
    let options: WorkerOptions
    let logger: Logger
    /// The logger's own handler when records may skip swift-log's dictionary (``LogfmtHandler/direct(_:)``).
    private let directLog: LogfmtHandler?
    private var machine: WorkerStateMachine
    private let stopRequested = Atomic<Bool>(false)
    private let wakerBox = Mutex<HTTPClient.Waker?>(nil)
    private var http: HTTPClient!
    private var connections: WorkerConnections?
    /// Which broker endpoint to connect to, and what follows a connect, a failure or a loss.
    private var broker: BrokerConnector
    private var reconnectAt: ContinuousClock.Instant?
    private let started = ContinuousClock.now
    private var finished = false

    private let statsBox = Mutex(Stats())
    public var stats: Stats { statsBox.withLock { $0 } }

    public init(options: WorkerOptions, logger: Logger) {
        self.options = options
        let host = ProcessInfo.processInfo.hostName
        let id = "\(host)/\(getpid())/\(UInt32.random(in: 0...UInt32.max))"
        self.machine = WorkerStateMachine(.init(options: options, workerID: id))
        self.broker = BrokerConnector(endpoints: options.config.amqp.endpoints, maximumDelay: options.maxReconnectDelay)
        self.logger = logger
        self.directLog = LogfmtHandler.direct(logger)
    }

    /// Asks the loop to stop gracefully. Safe from any thread, any number of times.
    public func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wakerBox.withLock { $0?.wake() }
    }

    private var now: WorkerStateMachine.Now {
        .init(wall: Int64(Date().timeIntervalSince1970), monotonic: ContinuousClock.now - started)
    }

    /// Runs until stopped. Call on a dedicated thread (it blocks).
    public func run() {
        // Every backend may have `concurrency` requests in flight: keep that many connections each.
        http = HTTPClient(keepConnections: options.concurrency * max(1, options.config.backends.count))
        wakerBox.withLock { $0 = http.waker }
        logger.info(
            "worker starting",
            metadata: [
                "queues": "\(options.queues.joined(separator: ","))", "concurrency": "\(options.concurrency)",
                "broker": "\(broker.description)",
            ])
        while !finished {
            if stopRequested.load(ordering: .relaxed) && !machine.isDraining {
                // cancel waits for cancel-ok: nothing may sit in a corked socket meanwhile
                for c in connections?.all ?? [] { c.batchWrites(false) }
                perform(machine.stop(now: now))
            }
            if connections == nil && !machine.isDraining { connectIfDue() }
            do { try pumpConnections() } catch { perform(machine.connectionLost("\(error)")) }
            perform(machine.tick(now: now, canPublish: !(connections?.publish.isBlocked ?? true)))
            if finished { break }
            var fds: [Int32] = []
            var buffered = false
            let sockets = connections?.all ?? []
            for c in sockets {
                fds.append(c.fileDescriptor)
                if c.hasBufferedInput { buffered = true }
                c.batchWrites(false)  // what this turn wrote goes out before we wait
            }
            let wait: Duration = buffered ? .zero : (connections == nil ? .milliseconds(50) : .milliseconds(250))
            LogOutput.standardError.flush()
            let (results, _) = http.poll(timeout: wait, extraDescriptors: fds)
            // One turn's acks, outcome publishes, events and log lines leave together, not one write each.
            for c in sockets { c.batchWrites(true) }
            LogOutput.standardError.hold()
            for (id, result) in results {
                if case .success(let r) = result {
                    CronqMetrics.httpStatus(r.status)
                } else {
                    CronqMetrics.httpStatus(nil)
                }
                perform(machine.requestFinished(id, BackendRequest.callResult(result), now: now))
            }
            if !results.isEmpty { CronqMetrics.inFlight(machine.requestsInFlight) }
        }
        LogOutput.standardError.flush()
        shutdown()
    }

    private func shutdown() {
        connections?.closeGracefully()
        connections = nil
        statsBox.withLock { $0.connected = false }
        CronqMetrics.workerConnected(false)
        wakerBox.withLock { $0 = nil }
        let s = stats
        logger.info(
            "worker stopped",
            metadata: [
                "succeeded": "\(s.succeeded)", "retried": "\(s.retried)", "dead": "\(s.dead)",
                "reconnects": "\(s.reconnects)",
            ])
    }

    // MARK: - Actions

    private func perform(_ actions: [WorkerStateMachine.Action]) {
        for action in actions {
            do {
                try perform(action)
            } catch let e as AMQPError where e.code == .blocked {
                if case .publish(_, let token) = action { machine.publishDeferred(token) }
            } catch {
                perform(machine.connectionLost("\(error)"))
            }
        }
    }

    private func perform(_ action: WorkerStateMachine.Action) throws {
        switch action {
        case .startRequest(let id, let job, let messageID, let attempt):
            guard let backend = options.config.backends[job.backend] else { return }
            http.start(
                BackendRequest.make(
                    job, messageID: messageID, attempt: attempt, backend: backend,
                    now: Int64(Date().timeIntervalSince1970)),
                id: id)
            CronqMetrics.inFlight(machine.requestsInFlight)
        case .publish(let outgoing, let token):
            guard let ch = connections?.confirm else { return }
            let seq = try ch.publish(
                exchange: outgoing.exchange, routingKey: outgoing.routingKey, message: outgoing.message)
            machine.published(seq: seq, token)
        case .ack(let tag, let multiple):
            try connections?.consumeChannel.ack(tag, multiple: multiple)
        case .nack(let tag, let requeue):
            try connections?.consumeChannel.nack(tag, requeue: requeue)
        case .cancelConsumers:
            connections?.cancelConsumers()
        case .publishEvents(let batches):
            try connections?.publishEvents(batches, exchange: machine.configuration.names.eventsExchange)
        case .closeConnections:
            closeConnections()
            reconnectAt = ContinuousClock.now + broker.lost(now: .now)
        case .record(let record):
            self.record(record)
        case .finish:
            finished = true
        case .guardConsume, .guardCancel, .guardAck, .guardRelease, .guardPublish:
            try connections?.performGuard(action)
        }
    }

    private func record(_ r: WorkerRecord) {
        let admission = machine.configuration.admission
        guard statsBox.withLock({ r.count(in: &$0, admission: admission) }) else { return }
        if let directLog {
            directLog.write(level: r.level, message: r.message.description, fields: r.fields)
        } else {
            logger.log(level: r.level, r.message, metadata: r.metadata)
        }
    }

    // MARK: - Connections

    private func connectIfDue() {
        if let at = reconnectAt, ContinuousClock.now < at { return }
        do {
            let url = try broker.next()
            let c = try WorkerConnections(url: url, options: options) { broker.declared($0, logger: logger) }
            connections = c
            machine.connected(consumers: c.consumers)
            let again = broker.everConnected
            statsBox.withLock {
                if again { $0.reconnects += 1 }
                $0.connected = true
            }
            CronqMetrics.workerConnected(true)
            broker.connected(url, now: .now)
            reconnectAt = nil
            let names = machine.configuration.names
            logger.info(
                "connected",
                metadata: [
                    "queues": "\(options.queues.map(names.workQueue).joined(separator: ","))", "endpoint": "\(url)",
                ])
        } catch {
            var (delay, metadata) = broker.connectFailed()
            metadata["error"] = "\(error)"
            reconnectAt = ContinuousClock.now + delay
            logger.error("cannot connect to the broker; retrying", metadata: metadata)
        }
    }

    private func closeConnections() {
        statsBox.withLock { $0.connected = false }
        CronqMetrics.workerConnected(false)
        connections?.close()
        connections = nil
    }

    /// Reads every event both connections have ready (this also services heartbeats).
    private func pumpConnections() throws {
        if let c = connections?.consume {
            var n = 0
            while n < 1024, connections != nil, let event = try c.nextEvent(timeout: .zero) {
                switch event {
                case .delivery(let d) where d.channel == connections?.guardChannel?.id:
                    perform(machine.guardDelivery(d, now: now))
                case .delivery(let d): perform(machine.delivery(d, now: now))
                case .consumerCancelled(_, let tag): perform(machine.consumerCancelled(tag: tag))
                case .channelClosed(_, let e): throw e
                default: break
                }
                n += 1
            }
        }
        if let p = connections?.publish {
            var n = 0
            while n < 4096, connections != nil, let event = try p.nextEvent(timeout: .zero) {
                switch event {
                case .ack, .nack, .returned: perform(machine.confirmEvent(event, now: now))
                case .channelClosed(_, let e): throw e
                case .blocked(let reason):
                    logger.warning(
                        "broker blocked publishing (resource alarm); outcomes wait unacked",
                        metadata: ["reason": "\(reason)"])
                case .unblocked: logger.info("broker unblocked publishing")
                default: break
                }
                n += 1
            }
        }
    }
}
