import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the configuration and show every job's next fires.",
        discussion: """
            Lists every problem (not just the first), each naming the file, the job and the key; exits 1 if there
            is any. Also warns, per wall-clock job in a zone with daylight-saving changes, about the dates in the
            coming year when its schedule meets a local time that does not exist (it fires once at the gap's
            end) or one that happens twice (it fires once, at the first pass); --strict makes warnings fatal.
            """)

    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    @Flag(help: "Exit 1 on warnings (DST gaps and repeated hours) too.")
    var strict = false

    @Flag(help: "Do not contact the broker (by default, when it is reachable, paused jobs are listed too).")
    var offline = false

    func run() throws {
        let path = ConfigLoader.resolvePath(config)
        do {
            let c = try ConfigLoader().load(path: path)
            let now = Int64(Date().timeIntervalSince1970)
            print(ScheduleReport.jobTable(c, now: now), terminator: "")
            let warnings = DSTLint.check(c, now: now)
            for w in warnings { FileHandleOutput.stderr("warning: \(w)") }
            print(
                "\(path): OK, \(c.jobs.count) job(s), \(c.backends.count) backend(s), queues: \(c.queues.joined(separator: ", "))"
                    + (warnings.isEmpty ? "" : ", \(warnings.count) warning(s)"))
            if !offline { showPaused(c, now: now) }
            if strict && !warnings.isEmpty { throw fail("\(path): \(warnings.count) warning(s), fatal with --strict") }
        } catch let e as ConfigError {
            throw fail("\(e)\n\(path): \(e.issues.count) problem(s)")
        }
    }

    /// Best effort: the paused jobs in the leader's checkpoint, when the broker answers; a config check
    /// never fails because the broker is away.
    func showPaused(_ c: CronqConfig, now: Int64) {
        guard
            let conn = try? AMQPConnection.connect(
                BrokerEndpoints(strings: c.amqp.endpoints), name: "cronq/\(getpid()) validate")
        else {
            FileHandleOutput.stderr("note: broker not reachable; paused jobs (if any) not shown")
            return
        }
        defer { conn.close() }
        guard let ch = try? conn.openChannel(),
            let cp = (try? CheckpointPeek.peek(ch, names: .init(prefix: c.amqp.prefix)))?.checkpoint
        else { return }
        for line in CheckpointPeek.pausedLines(cp.paused, now: now) { print(line) }
    }
}
