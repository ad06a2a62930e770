import CronqAMQP
import CronqCore

extension LeaderState.Outgoing {
    /// The job message of this fire, as the leader publishes it: persistent, its `message_id` derived from
    /// job and instant (a fire published twice, by a failover or a retry, is the same message), signed
    /// when `[amqp] message_key` is set, routed to the job's work queue.
    func message(names: Topology.Names, key: Secret?) -> OutgoingMessage {
        let m = JobMessage(job: job, scheduledAt: fire.instant)
        var message = AMQPMessage(
            body: m.encoded(),
            properties: AMQPProperties(
                contentType: JobMessageProperties.contentType, deliveryMode: 2, messageID: m.messageID,
                timestamp: UInt64(fire.instant), type: JobMessageProperties.type,
                appID: JobMessageProperties.appTicker))
        MessageSignature.apply(to: &message, key: key)
        return OutgoingMessage(exchange: names.jobsExchange, routingKey: job.routingQueue, message: message)
    }
}
