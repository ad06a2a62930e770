public import ArgumentParser
import CronqAMQP
public import CronqCore
public import CronqRuntime
public import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The options `cronq-ticker` and `cronq-worker` share: logging and the metrics endpoint.
public struct ServiceOptions: ParsableArguments {
    @Option(
        help:
            "Serve Prometheus metrics on /metrics and a health probe on /healthz at HOST:PORT (off by default), e.g. 127.0.0.1:9464."
    )
    public var metricsAddress: String?

    @Option(help: "trace, debug, info, notice, warning, error, critical.")
    public var logLevel: String = "info"

    @Option(help: "logfmt or json.")
    public var logFormat: String = "logfmt"

    public init() {}

    public func validate() throws {
        if let a = metricsAddress, MetricsServer.parseAddress(a) == nil {
            throw ValidationError("--metrics-address '\(a)' is not HOST:PORT")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if LogfmtHandler.Format(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be logfmt or json")
        }
    }

    /// One line per event on stderr, at the chosen level and format.
    public func logger(label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = LogfmtHandler.Format(rawValue: logFormat) ?? .logfmt
        return Logger(label: label) { LogfmtHandler(label: $0, level: level, format: format) }
    }

    /// What both services check of a loaded config before they start: every broker endpoint parses (exit 1
    /// naming the file otherwise), and the config's warnings are logged once.
    public func startupChecks(_ config: CronqConfig, path: String, program: String, logger: Logger) throws {
        do {
            _ = try BrokerEndpoints(strings: config.amqp.endpoints)
        } catch {
            StandardError.write("\(path): amqp: \(error)\n\(program): invalid configuration, not starting\n")
            throw ExitCode(1)
        }
        for w in config.warnings { logger.warning("configuration", metadata: ["warning": "\(w)"]) }
    }

    /// Starts the metrics endpoint when `--metrics-address` was given; exits 1 when it cannot bind.
    public func startMetrics(_ program: String, logger: Logger, health: @escaping @Sendable () -> Bool) throws
        -> MetricsServer?
    {
        guard let metricsAddress else { return nil }
        do {
            return try MetricsServer.start(address: metricsAddress, logger: logger, health: health)
        } catch {
            StandardError.write("\(program): cannot serve metrics on \(metricsAddress): \(error)\n")
            throw ExitCode(1)
        }
    }
}
