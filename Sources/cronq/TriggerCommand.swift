import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct TriggerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger",
        abstract: "Run a job now (the template's local __scheduled hook).",
        discussion: """
            Publishes the job's message with scheduled_at = now, message id <job>@manual-<instant>, app_id cronq-trigger.
            With --wait, follows cronq.events until the message succeeds (exit 0) or is dead-lettered (exit 1);
            a workers-down timeout is exit 1 too.
            """)

    @Argument(help: "The job's name, as in the config.")
    var job: String

    @OptionGroup var options: ConfigOption

    @Flag(help: "Wait for the outcome.")
    var wait = false

    @Option(help: "How long --wait waits, e.g. 10m.")
    var timeout = "10m"

    func validate() throws {
        if DurationText.parse(timeout) == nil { throw ValidationError("--timeout '\(timeout)' is not a duration") }
    }

    func run() throws {
        let config = try options.loadForPublishing()
        guard let j = config.jobs.first(where: { $0.name == job }) else {
            throw fail(
                "cronq trigger: no job '\(job)' in the config (jobs: \(config.jobs.map(\.name).joined(separator: ", ")))"
            )
        }
        let c = try connect(config, "trigger")
        defer { c.close() }
        let now = Int64(Date().timeIntervalSince1970)
        do {
            switch try Trigger.run(
                job: j, config: config, connection: c, now: now, wait: wait ? DurationText.parse(timeout) : nil)
            {
            case .published(let id): print("published \(id)")
            case .succeeded(let id): print("succeeded \(id)")
            case .dead(let id, let reason): throw fail("dead-lettered \(id): \(reason) (see `cronq dead show \(id)`)")
            case .timedOut(let id):
                throw fail("no outcome for \(id) within \(timeout): are workers running? (`cronq status`)")
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail("cronq trigger: \(error)")
        }
    }
}
