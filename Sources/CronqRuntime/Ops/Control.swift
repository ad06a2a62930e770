public import CronqAMQP
public import CronqCore

/// `cronq pause` / `cronq resume` and the dashboard's buttons: one control message to the leader ticker,
/// confirmed and routed (a durable queue holds it until a leader applies it, so one sent while no ticker
/// leads is not lost).
public enum Control {
    /// Why a control message was not accepted by the broker; nothing changed in any of them.
    public enum Failure: Error, CustomStringConvertible, Sendable, Equatable {
        /// The control exchange routes to no queue.
        case unrouted
        /// The control exchange does not exist.
        case noExchange(String)
        /// Nacked, or no answer in time.
        case notConfirmed(String)

        public var description: String {
            switch self {
            case .unrouted: "nothing receives control messages: run `cronq topology apply`"
            case .noExchange(let x): "no exchange \(x): run `cronq topology apply`"
            case .notConfirmed(let why): "the broker did not confirm the message (\(why)); nothing changed"
            }
        }
    }

    /// Publishes `message` with confirms on a channel of its own.
    /// - Parameter sender: the `app_id`, e.g. `cronq-pause` or `cronq-web`.
    /// - Throws: ``Failure``, or ``AMQPError`` when the connection fails.
    public static func send(
        _ message: ControlMessage, connection: AMQPConnection, names: Topology.Names, sender: String
    ) throws {
        do {
            let ch = try connection.openChannel()
            defer { ch.close() }
            try ch.enableConfirms()
            let r = try ch.publishAndConfirm(
                [
                    OutgoingMessage(
                        exchange: names.controlExchange, routingKey: "",
                        message: AMQPMessage(
                            body: message.encoded(),
                            properties: AMQPProperties(
                                contentType: "application/json", deliveryMode: 2, type: "cronq.control",
                                appID: sender)),
                        mandatory: true)
                ], timeout: .seconds(10))
            switch r.first {
            case .confirmed?: return
            case .returned?: throw Failure.unrouted
            default: throw Failure.notConfirmed(r.first.flatMap { $0 }.map { "\($0)" } ?? "no answer in time")
            }
        } catch let e as AMQPError where e.replyCode == 404 {
            throw Failure.noExchange(names.controlExchange)
        }
    }
}
