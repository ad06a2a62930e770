public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cronq tail`: live events from `cronq.events` through an exclusive, auto-delete queue.
public enum Tail {
    /// Prints every event until `shouldStop` returns true. `job` narrows the binding to one job.
    public static func run(
        connection: AMQPConnection, names: Topology.Names, job: String?, json: Bool,
        shouldStop: () -> Bool, print emit: (String) -> Void
    ) throws {
        let ch = try connection.openChannel()
        let q = try ch.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
        try ch.bindQueue(q, exchange: names.eventsExchange, routingKey: job.map { "job.\($0).*" } ?? "job.#")
        try ch.consume(queue: q, noAck: true)
        while !shouldStop() {
            guard case .delivery(let d)? = try connection.nextEvent(timeout: .milliseconds(250)) else { continue }
            if json {
                // Valid JSON has no raw control characters, so escaping changes only what a stranger
                // published to the events exchange.
                for line in OutcomeEvent.lines(d.message.body) {
                    emit(Printable.escaped(String(decoding: line, as: UTF8.self)))
                }
            } else {
                for e in OutcomeEvent.decodeAll(d.message.body) { emit(pretty(e)) }
            }
        }
    }

    public static func pretty(_ e: OutcomeEvent) -> String {
        var parts = [e.at, TextTable.padded(e.event, to: 9), e.job, e.messageID]
        if let a = e.attempt { parts.append("attempt=\(a)") }
        if let s = e.status { parts.append("status=\(s)") }
        if let t = e.tier { parts.append("retry_in=\(t)") }
        if let r = e.reason { parts.append("reason=\(r)") }
        if let d = e.durationMs { parts.append("\(d)ms") }
        if let err = e.error, e.event != "succeeded" { parts.append("error=\"\(err)\"") }
        return Printable.escaped(parts.joined(separator: " "))
    }
}
