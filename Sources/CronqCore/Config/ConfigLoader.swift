#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Reads `cronq.toml`: parses TOML, expands `${VAR}`/`${VAR:-default}` in string values, applies
/// defaults, and validates everything, collecting *every* problem before failing.
public struct ConfigLoader: Sendable {
    public var environment: [String: String]
    /// When true, an unset `${VAR}` expands to an empty string and an unreadable `token_file` or
    /// `signing_secret_file` leaves the secret empty, instead of failing: for the parts that need the
    /// schedule and topology but never a secret (the ticker, `cronq topology`, the ops commands).
    public var allowMissingVariables: Bool
    /// How a job's `timezone` is checked.
    public var zones: ZoneCheck

    /// Whether a zone name is looked up in the zone database or only checked for its form.
    public enum ZoneCheck: Sendable {
        /// The name must be in the IANA database (``ZoneRules/named(_:)``). The program must link
        /// `FoundationInternationalization` (or `Foundation`), which brings the database.
        case database
        /// Only the form of a name (`Area/Location`, ASCII letters, digits, `/_+-`): for the worker,
        /// which evaluates no schedule and so does not load the database (docs/decisions.md, "The
        /// worker without Foundation"). The ticker and `cronq validate` still refuse an unknown zone.
        case form
    }

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, allowMissingVariables: Bool = false,
        zones: ZoneCheck = .database
    ) {
        self.environment = environment
        self.allowMissingVariables = allowMissingVariables
        self.zones = zones
    }

    /// The file to use: `--config`, else `$CRONQ_CONFIG`, else `./cronq.toml`.
    public static func resolvePath(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        flag ?? environment["CRONQ_CONFIG"] ?? "cronq.toml"
    }

    /// - Throws: ``ConfigError`` listing every issue found.
    public func load(path: String) throws -> CronqConfig {
        let text: String
        do {
            text = try TextFile.contents(of: path)
        } catch {
            throw ConfigError(issues: [
                .init(file: path, job: nil, key: "(file)", message: "cannot read the file: \(error.reason)")
            ])
        }
        return try parse(text, path: path)
    }

    /// Parses configuration text; `path` only names the file in messages.
    public func parse(_ text: String, path: String) throws -> CronqConfig {
        let root: TOML.Table
        do {
            root = try TOML.parse(text)
        } catch {
            throw ConfigError(issues: [
                .init(
                    file: path, job: nil, key: "line \(error.line), column \(error.column)",
                    message: "TOML syntax: \(error.message)")
            ])
        }
        let issues = IssueCollector(file: path)
        let build = Builder(
            environment: environment, allowMissing: allowMissingVariables, zones: zones, issues: issues,
            warnings: IssueCollector(file: path))
        let config = build.config(root)
        if !issues.list.isEmpty { throw ConfigError(issues: issues.list) }
        var c = config
        c.path = path
        return c
    }
}

final class IssueCollector {
    let file: String
    var list: [ConfigError.Issue] = []
    init(file: String) { self.file = file }
    func add(_ job: String?, _ key: String, _ message: String) {
        list.append(.init(file: file, job: job, key: key, message: message))
    }
}

/// Reads one TOML table, remembering which keys were read so unknown ones (typos) are reported.
struct TableReader {
    let table: TOML.Table
    let prefix: String
    let job: String?
    let b: Builder

    func key(_ k: String) -> String { prefix.isEmpty ? k : "\(prefix).\(k)" }

    func finish(allowed: Set<String>) {
        for k in table.keys where !allowed.contains(k) {
            b.issues.add(job, key(k), "unknown key (known keys: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func has(_ k: String) -> Bool { table[k] != nil }

    func string(_ k: String) -> String? {
        guard let v = table[k] else { return nil }
        guard let s = v.string else {
            b.issues.add(job, key(k), "must be a string, got \(v.typeName)")
            return nil
        }
        return b.expand(s, job: job, key: key(k))
    }

    func int(_ k: String) -> Int? {
        guard let v = table[k] else { return nil }
        guard let i = v.int else {
            b.issues.add(job, key(k), "must be an integer, got \(v.typeName)")
            return nil
        }
        return i
    }

    func bool(_ k: String) -> Bool? {
        guard let v = table[k] else { return nil }
        guard let x = v.bool else {
            b.issues.add(job, key(k), "must be true or false, got \(v.typeName)")
            return nil
        }
        return x
    }

    func duration(_ k: String, allowZero: Bool = false) -> Duration? {
        guard let s = string(k) else { return nil }
        guard let d = DurationText.parse(s) else {
            b.issues.add(job, key(k), "'\(s)' is not a duration (write e.g. 500ms, 90s, 5m, 2h, 1d)")
            return nil
        }
        if d <= .zero && !(allowZero && d == .zero) {
            b.issues.add(job, key(k), "must be positive, got '\(s)'")
            return nil
        }
        return d
    }

    func table(_ k: String) -> TableReader? {
        guard let v = table[k] else { return nil }
        guard let t = v.table else {
            b.issues.add(job, key(k), "must be a table, got \(v.typeName)")
            return nil
        }
        return TableReader(table: t, prefix: key(k), job: job, b: b)
    }

    func stringArray(_ k: String) -> [String]? {
        guard let v = table[k] else { return nil }
        guard let a = v.array else {
            b.issues.add(job, key(k), "must be an array of strings, got \(v.typeName)")
            return nil
        }
        var out: [String] = []
        for (i, item) in a.enumerated() {
            guard let s = item.string else {
                b.issues.add(job, "\(key(k))[\(i)]", "must be a string, got \(item.typeName)")
                return nil
            }
            out.append(b.expand(s, job: job, key: "\(key(k))[\(i)]") ?? s)
        }
        return out
    }
}
