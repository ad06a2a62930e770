import CronqAMQP
import CronqCore
import Foundation
import Logging

/// `overlap = "skip"` (Kubernetes' Forbid): the leader does not fire a job whose previous fire has not
/// ended (succeeded or dead). It learns ends from the workers' events, through the durable
/// `<prefix>.ticker.completions` queue; an end that never arrives (a lost event) is given up on after
/// the job's worst-case run time (every attempt timing out, with every backoff), so a job is never
/// stalled for good. Runs in flight are kept in the checkpoint and an end is acked only once a checkpoint
/// without its run is confirmed, so a new leader after a failover waits for the same runs.
extension TickerLoop {
    func startCompletionsConsumer(_ c: AMQPConnection) throws {
        guard config.jobs.contains(where: { $0.enabled && $0.overlap == .skip }) else { return }
        let ch = try c.openChannel()
        try ch.setPrefetch(256)
        try ch.consume(queue: names.completionsQueue)
        completionsChannel = ch
    }

    /// Forgets runs of jobs that are no longer `skip` jobs (removed or changed by a reload), so the
    /// checkpoint does not carry them for ever.
    func pruneRunning() {
        guard !running.isEmpty else { return }
        let skip = Set(config.jobs.lazy.filter { $0.enabled && $0.overlap == .skip }.map(\.name))
        let before = running.count
        running = running.filter { skip.contains($0.key) }
        if running.count != before { checkpointDirty = true }
    }

    func handleCompletion(_ d: AMQPDelivery) throws {
        var ended = false
        for e in OutcomeEvent.decodeAll(d.message.body) {
            guard let r = running[e.job] else { continue }
            // The run's own end, or the end of a later one (which implies the earlier ended too).
            let endedAt = e.scheduledAt.flatMap(Timestamp.parse) ?? Int64.min
            if e.messageID == r.id || endedAt >= r.scheduledAt {
                running[e.job] = nil
                ended = true
                logger.debug(
                    "run ended", metadata: ["job": "\(e.job)", "message_id": "\(e.messageID)", "outcome": "\(e.event)"])
            }
        }
        guard let ch = completionsChannel else { return }
        if ended {
            checkpointDirty = true  // acked with the next checkpoint, which no longer holds the run
            acksAfterCheckpoint.append((ch, d.deliveryTag))
        } else {
            try ch.ack(d.deliveryTag)
        }
    }

    /// The fires to publish: a skip job's fire while its previous run is in flight is skipped and recorded.
    func skippingOverlaps(_ fires: [FirePlanner.Fire]) -> [FirePlanner.Fire] {
        guard !running.isEmpty || fires.count > 1 else { return fires }
        let now = nowMs() / 1000
        var out: [FirePlanner.Fire] = []
        var firingNow: Set<String> = []
        for f in fires {
            guard plannedJob(f)?.overlap == .skip else {
                out.append(f)
                continue
            }
            if let r = running[f.job], now >= r.expiresAt {
                logger.warning(
                    "no end heard of the previous run within its worst-case time; firing anyway",
                    metadata: [
                        "job": "\(f.job)", "previous": "\(r.id)",
                    ])
                running[f.job] = nil
            }
            let blocker = running[f.job]?.id ?? (firingNow.contains(f.job) ? "a fire in this batch" : nil)
            guard let blocker else {
                firingNow.insert(f.job)
                out.append(f)
                continue
            }
            recordSkipped(f, reason: "overlap: previous run \(blocker) has not finished", now: now)
        }
        return out
    }
}
