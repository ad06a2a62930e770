public import CronqAMQP
public import CronqCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Declares a ``Topology`` on a broker: idempotent, and explicit about conflicts.
///
/// Declaring what already exists with the same arguments changes nothing. An existing queue or
/// exchange declared with different arguments makes the broker close the channel with 406
/// PRECONDITION_FAILED naming the object and the argument; the declarer reopens a channel, goes on
/// with the rest, and reports every conflict at the end.
public struct TopologyDeclarer {
    public let connection: AMQPConnection

    public init(connection: AMQPConnection) {
        self.connection = connection
    }

    /// What was declared, for a progress report.
    public struct Report: Sendable {
        public var exchanges = 0
        public var queues = 0
        public var bindings = 0
        /// Queues kept as an earlier cronq created them (see ``Topology/upgradeTolerantArguments``): what to
        /// tell the operator, one line each.
        public var warnings: [String] = []
    }

    /// - Parameter verifyWhenRefused: for services running as least-privilege users (no configure
    ///   permission, see the README): an object the broker refuses to let them declare (403) is only
    ///   checked to exist, and a binding they may not make is trusted to be there (an operator applied
    ///   the topology with `cronq topology apply`). Operators' `apply` leaves it off, so 403 is an error.
    /// - Throws: ``TopologyError`` listing every conflict or missing object, or the ``AMQPError`` that killed the connection.
    @discardableResult
    public func apply(_ topology: Topology, verifyWhenRefused: Bool = false) throws -> Report {
        var channel = try connection.openChannel()
        defer { channel.close() }
        var conflicts: [String] = []
        var report = Report()
        /// Returns the argument to adjust when the broker refused only a tolerated difference.
        @discardableResult
        func attempt(
            _ what: String, _ body: (AMQPChannel) throws -> Void, verify: ((AMQPChannel) throws -> Void)? = nil,
            tolerate: Bool = false
        ) throws -> Tolerated? {
            do {
                try body(channel)
            } catch let e as AMQPError where e.code == .channelClosed {
                channel = try connection.openChannel()
                if tolerate, e.replyCode == 406, let t = Self.tolerated(e.detail) { return t }
                guard e.replyCode == 403, verifyWhenRefused else {
                    conflicts.append("\(what): \(e.detail)")
                    return nil
                }
                guard let verify else { return nil }
                do {
                    try verify(channel)
                } catch let e as AMQPError where e.code == .channelClosed {
                    conflicts.append("\(what): not declared (this user may not configure it) and \(e.detail)")
                    channel = try connection.openChannel()
                }
            }
            return nil
        }
        for x in topology.exchanges {
            guard let kind = AMQPChannel.ExchangeKind(rawValue: x.kind) else {
                preconditionFailure("unknown exchange kind \(x.kind)")
            }
            try attempt(
                "exchange \(x.name)", { try $0.declareExchange(x.name, kind: kind) },
                verify: { try $0.checkExchange(x.name) })
            report.exchanges += 1
        }
        for q in topology.queues {
            // A queue of an earlier cronq may lack a cluster argument (or have another initial size): declare
            // it as it is for those, so that any other difference is still found and reported.
            var arguments = q.arguments
            var kept: [String] = []
            for _ in 0..<4 {
                guard
                    let t = try attempt(
                        "queue \(q.name)", { try $0.declareQueue(q.name, arguments: Self.table(arguments)) },
                        verify: { _ = try $0.inspectQueue(q.name) }, tolerate: true)
                else { break }
                arguments.removeAll { $0.key == t.argument }
                if let current = t.current { arguments.append((t.argument, .int(current))) }
                kept.append(t.argument)
            }
            if !kept.isEmpty {
                report.warnings.append(
                    "queue \(q.name) keeps the \(kept.joined(separator: ", ")) it was created with by an earlier cronq; "
                        + "it works as it is — to change it, recreate the queue when it is empty, or set it by policy")
            }
            report.queues += 1
        }
        for b in topology.bindings {
            try attempt(
                "binding \(b.exchange) -> \(b.queue)",
                {
                    try $0.bindQueue(
                        b.queue, exchange: b.exchange, routingKey: b.routingKey, arguments: Self.table(b.arguments))
                })
            report.bindings += 1
        }
        if !conflicts.isEmpty { throw TopologyError(conflicts: conflicts) }
        return report
    }

    /// A difference an existing queue may have: the argument, and the queue's current value (nil: none).
    struct Tolerated: Equatable {
        var argument: String
        var current: Int64?
    }

    /// The argument named by a 406 "inequivalent arg 'x-…' … current is …" when it is one a queue of an
    /// earlier cronq may lack (or, for initial sizes, may have had another value for); nil for any other.
    static func tolerated(_ detail: String) -> Tolerated? {
        guard let r = detail.firstRange(of: "inequivalent arg '") else { return nil }
        let argument = String(detail[r.upperBound...].prefix { $0 != "'" })
        guard Topology.upgradeTolerantArguments.contains(argument),
            let c = detail.lastRange(of: "current is ")
        else { return nil }
        let rest = detail[c.upperBound...]
        if rest.hasPrefix("none") { return Tolerated(argument: argument, current: nil) }
        // "'3'" or "the value '3' of type 'long'"
        guard argument != "x-delivery-limit", let q = rest.firstIndex(of: "'") else { return nil }
        let value = rest[rest.index(after: q)...].prefix { $0 != "'" }
        return Int64(value).map { Tolerated(argument: argument, current: $0) }
    }

    static func table(_ arguments: [(key: String, value: Topology.Argument)]) -> AMQPTable {
        var t = AMQPTable()
        for (k, v) in arguments {
            switch v {
            case .string(let s): t[k] = .string(s)
            case .int(let i): t[k] = .int64(i)
            case .bool(let b): t[k] = .bool(b)
            }
        }
        return t
    }
}

/// Existing broker objects that differ from what cronq would declare.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    public let conflicts: [String]

    public var description: String {
        "the broker has objects declared differently, or is missing some:\n"
            + conflicts.map { "  - \($0)" }.joined(separator: "\n")
            + "\nalign the config with them, or delete them (losing their messages) and apply again"
    }
}
