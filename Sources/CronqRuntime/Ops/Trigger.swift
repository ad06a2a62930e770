public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq trigger JOB`: run a job now, like the old template's local `__scheduled` hook.
public enum Trigger {
    /// The message for a manual run: `scheduled_at` = now, id `<job>@manual-<instant>`, app `cronq-trigger`.
    /// It goes to the job's own routing queue: a serial job's manual run waits its turn like a fire.
    public static func message(for job: CronqConfig.Job, names: Topology.Names, now: Int64, key: Secret? = nil) -> (
        OutgoingMessage, String
    ) {
        let m = JobMessage(job: job, scheduledAt: now)
        let id = "\(job.name)@manual-\(Timestamp.iso(now))"
        var message = AMQPMessage(
            body: m.encoded(),
            properties: AMQPProperties(
                contentType: JobMessageProperties.contentType, deliveryMode: 2, messageID: id, timestamp: UInt64(now),
                type: JobMessageProperties.type, appID: JobMessageProperties.appTrigger))
        MessageSignature.apply(to: &message, key: key)
        return (OutgoingMessage(exchange: names.jobsExchange, routingKey: job.routingQueue, message: message), id)
    }

    public enum Result: Sendable, Equatable {
        case published(messageID: String)
        case succeeded(messageID: String)
        case dead(messageID: String, reason: String)
        case timedOut(messageID: String)
    }

    /// Publishes (confirmed, mandatory) and, with `wait`, follows `cronq.events` until the message
    /// succeeds or is dead-lettered.
    /// - Throws: ``AMQPError``; a publish that is not confirmed throws `.protocolError` saying why.
    public static func run(
        job: CronqConfig.Job, config: CronqConfig, connection: AMQPConnection, now: Int64, wait: Duration?
    ) throws -> Result {
        let names = Topology.Names(prefix: config.amqp.prefix)
        let (out, id) = message(for: job, names: names, now: now, key: config.amqp.messageKey)
        let ch = try connection.openChannel()
        var tail: String? = nil
        if wait != nil {
            // Listen before publishing, so a fast outcome cannot be missed.
            tail = try ch.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
            try ch.bindQueue(tail!, exchange: names.eventsExchange, routingKey: "job.\(job.name).*")
            try ch.consume(queue: tail!, noAck: true)
        }
        let pub = try connection.openChannel()
        try pub.enableConfirms()
        let r = try pub.publishAndConfirm([out])
        guard r.first == .confirmed else {
            throw AMQPError(
                .protocolError,
                detail:
                    "the broker did not take the message (\(r.first.map { "\($0!)" } ?? "no confirm")); is the topology applied?"
            )
        }
        guard let wait else { return .published(messageID: id) }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            guard case .delivery(let d)? = try connection.nextEvent(timeout: deadline - ContinuousClock.now) else {
                continue
            }
            for e in OutcomeEvent.decodeAll(d.message.body) where e.messageID == id {
                if e.event == "succeeded" { return .succeeded(messageID: id) }
                if e.event == "dead" { return .dead(messageID: id, reason: e.reason ?? "?") }
            }
        }
        return .timedOut(messageID: id)
    }
}
