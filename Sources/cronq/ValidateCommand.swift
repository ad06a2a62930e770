import ArgumentParser
import CronqCore
import CronqRuntime
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the configuration and show every job's next fires.",
        discussion: "Lists every problem (not just the first), each naming the file, the job and the key; exits 1 if there is any.")

    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    func run() throws {
        let path = ConfigLoader.resolvePath(config)
        do {
            let c = try ConfigLoader().load(path: path)
            print(ScheduleReport.jobTable(c, now: Int64(Date().timeIntervalSince1970)), terminator: "")
            print("\(path): OK, \(c.jobs.count) job(s), \(c.backends.count) backend(s), queues: \(c.queues.joined(separator: ", "))")
        } catch let e as ConfigError {
            throw fail("\(e)\n\(path): \(e.issues.count) problem(s)")
        }
    }
}
