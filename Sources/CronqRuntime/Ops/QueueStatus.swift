public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq status`: queue-based monitoring, from passive declares (exact counts, no management API lag).
public struct QueueStatus: Sendable {
    public struct Row: Sendable, Codable, Equatable {
        public var queue: String
        /// work, retry, dead, history
        public var kind: String
        public var ready: Int
        public var consumers: Int
        /// Unacknowledged deliveries, when the management API is configured (nil otherwise).
        public var unacked: Int?
        /// A quorum queue's or stream's replicas, and how many of them are online (management API; nil otherwise).
        public var members: Int?
        public var online: Int?
        /// The nodes of the members that are not online, for the alert text.
        public var offlineNodes: [String]?
        /// Messages per second published to / delivered from / acked on the queue (management API).
        public var publishRate: Double?
        public var deliverRate: Double?
        public var ackRate: Double?
        /// Messages the queue has dead-lettered but the broker has not yet placed in their target (quorum
        /// queues, at-least-once: a retry tier's messages on their way back to a work queue). Counted in no
        /// queue's ready messages; a hop that failed (e.g. just after a broker restart, before the target
        /// exchange was known) is tried again every `dead_letter_worker_publisher_confirm_timeout`.
        public var deadLettering: Int?
    }

    public var rows: [Row]
    /// Whether some ticker leads: the leader queue has an active consumer (which holds, or is about to be
    /// given, the token).
    public var leader: Bool
    /// Tickers connected (the leader queue's consumers: the leader and its standbys).
    public var tickers = 0
    /// Age in seconds of the oldest dead letter, if any.
    public var oldestDeadAgeSeconds: Int64?
    /// Paused jobs, from the leader's checkpoint (`cronq pause`).
    public var paused: [String: PauseState] = [:]
    /// Last confirmed fire per job, from the same checkpoint (a one-off job's `done`).
    public var lastFired: [String: Int64] = [:]
    /// The latest breaker announcement per backend with a breaker (none yet: never opened).
    public var breakers: [String: BreakerAnnouncement] = [:]
    public var at: Int64

    /// - Throws: ``AMQPError`` when the broker cannot be reached.
    public static func collect(connection: AMQPConnection, config: CronqConfig, now: Int64) throws -> QueueStatus {
        let names = Topology.Names(prefix: config.amqp.prefix)
        let topology = Topology(config: config)
        var rows: [Row] = []
        var ch = try connection.openChannel()
        // The topology's queues (missing: `cronq topology apply`, an alert), then the guard queues' free permits
        // and rested tokens (a permit queue at 0 means all are in use; missing until the first worker starts).
        var counted: [(name: String, kind: String)] = []
        for q in topology.queues
        where q.name != names.stateQueue && q.name != names.controlQueue && q.name != names.leaderQueue {
            let kind =
                q.name == names.deadQueue
                ? "dead"
                : q.name == names.historyStream
                    ? "history"
                    : q.name.hasPrefix(names.retryQueue("")) ? "retry" : "work"
            counted.append((q.name, kind))
        }
        for q in GuardQueues.names(config) where !q.hasSuffix(".rest") && !q.hasSuffix(".breaker") {
            counted.append((q, "guard"))
        }
        for (queue, kind) in counted {
            do {
                let info = try ch.inspectQueue(queue)
                rows.append(
                    Row(
                        queue: queue, kind: kind, ready: Int(info.messageCount), consumers: Int(info.consumerCount),
                        unacked: nil))
            } catch let e as AMQPError where e.replyCode == 404 {
                if kind != "guard" { rows.append(Row(queue: queue, kind: kind, ready: -1, consumers: 0, unacked: nil)) }
                ch = try connection.openChannel()
            }
        }
        var breakers: [String: BreakerAnnouncement] = [:]
        for b in config.backends.values where b.limits.breaker != nil {
            do {
                guard let m = try ch.peek(queue: names.breakerQueue(b.name)) else { continue }
                breakers[b.name] = BreakerAnnouncement.decode(m.body)
            } catch let e as AMQPError where e.replyCode == 404 {
                ch = try connection.openChannel()
            }
        }
        var tickers = 0
        do {
            tickers = Int(try ch.inspectQueue(names.leaderQueue).consumerCount)
        } catch let e as AMQPError where e.replyCode == 404 {
            ch = try connection.openChannel()  // no leader queue: `cronq topology apply`
        }
        let leader = tickers > 0
        var oldest: Int64? = nil
        if (rows.first { $0.kind == "dead" }?.ready ?? 0) > 0, let first = try ch.peek(queue: names.deadQueue) {
            let deadAt =
                first.properties.headers?[JobMessageProperties.deadAtHeader]?.stringValue.flatMap(Timestamp.parse)
                ?? first.properties.timestamp.map(Int64.init)
            oldest = deadAt.map { now - $0 }
        }
        // Best effort: a missing or unreadable state queue only means no pauses to show.
        let checkpoint = (try? CheckpointPeek.peek(ch, names: names))?.checkpoint
        let paused = checkpoint?.pauses(at: now) ?? [:]
        ch.close()
        if let management = config.amqp.managementURL {
            ManagementAPI.fill(&rows, baseURL: management, vhost: ManagementAPI.vhost(of: config))
        }
        var status = QueueStatus(rows: rows, leader: leader, oldestDeadAgeSeconds: oldest, paused: paused, at: now)
        status.tickers = tickers
        status.lastFired = checkpoint?.fired ?? [:]
        status.breakers = breakers
        return status
    }

    /// Alert thresholds; each crossed one is a one-line reason (exit 2).
    public struct Thresholds: Sendable {
        public var maxDead: Int?
        public var maxReady: Int?
        public var requireLeader = false
        public var requireConsumers = false
        /// Only these backends' breakers alert (`status --job`: the named jobs' backends); nil: every one.
        public var breakerBackends: Set<String>?
        public init(
            maxDead: Int? = nil, maxReady: Int? = nil, requireLeader: Bool = false, requireConsumers: Bool = false
        ) {
            self.maxDead = maxDead
            self.maxReady = maxReady
            self.requireLeader = requireLeader
            self.requireConsumers = requireConsumers
        }
    }

    public func alerts(_ t: Thresholds) -> [String] {
        var out: [String] = []
        for r in rows where r.ready < 0 { out.append("\(r.queue) does not exist (run `cronq topology apply`)") }
        if let m = t.maxDead, let d = rows.first(where: { $0.kind == "dead" }), d.ready > m {
            out.append("\(d.queue) holds \(d.ready) dead letters (max \(m))")
        }
        if let m = t.maxReady {
            for r in rows where r.kind == "work" && r.ready > m {
                out.append("\(r.queue) has \(r.ready) ready messages (max \(m))")
            }
        }
        if t.requireLeader && !leader { out.append("no ticker holds the leader lock: nothing is being scheduled") }
        // A replicated queue with members offline: below a majority it stops; above, one more loss away.
        for r in rows {
            guard let members = r.members, let online = r.online, online < members else { continue }
            let down = (r.offlineNodes ?? []).joined(separator: ", ")
            if online * 2 <= members {
                out.append(
                    "\(r.queue) has lost its majority (\(online) of \(members) members online; down: \(down)): it accepts and delivers nothing until they return"
                )
            } else {
                out.append(
                    "\(r.queue) has \(online) of \(members) members online (down: \(down)); if a node is gone for good, replace it and run `rabbitmq-queues grow <new-node> all`"
                )
            }
        }
        for (backend, a) in breakers.sorted(by: { $0.key < $1.key })
        where a.state != "closed" && t.breakerBackends.map({ $0.contains(backend) }) ?? true {
            out.append(
                "backend \(backend)'s circuit breaker is \(String(a.state.map { $0 == "_" ? "-" : $0 })) since \(Timestamp.iso(a.at)): its calls wait"
            )
        }
        if t.requireConsumers {
            for r in rows where r.kind == "work" && r.consumers == 0 && r.ready >= 0 {
                out.append("\(r.queue) has no consumer: no worker is running for it")
            }
        }
        return out
    }

    public func table(color: Bool) -> String {
        let management = rows.contains { $0.unacked != nil }
        var t: [[String]] = [
            ["QUEUE", "KIND", "READY", "CONSUMERS"]
                + (management ? ["UNACKED", "PUBLISH/s", "DELIVER/s", "ACK/s", "MEMBERS"] : [])
        ]
        func rate(_ r: Double?) -> String { r.map { DecimalText.oneDecimal($0) } ?? "-" }
        for r in rows {
            var ready = r.ready < 0 ? "missing" : "\(r.ready)"
            if color && r.kind == "dead" && r.ready > 0 { ready = "\u{1B}[31m\(ready)\u{1B}[0m" }
            t.append(
                [r.queue, r.kind, ready, "\(r.consumers)"]
                    + (management
                        ? [
                            r.unacked.map(String.init) ?? "-", rate(r.publishRate), rate(r.deliverRate),
                            rate(r.ackRate), r.members.map { "\(r.online ?? 0)/\($0)" } ?? "-",
                        ] : []))
        }
        // Queue names are checked, the rest are numbers: no escaping, so the colour of a red count shows.
        var s = TextTable.render(t, escaping: false)
        s += "ticker leader: \(leader ? "yes (\(tickers) ticker(s) connected, one leads)" : "NONE")\n"
        if let age = oldestDeadAgeSeconds { s += "oldest dead letter: \(age) s old\n" }
        for r in rows where (r.deadLettering ?? 0) > 0 {
            s +=
                "\(r.queue): \(r.deadLettering!) message(s) on their way back to a work queue (held by the broker's dead-letter worker)\n"
        }
        for line in CheckpointPeek.pausedLines(paused, now: at) { s += line + "\n" }
        for (backend, a) in breakers.sorted(by: { $0.key < $1.key }) {
            s += "breaker: \(backend) \(a.state) since \(Timestamp.iso(a.at))\n"
        }
        return s
    }

    public func json() -> String {
        var obj: [String: JSONValue] = [
            "at": .string(Timestamp.iso(at)), "leader": .bool(leader), "tickers": .int(tickers),
            "queues": .array(
                rows.map { r in
                    var d: [String: JSONValue] = [
                        "queue": .string(r.queue), "kind": .string(r.kind), "ready": .int(r.ready),
                        "consumers": .int(r.consumers),
                    ]
                    if let u = r.unacked { d["unacked"] = .int(u) }
                    if let x = r.publishRate { d["publish_rate"] = .double(x) }
                    if let x = r.deliverRate { d["deliver_rate"] = .double(x) }
                    if let x = r.ackRate { d["ack_rate"] = .double(x) }
                    if let m = r.members { d["members"] = .int(m) }
                    if let o = r.online { d["online"] = .int(o) }
                    if let x = r.deadLettering { d["dead_lettering"] = .int(x) }
                    return .object(d)
                }),
        ]
        if let a = oldestDeadAgeSeconds { obj["oldest_dead_age_s"] = .int(Int(a)) }
        obj["breakers"] = .object(
            breakers.mapValues {
                .object(["state": .string($0.state), "since": .string(Timestamp.iso($0.at))])
            })
        obj["paused"] = .object(
            paused.mapValues { p in
                var d: [String: JSONValue] = ["since": .string(Timestamp.iso(p.since))]
                if let u = p.until { d["until"] = .string(Timestamp.iso(u)) }
                if let r = p.reason { d["reason"] = .string(r) }
                return .object(d)
            })
        var w = JSONWriter()
        w.value(.object(obj))
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
