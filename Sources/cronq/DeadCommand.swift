import ArgumentParser
import CronqAMQP
import CronqCore
import CronqRuntime
import Foundation

struct DeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List, show, replay and purge dead letters.",
        discussion:
            "Messages are taken unacknowledged: whatever a command does not act on stays in the queue, in order.",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct Filters: ParsableArguments {
        @Option(help: "Only this job.")
        var job: String?

        @Option(help: "Only this reason (http_404, exhausted, malformed, broker_delivery_limit, …).")
        var reason: String?

        func filter(ids: [String] = [], since: Int64? = nil, before: Int64? = nil) -> DeadLetters.Filter {
            DeadLetters.Filter(job: job, reason: reason, ids: Set(ids), deadSince: since, deadBefore: before)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per dead letter: id, job, reason, status, attempts, dead-at, error.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Option(help: "Only those dead for at most this long, e.g. 24h.")
        var since: String?
        @Option(help: "At most N lines.")
        var limit: Int?
        @Flag(help: "One JSON object per line.")
        var json = false

        func validate() throws {
            // Bad input is a usage error before anything connects.
            _ = try instantAgo(since, now: 0, flag: "--since")
            if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let config = try options.load()
            let c = try connect(config, "dead list")
            defer { c.close() }
            let entries: [DeadLetters.Entry]
            do {
                entries = try DeadLetters(connection: c, names: .init(prefix: config.amqp.prefix))
                    .list(
                        filters.filter(
                            since: try instantAgo(since, now: Int64(Date().timeIntervalSince1970), flag: "--since")),
                        limit: limit ?? Int.max)
            } catch let e as ValidationError { throw e } catch { throw fail("cronq dead list: \(error)") }
            if json {
                for e in entries {
                    let obj: [String: Any] = [
                        "message_id": e.messageID, "job": e.job, "reason": e.reason, "status": e.status,
                        "attempts": e.attempts,
                        "dead_at": e.deadAt.map(Timestamp.iso) ?? "", "error": e.error, "queue": e.queue,
                        "backend": e.backend ?? "", "method": e.method ?? "", "path": e.path ?? "",
                    ]
                    print(
                        String(
                            decoding: try JSONSerialization.data(
                                withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                }
                return
            }
            var rows = [["MESSAGE_ID", "JOB", "REASON", "STATUS", "ATTEMPTS", "DEAD_AT", "REQUEST", "ERROR"]]
            for e in entries {
                rows.append(
                    [
                        e.messageID, e.job, e.reason, e.status == 0 ? "-" : "\(e.status)", "\(e.attempts)",
                        e.deadAt.map(Timestamp.iso) ?? "-",
                        requestLine(e), String(e.error.prefix(60)),
                    ].map(Printable.escaped))
            }
            print(TextTable.render(rows), terminator: "")
            print("\(entries.count) dead letter(s)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The whole dead letter: properties, headers and body.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The message id (as `cronq dead list` shows it).")
        var messageID: String

        func run() throws {
            let config = try options.load()
            let c = try connect(config, "dead show")
            defer { c.close() }
            guard
                let e = try DeadLetters(connection: c, names: .init(prefix: config.amqp.prefix)).list(
                    .init(ids: [messageID]), limit: 1
                ).first
            else {
                throw fail("cronq dead show: no dead letter with id \(messageID)")
            }
            let p = e.message.properties
            // Everything below came from whoever published the message: escaped, so that it cannot
            // move the cursor, clear the screen or forge lines.
            let x = Printable.escaped
            print("message_id:   \(x(e.messageID))")
            print("routing_key:  \(x(e.routingKey))")
            print("request:      \(x(requestLine(e)))   (what a replay makes a worker send, with that backend's token)")
            print(
                "app_id:       \(x(p.appID ?? "-"))    type: \(x(p.type ?? "-"))    content_type: \(x(p.contentType ?? "-"))"
            )
            print("headers:")
            for entry in (p.headers ?? AMQPTable()).entries { print("  \(x(entry.key)): \(x(describe(entry.value)))") }
            if p.headersTooDeep {
                print(
                    "  (headers nested deeper than \(AMQPProperties.maximumHeaderDepth) levels: the deeper values are not shown)"
                )
            }
            print("body:")
            print(x(String(decoding: e.message.body, as: UTF8.self)))
        }

        func describe(_ v: AMQPFieldValue) -> String {
            if let s = v.stringValue { return s }
            if let i = v.intValue { return "\(i)" }
            return "\(v)"
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish selected dead letters back to cronq.jobs (attempt 1, cronq-replayed + 1, x-* stripped).",
            discussion:
                "Each dead letter is acked only after its replay is confirmed. Ctrl-C stops after the current message; the rest stay dead."
        )
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Option(name: .customLong("id"), help: "Only these message ids (repeatable).")
        var ids: [String] = []
        @Option(help: "At most N messages.")
        var limit: Int?
        @Option(help: "At most N messages per second.")
        var rate: Double?
        @Option(help: "Send to this work queue instead of the one each came from.")
        var toQueue: String?
        @Flag(help: "Show what would be replayed (backend, method, path of each); change nothing.")
        var dryRun = false
        @Flag(
            help:
                "With [amqp] message_key: also replay dead letters that are not signed with it, signing them (check them with `cronq dead show` first)."
        )
        var signUnsigned = false

        func validate() throws {
            if let r = rate, r <= 0 { throw ValidationError("--rate must be positive") }
            if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let config = try options.loadForPublishing()
            let c = try connect(config, "dead replay")
            defer { c.close() }
            let interrupt = StopSignals(secondSignalExitCode: 130)
            let tty = isatty(STDERR_FILENO) != 0
            do {
                let s = try DeadLetters(connection: c, names: .init(prefix: config.amqp.prefix)).replay(
                    filters.filter(ids: ids), limit: limit ?? Int.max, rate: rate, toQueue: toQueue, dryRun: dryRun,
                    messageKey: config.amqp.messageKey, signUnsigned: signUnsigned,
                    each: { e, willReplay in
                        if dryRun {
                            print(
                                Printable.escaped(
                                    "\(e.messageID)  \(requestLine(e))\(willReplay ? "" : "  (not signed: stays dead)")"
                                ))
                        }
                    },
                    progress: { s in
                        if tty || s.matched % 100 == 0 {
                            FileHandleOutput.stderrRaw(
                                "\(tty ? "\r" : "")\(dryRun ? "would replay" : "replayed") \(dryRun ? s.matched : s.replayed), failed \(s.failed)\(tty ? "" : "\n")"
                            )
                        }
                    },
                    shouldStop: { interrupt.isRaised })
                if tty { FileHandleOutput.stderrRaw("\n") }
                let unsigned =
                    s.unsigned > 0
                    ? ", \(s.unsigned) not signed with message_key (left dead; --sign-unsigned to replay them)" : ""
                print(
                    dryRun
                        ? "dry run: \(s.matched - s.unsigned) would be replayed, \(s.skipped) skipped (not matching)\(unsigned)"
                        : "replayed \(s.replayed), skipped \(s.skipped), failed \(s.failed)\(unsigned)\(interrupt.isRaised ? " (interrupted)" : "")"
                )
                if s.failed > 0 || s.unsigned > 0 && !dryRun { throw ExitCode(1) }
            } catch let e as ExitCode { throw e } catch { throw fail("cronq dead replay: \(error)") }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete selected dead letters (asks on a terminal unless --yes).")
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Option(help: "Only those dead for longer than this, e.g. 7d.")
        var olderThan: String?
        @Flag(help: "Do not ask.")
        var yes = false

        func run() throws {
            let config = try options.load()
            let before = try instantAgo(olderThan, now: Int64(Date().timeIntervalSince1970), flag: "--older-than")
            let filter = filters.filter(before: before)
            let c = try connect(config, "dead purge")
            defer { c.close() }
            let dl = DeadLetters(connection: c, names: .init(prefix: config.amqp.prefix))
            if !yes {
                guard isatty(STDIN_FILENO) != 0 else {
                    throw fail("cronq dead purge: refusing without --yes when not on a terminal")
                }
                let n = try dl.list(filter).count
                FileHandleOutput.stderrRaw("delete \(n) dead letter(s) for good? [y/N] ")
                guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
                    print("nothing deleted"); return
                }
            }
            do {
                let s = try dl.purge(filter)
                print("purged \(s.purged), kept \(s.skipped)")
            } catch { throw fail("cronq dead purge: \(error)") }
        }
    }
}

/// `POST default /cron/x`: the request a dead letter stands for, or why it has none.
func requestLine(_ e: DeadLetters.Entry) -> String {
    guard let backend = e.backend, let method = e.method, let path = e.path else { return "(not a valid job message)" }
    return "\(method) \(backend) \(path)"
}
