import CronqAMQP
import CronqCore
import Logging

/// Pause and resume (`cronq pause`, `cronq resume`): the leader reads `<prefix>.ticker.control`, applies
/// each message to its paused set, records it in the checkpoint (so a restart or failover keeps it) and
/// only then acks it. Fires of a paused job are skipped — marked done, so that catch-up never brings
/// them back — and recorded as `skipped` events.
extension TickerLoop {
    func startControlConsumer(_ c: AMQPConnection) throws {
        let ch = try c.openChannel()
        try ch.setPrefetch(16)
        try ch.consume(queue: names.controlQueue)
        controlChannel = ch
    }

    func handleControl(_ d: AMQPDelivery) throws {
        guard let ch = controlChannel else { return }
        let now = nowMs() / 1000
        guard let m = ControlMessage.decode(d.message.body) else {
            logger.warning("ignoring an unreadable control message", metadata: ["queue": "\(names.controlQueue)"])
            try ch.ack(d.deliveryTag)
            return
        }
        guard config.jobs.contains(where: { $0.name == m.job }) else {
            logger.warning(
                "ignoring a control message for a job not in the config",
                metadata: ["job": "\(m.job.prefix(64))", "action": "\(m.action)"])
            try ch.ack(d.deliveryTag)
            return
        }
        switch m.action {
        case .pause:
            paused[m.job] = PauseState(
                until: m.until, reason: m.reason, since: now, lastSkipped: paused[m.job]?.lastSkipped)
            logger.notice(
                "job paused",
                metadata: [
                    "job": "\(m.job)", "until": "\(m.until.map(Timestamp.iso) ?? "resume")",
                    "reason": "\(m.reason ?? "")",
                ])
            emit(
                OutcomeEvent(
                    event: "paused", job: m.job, messageID: "\(m.job)@control-\(Timestamp.iso(now))", reason: m.reason,
                    at: now))
        case .resume:
            let was = paused.removeValue(forKey: m.job)
            logger.notice(
                "job resumed", metadata: ["job": "\(m.job)", "catch_up": "\(m.catchUp)", "was_paused": "\(was != nil)"])
            emit(
                OutcomeEvent(event: "resumed", job: m.job, messageID: "\(m.job)@control-\(Timestamp.iso(now))", at: now)
            )
            if m.catchUp == .latest, let last = was?.lastSkipped,
                now - last <= config.ticker.catchUpWindow.totalSeconds,
                let index = plannedJobIndices.firstIndex(where: { config.jobs[$0].name == m.job })
            {
                try publish([FirePlanner.Fire(job: m.job, jobIndex: index, instant: last, caughtUp: true)])
            }
        }
        // Acked once a checkpoint holds it; a leader that dies first leaves it to whoever leads next.
        checkpointDirty = true
        acksAfterCheckpoint.append((ch, d.deliveryTag))
        try publishCheckpoint()
    }

    /// The fires to publish: those of paused jobs are skipped (and recorded); an expired pause ends here.
    func skippingPaused(_ fires: [FirePlanner.Fire]) -> [FirePlanner.Fire] {
        guard !paused.isEmpty else { return fires }
        let now = nowMs() / 1000
        var out: [FirePlanner.Fire] = []
        for f in fires {
            guard var p = paused[f.job] else {
                out.append(f)
                continue
            }
            if !p.holds(at: now) {
                paused[f.job] = nil
                checkpointDirty = true
                logger.notice(
                    "job resumed",
                    metadata: ["job": "\(f.job)", "reason": "paused until \(p.until.map(Timestamp.iso) ?? "-")"])
                emit(
                    OutcomeEvent(
                        event: "resumed", job: f.job, messageID: "\(f.job)@control-\(Timestamp.iso(now))",
                        reason: "until reached", at: now))
                out.append(f)
                continue
            }
            p.lastSkipped = max(p.lastSkipped ?? f.instant, f.instant)
            paused[f.job] = p
            recordSkipped(f, reason: "paused", now: now)
        }
        return out
    }

    /// A fire not made, on purpose: done as far as the schedule and catch-up are concerned (it never
    /// comes back), logged, and recorded as a `skipped` event.
    func recordSkipped(_ f: FirePlanner.Fire, reason: String, now: Int64) {
        planner?.confirmed(job: f.job, instant: f.instant)
        lastFired[f.job] = max(lastFired[f.job] ?? 0, f.instant)
        checkpointDirty = true
        let id = JobMessage.messageID(job: f.job, scheduledAt: Timestamp.iso(f.instant))
        logger.info(
            "skipped",
            metadata: [
                "job": "\(f.job)", "scheduled_at": "\(Timestamp.iso(f.instant))", "reason": "\(reason)",
                "message_id": "\(id)",
            ])
        emit(
            OutcomeEvent(
                event: "skipped", job: f.job, messageID: id, scheduledAt: Timestamp.iso(f.instant), reason: reason,
                at: now))
    }
}
