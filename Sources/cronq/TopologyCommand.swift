import ArgumentParser
import CronqCore
import CronqRuntime
import Foundation

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Declare or export cronq's exchanges and queues.",
        subcommands: [Apply.self, Export.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every exchange, queue and binding the config needs (idempotent).",
            discussion: "A queue that exists with other arguments is reported by name and argument; exit 1.")

        @OptionGroup var options: ConfigOption

        func run() throws {
            let c = try options.load()
            do {
                let report = try TopologyApply.run(config: c)
                print("applied: \(report.exchanges) exchanges, \(report.queues) queues, \(report.bindings) bindings")
                for w in report.warnings { FileHandleOutput.stderrRaw("warning: \(Printable.escaped(w))\n") }
            } catch {
                throw fail("cronq topology apply: \(error)")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the topology as a RabbitMQ definitions file (import_definitions / load_definitions).",
            discussion: "Needs no broker and no secrets: unset ${VARS} in the config expand to empty strings here.")

        @OptionGroup var options: ConfigOption

        @Option(help: "The vhost to put in the definitions.")
        var vhost = "/"

        func run() throws {
            print(Topology(config: try options.load()).definitionsJSON(vhost: vhost), terminator: "")
        }
    }
}
