import ArgumentParser
import CronqCore
import CronqRuntime
import CronqWeb
import Foundation
import Logging

struct WebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the dashboard: jobs, history, queues, dead letters, live tail, workers.",
        discussion: """
            Every page and asset is served by this process (no CDN). With `[web] token` (or token_file) a browser
            logs in once; without one the dashboard listens on loopback only (a non-loopback --listen without a
            token is refused, exit 1). --read-only (or `[web] read_only = true`) removes every action: run now,
            pause, resume, replay, purge. Serve it over TLS through a reverse proxy (README, "Dashboard").
            Logs go to stderr, one line per event. SIGINT/SIGTERM stop it gracefully.
            """)

    @OptionGroup var options: ConfigOption

    @Option(help: "host:port to listen on (default: [web] listen, else 127.0.0.1:8080).")
    var listen: String?

    @Flag(help: "No actions: pages only.")
    var readOnly = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        if let l = listen, WebListen.parse(l) == nil {
            throw ValidationError("--listen '\(l)' is not host:port (e.g. 127.0.0.1:8080)")
        }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level '\(logLevel)' is not a level") }
    }

    func run() async throws {
        let config = try options.load()
        let address = WebListen.parse(listen ?? config.web.listen)!
        if !address.isLoopback && config.web.token == nil {
            throw fail(
                "cronq web: --listen \(address.host):\(address.port) is not loopback and [web] token is not set: anyone who reaches it could replay and purge dead letters. Set [web] token (or token_file), or listen on 127.0.0.1."
            )
        }
        let level = Logger.Level(rawValue: logLevel)!
        let logger = Logger(label: "cronq-web") { LogfmtHandler(label: $0, level: level, format: .logfmt) }
        let dashboard = try Dashboard(config: config, readOnly: readOnly, logger: logger)
        do {
            try await dashboard.run(listen: address)
        } catch {
            throw fail("cronq web: \(error)")
        }
    }
}
