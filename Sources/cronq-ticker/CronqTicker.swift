import ArgumentParser
import CronqCore
import CronqRuntime
import CronqServiceCLI
import Foundation
import Logging

@main
struct CronqTicker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cronq-ticker",
        abstract: "Evaluate the jobs' cron schedules and publish one job message per fire, with publisher confirms.",
        discussion: """
            Run two or more for high availability: exactly one (the holder of the token in the
            cronq.ticker.leader queue) leads and publishes; the others stand by and take over when its
            connection or its broker node dies. After downtime, each
            job's catch_up policy decides what missed fires to publish (from the checkpoint in cronq.ticker.state).
            Signals: SIGTERM/SIGINT finish in-flight publishes, release the lock and exit 0; SIGHUP reloads the
            configuration (an invalid file is logged and the running one kept). Logs: one line per event on stderr.
            """)

    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    @OptionGroup var service: ServiceOptions

    func run() throws {
        let path = ConfigLoader.resolvePath(config)
        let cfg: CronqConfig
        do {
            // The ticker never sends a token: unset secrets are not its concern.
            cfg = try ConfigLoader(allowMissingVariables: true).load(path: path)
            if cfg.amqp.messageKeyMissing { throw ConfigError(issues: [.missingMessageKey(path)]) }
        } catch let e as ConfigError {
            StandardError.write("\(e)\ncronq-ticker: invalid configuration, not starting\n")
            throw ExitCode(1)
        }
        let logger = service.logger(label: "cronq-ticker")
        try service.startupChecks(cfg, path: path, program: "cronq-ticker", logger: logger)
        let loop = TickerLoop(
            config: cfg, configPath: path, logger: logger, loader: ConfigLoader(allowMissingVariables: true))
        let server = try service.startMetrics("cronq-ticker", logger: logger) { loop.stats.connected }
        SignalledRun.run(loop, onReload: { loop.requestReload() })
        server?.stop()
    }
}
