import ArgumentParser
import CronqAMQP
import CronqCore
import Foundation

/// `--config` for every subcommand that reads the configuration.
struct ConfigOption: ParsableArguments {
    @Option(help: "Configuration file (default: $CRONQ_CONFIG, else ./cronq.toml).")
    var config: String?

    /// Loads it, or exits 1 with every problem listed. Secrets are not needed by the ops commands.
    func load() throws -> CronqConfig {
        let path = ConfigLoader.resolvePath(config)
        do {
            return try ConfigLoader(allowMissingVariables: true).load(path: path)
        } catch let e as ConfigError {
            throw fail("\(e)")
        }
    }
}

extension ConfigOption {
    /// For the commands that publish job messages (`trigger`, `dead replay`): the config, with the
    /// message key it names actually available, since an unsigned message would be refused by workers.
    func loadForPublishing() throws -> CronqConfig {
        let config = try load()
        if config.amqp.messageKeyMissing {
            throw fail(
                "\(config.path): amqp.message_key is set but its variable or file is missing: job messages must be signed"
            )
        }
        return config
    }
}

/// Connects for an ops command; an unreachable broker is exit 1 with why.
func connect(_ config: CronqConfig, _ what: String) throws -> AMQPConnection {
    do {
        return try AMQPConnection.connect(
            BrokerEndpoints(strings: config.amqp.endpoints), name: "cronq/\(getpid()) \(what)")
    } catch {
        throw fail("cronq \(what): broker unreachable: \(error)")
    }
}

/// The instant `90s`, `1h`, `7d` back from now (for `--since`, `--older-than`).
func instantAgo(_ text: String?, now: Int64, flag: String) throws -> Int64? {
    guard let text else { return nil }
    guard let d = DurationText.parse(text) else {
        throw ValidationError("\(flag) '\(text)' is not a duration (e.g. 30m, 2h, 7d)")
    }
    return now - d.totalSeconds
}

var isTerminal: Bool { isatty(STDOUT_FILENO) != 0 }
