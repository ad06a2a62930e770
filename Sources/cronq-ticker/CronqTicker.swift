import ArgumentParser
import CronqCore
import CronqRuntime
import Foundation
import Logging

@main
struct CronqTicker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cronq-ticker",
        abstract: "Evaluate the jobs' cron schedules and publish one job message per fire, with publisher confirms.",
        discussion: """
            Run two or more for high availability: exactly one (the holder of the cronq.ticker.lock queue) leads
            and publishes; the others stand by and take over when its connection dies. After downtime, each
            job's catch_up policy decides what missed fires to publish (from the checkpoint in cronq.ticker.state).
            Signals: SIGTERM/SIGINT finish in-flight publishes, release the lock and exit 0; SIGHUP reloads the
            configuration (an invalid file is logged and the running one kept). Logs: one line per event on stderr.
            """)

    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    @Option(help: "Serve Prometheus metrics on /metrics and a health probe on /healthz at HOST:PORT (off by default), e.g. 127.0.0.1:9464.")
    var metricsAddress: String?

    @Option(help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "logfmt or json.")
    var logFormat: String = "logfmt"

    func validate() throws {
        if let a = metricsAddress, MetricsServer.parseAddress(a) == nil { throw ValidationError("--metrics-address '\(a)' is not HOST:PORT") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        if LogfmtHandler.Format(rawValue: logFormat) == nil { throw ValidationError("--log-format must be logfmt or json") }
    }

    func run() throws {
        let path = ConfigLoader.resolvePath(config)
        let cfg: CronqConfig
        do {
            // The ticker never sends a token: unset secrets are not its concern.
            cfg = try ConfigLoader(allowMissingVariables: true).load(path: path)
        } catch let e as ConfigError {
            FileHandle.standardError.write(Data("\(e)\ncronq-ticker: invalid configuration, not starting\n".utf8))
            throw ExitCode(1)
        }
        let level = Logger.Level(rawValue: logLevel)!
        let format = LogfmtHandler.Format(rawValue: logFormat)!
        let logger = Logger(label: "cronq-ticker") { LogfmtHandler(label: $0, level: level, format: format) }
        let loop = TickerLoop(config: cfg, configPath: path, logger: logger)
        var server: MetricsServer? = nil
        if let metricsAddress {
            do {
                server = try MetricsServer.start(address: metricsAddress, logger: logger) { loop.stats.connected }
            } catch {
                FileHandle.standardError.write(Data("cronq-ticker: cannot serve metrics on \(metricsAddress): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        SignalledRun.run(loop, onReload: { loop.requestReload() })
        server?.stop()
    }
}
