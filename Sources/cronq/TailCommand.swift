import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print live events (fired, succeeded, retrying, dead) until Ctrl-C — the template's `npm run tail`.")

    @OptionGroup var options: ConfigOption

    @Option(help: "Only this job's events.")
    var job: String?

    @Option(help: "pretty or json.")
    var format = "pretty"

    func validate() throws {
        guard ["pretty", "json"].contains(format) else { throw ValidationError("--format must be pretty or json") }
    }

    func run() throws {
        let config = try options.load()
        let c = try connect(config, "tail")
        defer { c.close() }
        let interrupt = StopSignals(secondSignalExitCode: 130)
        do {
            try Tail.run(
                connection: c, names: .init(prefix: config.amqp.prefix), job: job, json: format == "json",
                shouldStop: { interrupt.isRaised }, print: { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) })
        } catch {
            throw fail("cronq tail: \(error)")
        }
    }
}
