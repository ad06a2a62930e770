import ArgumentParser

@main
struct Cronq: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cronq",
        abstract: "Operate cronq: a cron scheduler on RabbitMQ.",
        discussion: """
            Configuration comes from --config, else $CRONQ_CONFIG, else ./cronq.toml.
            Exit codes: 0 success, 1 failure (invalid input, broker unreachable), 2 alert threshold crossed,
            64 usage error.
            """,
        subcommands: [
            NextCommand.self, ValidateCommand.self, TopologyCommand.self, TriggerCommand.self, StatusCommand.self,
            DeadCommand.self,
            TailCommand.self, HistoryCommand.self, PauseCommand.self, ResumeCommand.self, WebCommand.self,
        ])
}

/// Prints a message to stderr and exits 1: the error exit for bad input and environment failures.
func fail(_ message: String) -> ExitCode {
    FileHandleOutput.stderr(message)
    return ExitCode(1)
}
