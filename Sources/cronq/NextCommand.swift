import ArgumentParser
import CronqCore
import CronqRuntime
import Foundation

struct NextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next",
        abstract: "Print the next fire instants of a cron expression.",
        discussion: """
            One instant a line, UTC, YYYY-MM-DDTHH:MM:SSZ, strictly after --from.
            Examples:
              cronq next '*/5 * * * *' --count 3
              cronq next '30 1 * * *' --tz Europe/London --from 2026-03-28T12:00:00Z --local
            """)

    @Argument(help: "The expression: 5 fields, 6 with a leading second, or a @macro (quote it).")
    var expression: String

    @Option(name: .customLong("tz"), help: "IANA time zone the expression is evaluated in.")
    var timeZone = "UTC"

    @Option(help: "Start instant, ISO 8601 (default: now).")
    var from: String?

    @Option(help: "How many instants to print (1-10000).")
    var count = 5

    @Flag(help: "Also print the local time in --tz beside each instant.")
    var local = false

    func validate() throws {
        guard (1...10_000).contains(count) else { throw ValidationError("--count must be 1-10000") }
    }

    func run() throws {
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(expression, timeZone: timeZone)
        } catch let e as CronError {
            throw fail("cronq next: invalid expression '\(expression)': \(e)")
        }
        var start = Int64(Date().timeIntervalSince1970.rounded(.down))
        if let from {
            guard let t = Timestamp.parse(from) else {
                throw fail("cronq next: --from '\(from)' is not an ISO 8601 instant (e.g. 2026-11-28T10:05:00Z)")
            }
            start = t
        }
        let fires = ScheduleReport.fires(schedule, after: start, count: count)
        if fires.isEmpty { throw fail("cronq next: '\(expression)' never fires after \(Timestamp.iso(start))") }
        for f in fires {
            print(
                local
                    ? "\(Timestamp.iso(f))  \(ScheduleReport.localTime(f, zone: schedule.zone.timeZone))"
                    : Timestamp.iso(f))
        }
    }
}
