import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Queue-based status and alerting: ready messages, consumers, dead letters, ticker leader.",
        discussion: """
            Exit codes for health checks (cron, Kubernetes, Nagios): 0 fine, 2 a threshold was crossed (one line
            per reason on stderr), 1 the broker cannot be reached. Counts come from passive declares: exact.
            Standby tickers cannot be seen: RabbitMQ shows only that the lock queue is held.
            """)

    @OptionGroup var options: ConfigOption

    @Flag(help: "Machine-readable output.")
    var json = false

    @Option(help: "Refresh every N seconds until Ctrl-C.")
    var watch: Int?

    @Option(help: "Alert when the dead-letter queue holds more than N messages.")
    var maxDead: Int?

    @Option(help: "Alert when a work queue has more than N ready messages.")
    var maxReady: Int?

    @Flag(help: "Alert when no ticker holds the leader lock.")
    var requireLeader = false

    @Flag(help: "Alert when a work queue has no consumer.")
    var requireConsumers = false

    func validate() throws {
        if let w = watch, w < 1 { throw ValidationError("--watch must be at least 1 second") }
        if let m = maxDead, m < 0 { throw ValidationError("--max-dead must be 0 or more") }
        if let m = maxReady, m < 0 { throw ValidationError("--max-ready must be 0 or more") }
    }

    func run() throws {
        let config = try options.load()
        let thresholds = QueueStatus.Thresholds(maxDead: maxDead, maxReady: maxReady, requireLeader: requireLeader, requireConsumers: requireConsumers)
        let interrupt = watch != nil ? Interrupt() : nil
        var first = true
        while true {
            let c = try connect(config, "status")
            let s: QueueStatus
            do {
                s = try QueueStatus.collect(connection: c, config: config, now: Int64(Date().timeIntervalSince1970))
            } catch {
                throw fail("cronq status: \(error)")
            }
            c.close()
            if watch != nil && isTerminal && !first { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            first = false
            print(json ? s.json() : s.table(color: isTerminal))
            let alerts = s.alerts(thresholds)
            if watch == nil || interrupt?.isRaised == true {
                if !alerts.isEmpty {
                    FileHandleOutput.stderr(alerts.joined(separator: "\n"))
                    throw ExitCode(2)
                }
                return
            }
            for _ in 0..<(watch! * 10) where interrupt?.isRaised != true { usleep(100_000) }
            if interrupt?.isRaised == true { return }
        }
    }
}
