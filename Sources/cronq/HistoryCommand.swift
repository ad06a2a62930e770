import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "What ran, when and how it ended: one line per run, newest first, from the history stream.",
        discussion: """
            Reads <prefix>.history (every fired, succeeded, retrying, dead and skipped event, kept for
            [history] max_age) from a point in time, without taking anything from it. A run is one message
            id: its outcome is `succeeded` once any attempt succeeded, else `dead`, else the latest state.
            """)

    @OptionGroup var options: ConfigOption

    @Argument(help: "Only this job's runs.")
    var job: String?

    @Option(help: "How far back, e.g. 30m, 24h, 7d.")
    var since = "24h"

    @Option(help: "At most N runs.")
    var limit = 50

    @Flag(help: "One JSON object per run.")
    var json = false

    func validate() throws {
        _ = try instantAgo(since, now: 0, flag: "--since")
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let config = try options.load()
        let now = Int64(Date().timeIntervalSince1970)
        let start = try instantAgo(since, now: now, flag: "--since") ?? now
        let c = try connect(config, "history")
        defer { c.close() }
        let names = Topology.Names(prefix: config.amqp.prefix)
        let runs: [History.Run]
        do {
            runs = Array(
                History.runs(try History.events(connection: c, names: names, since: start, job: job, now: now)).prefix(
                    limit))
        } catch let e as AMQPError where e.replyCode == 404 {
            throw fail("cronq history: no stream \(names.historyStream) on the broker: run `cronq topology apply`")
        } catch {
            throw fail("cronq history: \(error)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for r in runs { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
            return
        }
        print(History.table(runs), terminator: "")
        print("\(runs.count) run(s) since \(Timestamp.iso(start))\(job.map { " for \($0)" } ?? "")")
    }
}
