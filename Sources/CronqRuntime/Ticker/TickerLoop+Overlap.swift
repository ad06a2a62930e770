import CronqAMQP
import CronqCore
import Foundation
import Logging

/// `overlap = "skip"` (Kubernetes' Forbid): the leader does not fire a job whose previous fire has not
/// ended (succeeded or dead). It learns ends from the workers' events, through the durable
/// `<prefix>.ticker.completions` queue; an end that never arrives (a lost event) is given up on after
/// the job's worst-case run time (every attempt timing out, with every backoff), so a job is never
/// stalled for good. A new leader after a failover does not know the runs in flight: it may fire once
/// while one still runs.
extension TickerLoop {
    func startCompletionsConsumer(_ c: AMQPConnection) throws {
        guard config.jobs.contains(where: { $0.enabled && $0.overlap == .skip }) else { return }
        let ch = try c.openChannel()
        try ch.setPrefetch(256)
        try ch.consume(queue: names.completionsQueue)
        completionsChannel = ch
    }

    func handleCompletion(_ d: AMQPDelivery) throws {
        defer { try? completionsChannel?.ack(d.deliveryTag) }
        for e in OutcomeEvent.decodeAll(d.message.body) {
            guard let r = running[e.job] else { continue }
            // The run's own end, or the end of a later one (which implies the earlier ended too).
            let endedAt = e.scheduledAt.flatMap(Timestamp.parse) ?? Int64.min
            if e.messageID == r.id || endedAt >= r.instant {
                running[e.job] = nil
                logger.debug("run ended", metadata: ["job": "\(e.job)", "message_id": "\(e.messageID)", "outcome": "\(e.event)"])
            }
        }
    }

    /// The fires to publish: a skip job's fire while its previous run is in flight is skipped and recorded.
    func skippingOverlaps(_ fires: [FirePlanner.Fire]) -> [FirePlanner.Fire] {
        guard !running.isEmpty || fires.count > 1 else { return fires }
        let now = nowMs() / 1000
        var out: [FirePlanner.Fire] = []
        var firingNow: Set<String> = []
        for f in fires {
            guard plannedJobIndices.indices.contains(f.jobIndex), config.jobs[plannedJobIndices[f.jobIndex]].overlap == .skip else {
                out.append(f)
                continue
            }
            if let r = running[f.job], now >= r.expiresAt {
                logger.warning("no end heard of the previous run within its worst-case time; firing anyway", metadata: [
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
