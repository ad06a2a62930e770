import CronqCore

/// The issue lines a config load reports, each as printed (empty when it loads), for tables of bad input.
func configIssues(_ load: () throws -> CronqConfig) -> [String] {
    do {
        _ = try load()
        return []
    } catch let e as ConfigError {
        return e.issues.map(\.description)
    } catch {
        return ["unexpected \(error)"]
    }
}
