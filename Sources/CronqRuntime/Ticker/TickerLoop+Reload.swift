import CSystemMemory
import CronqAMQP
import CronqCore
import Logging

/// SIGHUP: the configuration file read again and swapped in whole, or not at all.
extension TickerLoop {
    func reload() {
        guard let path = configPath else { return }
        do {
            // All or nothing: read the file and apply its topology; only then swap. A step that fails
            // leaves the running configuration, names and planner as they were.
            let new = try loader.load(path: path)
            if new.amqp.messageKeyMissing { throw ConfigError(issues: [.missingMessageKey(path)]) }
            let old = Set(config.jobs.map(\.name))
            let now = Set(new.jobs.map(\.name))
            if let link {
                try TopologyDeclarer(connection: link.connection).apply(Topology(config: new), verifyWhenRefused: true)
            }
            state.reload(new, nowMs: nowMs())
            broker.reload(endpoints: new.amqp.endpoints)
            names = Topology.Names(prefix: new.amqp.prefix)
            // The first `overlap = "skip"` job needs the ends of runs now, not at the next leadership change.
            if state.isLeading {
                try link?.consumeLeaderQueues(
                    names: names, completions: state.needsCompletions, outcomes: state.needsOutcomes)
            }
            cronq_release_free_memory()
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "added": "\(now.subtracting(old).sorted().joined(separator: ","))",
                    "removed": "\(old.subtracting(now).sorted().joined(separator: ","))", "jobs": "\(new.jobs.count)",
                ])
        } catch let e as ConfigError {
            logger.error(
                "configuration reload rejected; keeping the running configuration",
                metadata: ["errors": "\(e.issues.map(\.description).joined(separator: "; "))"])
        } catch {
            logger.error("configuration reload failed", metadata: ["error": "\(error)"])
        }
    }
}
