import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

/// Sends one control message to the leader ticker (``Control/send(_:connection:names:sender:)``).
func sendControl(_ message: ControlMessage, options: ConfigOption, what: String) throws {
    let config = try options.load()
    guard config.jobs.contains(where: { $0.name == message.job }) else {
        throw fail(
            "cronq \(what): no job '\(message.job)' in \(config.path) (jobs: \(config.jobs.prefix(10).map(\.name).joined(separator: ", "))\(config.jobs.count > 10 ? ", …" : ""))"
        )
    }
    let c = try connect(config, what)
    defer { c.close() }
    do {
        try Control.send(
            message, connection: c, names: Topology.Names(prefix: config.amqp.prefix), sender: "cronq-\(what)")
    } catch let f as Control.Failure {
        throw fail("cronq \(what): \(f)")
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop firing a job (until resumed, or until a time) without a deploy.",
        discussion: """
            The leader ticker applies it within a moment, records it in its checkpoint (a restart or a failover
            keeps it) and publishes a `paused` event. Fires that come due meanwhile are skipped and recorded as
            `skipped` events. `cronq status --jobs` shows paused jobs.
            """)

    @OptionGroup var options: ConfigOption

    @Argument(help: "The job's name, as in the config.")
    var job: String

    @Option(help: "Resume by itself then: an ISO 8601 instant, or a duration from now (e.g. 2h).")
    var until: String?

    @Option(help: "Why (shown in status and events; at most 200 characters).")
    var reason: String?

    func validate() throws {
        if let u = until, Self.instant(u, now: 0) == nil {
            throw ValidationError("--until '\(u)' is neither an ISO 8601 instant nor a duration (e.g. 2h)")
        }
    }

    static func instant(_ text: String, now: Int64) -> Int64? {
        Timestamp.parse(text) ?? DurationText.parse(text).map { now + $0.totalSeconds }
    }

    func run() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let untilAt = until.flatMap { Self.instant($0, now: now) }
        if let u = untilAt, u <= now { throw ValidationError("--until \(Timestamp.iso(u)) is in the past") }
        try sendControl(
            ControlMessage(action: .pause, job: job, until: untilAt, reason: reason, at: now), options: options,
            what: "pause")
        print(
            "pause of \(job) sent\(untilAt.map { " (until \(Timestamp.iso($0)))" } ?? ""); the leader ticker applies it: `cronq status --jobs` shows it"
        )
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Fire a paused job again.",
        discussion:
            "--catch-up latest also fires the most recent fire skipped while it was paused (within the catch-up window)."
    )

    @OptionGroup var options: ConfigOption

    @Argument(help: "The job's name, as in the config.")
    var job: String

    @Option(name: .customLong("catch-up"), help: "none (default) or latest.")
    var catchUp = "none"

    func validate() throws {
        guard ["none", "latest"].contains(catchUp) else { throw ValidationError("--catch-up must be none or latest") }
    }

    func run() throws {
        try sendControl(
            ControlMessage(
                action: .resume, job: job, catchUp: CronqConfig.CatchUp(rawValue: catchUp)!,
                at: Int64(Date().timeIntervalSince1970)),
            options: options, what: "resume")
        print("resume of \(job) sent; the leader ticker applies it")
    }
}
