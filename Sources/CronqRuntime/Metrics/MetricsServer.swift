public import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `--metrics-address`: Prometheus text on `/metrics` and a health probe on `/healthz`, served by a
/// small swift-nio HTTP/1.1 server (no hand-written HTTP parsing).
///
/// **Ownership.** ``start(host:port:health:)`` binds and returns at once; the server runs on its own
/// event loop until ``stop()``. The metrics come from swift-metrics, bootstrapped to a
/// swift-prometheus registry by ``bootstrap()`` (executables call it once, only when metrics are on).
public final class MetricsServer: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The bound port (useful with port 0).
    public let port: Int

    /// Bootstraps swift-metrics with a Prometheus registry and returns it.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// - Parameter health: true when the process is healthy (connected; for the ticker: leading or standing by).
    /// - Throws: a bind error naming the address.
    public init(registry: PrometheusCollectorRegistry, host: String, port: Int, health: @escaping @Sendable () -> Bool)
        throws
    {
        self.registry = registry
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(registry: registry, health: health))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.port = channel.localAddress?.port ?? port
    }

    /// For the executables' `--metrics-address`: bootstraps metrics, starts the server, logs where.
    /// - Throws: a bind error; the caller exits 1 with it.
    public static func start(address: String, logger: Logger, health: @escaping @Sendable () -> Bool) throws
        -> MetricsServer
    {
        guard let a = parseAddress(address) else { throw MetricsAddressError(address: address) }
        let server = try MetricsServer(registry: bootstrap(), host: a.host, port: a.port, health: health)
        logger.info("metrics listening", metadata: ["address": "\(a.host):\(server.port)"])
        return server
    }

    public struct MetricsAddressError: Error, CustomStringConvertible {
        public let address: String
        public var description: String { "'\(address)' is not HOST:PORT" }
    }

    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Parses `host:port` (e.g. `127.0.0.1:9464`).
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon].drop { $0 == "[" }.reversed().drop { $0 == "]" }.reversed())
        return host.isEmpty ? nil : (host, port)
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let registry: PrometheusCollectorRegistry
        let health: @Sendable () -> Bool
        var uri = ""

        init(registry: PrometheusCollectorRegistry, health: @escaping @Sendable () -> Bool) {
            self.registry = registry
            self.health = health
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): uri = head.uri
            case .body: break
            case .end:
                var status = HTTPResponseStatus.ok
                var body: [UInt8] = []
                var type = "text/plain; charset=utf-8"
                switch uri.split(separator: "?").first.map(String.init) ?? uri {
                case "/metrics":
                    registry.emit(into: &body)
                    type = "text/plain; version=0.0.4; charset=utf-8"
                case "/healthz":
                    let ok = health()
                    status = ok ? .ok : .serviceUnavailable
                    body = Array((ok ? "ok\n" : "unhealthy\n").utf8)
                default:
                    status = .notFound
                    body = Array("not found\n".utf8)
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: "\(body.count)")
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                    promise: nil)
                var buffer = context.channel.allocator.buffer(capacity: body.count)
                buffer.writeBytes(body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
