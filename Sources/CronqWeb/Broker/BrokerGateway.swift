import CronqAMQP
import Dispatch
import Foundation

/// The dashboard's one broker connection for page reads and quick actions. rabbitmq-c connections are
/// blocking and not shared between threads, so every use runs on one serial queue, off the server's
/// event loops; requests wait their turn (each is a few passive declares or one confirmed publish).
///
/// Connected lazily; a connection-level failure drops it, and the operation is tried once more on a new
/// one (an idle connection the broker closed for missed heartbeats is the common case).
final class BrokerGateway: @unchecked Sendable {
    private let queue = DispatchQueue(label: "cronq-web.broker")
    /// Only touched on `queue`.
    private var connection: AMQPConnection?
    private let endpoints: [String]

    init(endpoints: [String]) { self.endpoints = endpoints }

    /// Runs `body` with the connection, on the gateway's queue.
    /// - Parameter retry: try once more on a new connection after a connection-level failure; only for
    ///   reads (a publish whose confirm was lost with the connection may have been routed).
    func run<T: Sendable>(retry: Bool = true, _ body: @escaping @Sendable (AMQPConnection) throws -> T) async throws
        -> T
    {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.attempt(body, retry: retry) })
            }
        }
    }

    private func attempt<T>(_ body: (AMQPConnection) throws -> T, retry: Bool) throws -> T {
        do {
            if connection == nil {
                connection = try AMQPConnection.connect(
                    BrokerEndpoints(strings: endpoints), name: "cronq-web/\(getpid())")
            }
            return try body(connection!)
        } catch let e as AMQPError where e.isConnectionFatal {
            connection?.close()
            connection = nil
            if retry { return try attempt(body, retry: false) }
            throw e
        }
    }

    func close() {
        queue.sync {
            connection?.close()
            connection = nil
        }
    }
}
