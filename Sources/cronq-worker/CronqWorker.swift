import ArgumentParser
import CronqCore
import CronqRuntime
import CronqServiceCLI
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@main
struct CronqWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cronq-worker",
        abstract:
            "Consume cronq job messages, call the backend, retry, dead-letter; ack only once the outcome is safe.",
        discussion: """
            Run as many as you like, on as many hosts as you like: they share the work queues.
            SIGTERM/SIGINT: stop consuming, let in-flight requests finish for up to --grace, record their
            outcomes, exit 0. Unfinished messages go back to the queue. Logs: one line per event on stderr.
            """)

    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    @Option(help: "Comma-separated work queues to consume (default: [worker] queues, else every queue the jobs use).")
    var queues: String?

    @Option(
        help:
            "Requests in flight at once, and the consumer prefetch unless --prefetch (default: [worker] concurrency, 32)."
    )
    var concurrency: Int?

    @Option(
        help: """
            Deliveries held per queue, at least --concurrency; the rest wait unstarted, so a finished request's \
            slot refills without a broker round trip (default: [worker] prefetch, else the concurrency).
            """)
    var prefetch: Int?

    @Option(help: "On SIGTERM, how long in-flight requests may finish, e.g. 30s (default: [worker] grace).")
    var grace: String?

    @OptionGroup var service: ServiceOptions

    @Flag(help: "Print the version and exit.")
    var version = false

    func validate() throws {
        if let c = concurrency, !(1...65535).contains(c) { throw ValidationError("--concurrency must be 1-65535") }
        if let p = prefetch, !(1...65535).contains(p) { throw ValidationError("--prefetch must be 1-65535") }
        if let p = prefetch, let c = concurrency, p < c {
            throw ValidationError("--prefetch (\(p)) must be at least --concurrency (\(c))")
        }
        if let g = grace, DurationText.parse(g) == nil {
            throw ValidationError("--grace '\(g)' is not a duration (e.g. 30s)")
        }
    }

    func run() throws {
        if version {
            print("cronq-worker \(CronqVersion.string)")
            return
        }
        let path = ConfigLoader.resolvePath(config)
        let cfg: CronqConfig
        do {
            cfg = try ConfigLoader(zones: .form).load(path: path)
        } catch let e as ConfigError {
            StandardError.write("\(e)\ncronq-worker: invalid configuration, not starting\n")
            throw ExitCode(1)
        }
        let logger = service.logger(label: "cronq-worker")
        try service.startupChecks(cfg, path: path, program: "cronq-worker", logger: logger)
        if cfg.amqp.messageKey == nil {
            logger.notice(
                "no [amqp] message_key: any client that may publish to the jobs or retry exchanges chooses what this worker calls"
            )
        }
        let options = WorkerOptions(
            config: cfg, queues: queues.map { $0.split(separator: ",").map(String.init) }, concurrency: concurrency,
            prefetch: prefetch, grace: grace.flatMap(DurationText.parse))
        if let p = prefetch, p < options.concurrency {
            throw ValidationError("--prefetch (\(p)) must be at least the concurrency (\(options.concurrency))")
        }
        let loop = WorkerLoop(options: options, logger: logger)
        let server = try service.startMetrics("cronq-worker", logger: logger) { loop.stats.connected }
        SignalledRun.run(loop)
        server?.stop()
    }
}
