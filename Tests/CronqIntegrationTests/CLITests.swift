import CronqTestSupport
import Foundation
import Testing

/// The `cronq` executable as operators and scripts use it: output contracts and exit codes.
@Suite("cronq CLI")
struct CLITests {
    @Test("next: the output contract of DESIGN.md")
    func next() throws {
        let r = try runCommand("cronq", ["next", "*/5 * * * *", "--from", "2026-11-28T10:05:00Z", "--count", "3"])
        #expect(r.status == 0)
        #expect(r.stdout == "2026-11-28T10:10:00Z\n2026-11-28T10:15:00Z\n2026-11-28T10:20:00Z\n")
        let london = try runCommand(
            "cronq", ["next", "30 1 * * *", "--tz", "Europe/London", "--from", "2026-10-24T12:00:00Z", "--count", "1"])
        #expect(london.stdout == "2026-10-25T00:30:00Z\n")
    }

    @Test(
        "next: invalid input is a message on stderr and a non-zero exit",
        arguments: [
            (["next", "60 * * * *"], "minute: 60 is out of range 0-59"),
            (["next", "* * * * *", "--tz", "Nowhere/City"], "unknown time zone 'Nowhere/City'"),
            (["next", "* * * * *", "--from", "yesterday"], "--from 'yesterday' is not an ISO 8601 instant"),
        ])
    func nextErrors(args: [String], message: String) throws {
        let r = try runCommand("cronq", args)
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"), "no stack traces")
    }

    @Test(
        "usage errors exit 64",
        arguments: [
            ["next"], ["next", "* * * * *", "--count", "0"], ["frobnicate"], ["next", "* * * * *", "--bogus"],
        ])
    func usage(args: [String]) throws {
        let r = try runCommand("cronq", args)
        #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
    }

    @Test("validate: a good config prints the jobs; a bad one lists every problem and exits 1")
    func validate() throws {
        let good = try runCommand(
            "cronq", ["validate", "--config", Repo.root + "/cronq.example.toml"], environment: ["ERIFY_CRON_TOKEN": "x"]
        )
        #expect(good.status == 0)
        for job in ["every5min", "partiesEC", "checkCurrent", "mopDelta25"] { #expect(good.stdout.contains(job)) }
        #expect(good.stdout.contains("OK, 4 job(s)"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("cronq.toml").path
        try """
        [backends.default]
        base_url = "http://x"
        token = "t"
        [[jobs]]
        name = "a"
        schedule = "61 * * * *"
        path = "/x"
        [[jobs]]
        name = "b"
        schedule = "* * * * *"
        path = "y"
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", ["validate"], environment: ["CRONQ_CONFIG": bad])
        #expect(r.status == 1)
        #expect(r.stderr.contains("job 'a': schedule: '61 * * * *': minute: 61 is out of range 0-59"))
        #expect(r.stderr.contains("job 'b': path: 'y' must start with /"))
        #expect(r.stderr.contains("2 problem(s)"))

        let missing = try runCommand("cronq", ["validate", "--config", dir.appendingPathComponent("nope.toml").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read the file: No such file or directory"))
    }

    @Test("topology export prints the committed definitions file")
    func export() throws {
        let r = try runCommand("cronq", ["topology", "export", "--config", Repo.root + "/cronq.example.toml"])
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: Repo.root + "/topology/definitions.json", encoding: .utf8)))
    }

    @Test("topology apply against an unreachable broker exits 1 with the reason, not a hang")
    func applyUnreachable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.toml").path
        try "[amqp]\nurl = \"amqp://u:secretpw@127.0.0.1:1/%2F?connection_timeout=2000\"\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", ["topology", "apply", "--config", path], timeout: 20)
        #expect(r.status == 1)
        #expect(r.stderr.contains("could not connect to the broker"), "\(r.stderr)")
        #expect(!r.stderr.contains("secretpw"))
    }

    /// Bad input to every subcommand and both services: a clear message, exit 64 (usage) or 1 (the
    /// config or the broker), never a stack trace or a hang. The config names an unreachable broker.
    @Test(
        "invalid input to every subcommand: exit 64 or 1, a message, no stack trace",
        arguments: [
            (["trigger"], 64, "Missing expected argument '<job>'"),
            (["trigger", "nope", "--config", "@"], 1, "no job 'nope' in the config"),
            (
                ["trigger", "a", "--wait", "--timeout", "banana", "--config", "@"], 64,
                "--timeout 'banana' is not a duration"
            ),
            (["trigger", "a", "--config", "@"], 1, "broker unreachable"),
            (["status", "--config", "@"], 1, "broker unreachable"),
            (["status", "--watch", "0", "--config", "@"], 64, "--watch must be at least 1 second"),
            (["status", "--max-dead", "many", "--config", "@"], 64, "'many' is invalid for '--max-dead"),
            (["dead", "list", "--limit", "x", "--config", "@"], 64, "'x' is invalid for '--limit"),
            (["dead", "list", "--since", "5parsecs", "--config", "@"], 64, "--since '5parsecs' is not a duration"),
            (["dead", "list", "--config", "@"], 1, "broker unreachable"),
            (["dead", "show"], 64, "Missing expected argument '<message-id>'"),
            (["dead", "show", "x@y", "--config", "@"], 1, "broker unreachable"),
            (["dead", "replay", "--rate", "0", "--config", "@"], 64, "--rate must be positive"),
            (["dead", "replay", "--config", "@"], 1, "broker unreachable"),
            (["dead", "purge", "--config", "@"], 1, "broker unreachable"),
            (["tail", "--format", "xml", "--config", "@"], 64, "--format must be pretty or json"),
            (["tail", "--config", "@"], 1, "broker unreachable"),
            (["topology", "apply", "--config", "/nonexistent/cronq.toml"], 1, "cannot read the file"),
            (["topology", "export", "--config", "/nonexistent/cronq.toml"], 1, "cannot read the file"),
            (["validate", "--bogus"], 64, "Unknown option '--bogus'"),
            (["next", "* * * * *", "--count", "many"], 64, "'many' is invalid for '--count"),
        ])
    func badInput(args: [String], status: Int32, message: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("c.toml").path
        try """
        [amqp]
        url = "amqp://guest:guest@127.0.0.1:1/%2F?connection_timeout=1000"
        [backends.default]
        base_url = "http://127.0.0.1:9"
        token = "t"
        [[jobs]]
        name = "a"
        schedule = "@daily"
        path = "/x"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", args.map { $0 == "@" ? config : $0 }, timeout: 20)
        #expect(r.status == status, "\(args): exit \(r.status), \(r.stderr)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), "no stack traces")
    }

    @Test(
        "the services refuse bad flags and configs the same way",
        arguments: [
            ("cronq-worker", ["--concurrency", "0"], 64, "--concurrency must be 1-65535"),
            ("cronq-worker", ["--prefetch", "0"], 64, "--prefetch must be 1-65535"),
            (
                "cronq-worker", ["--concurrency", "8", "--prefetch", "4"], 64,
                "--prefetch (4) must be at least --concurrency (8)"
            ),
            ("cronq-worker", ["--grace", "x"], 64, "--grace 'x' is not a duration"),
            ("cronq-worker", ["--metrics-address", "nowhere"], 64, "is not HOST:PORT"),
            ("cronq-worker", ["--config", "/nonexistent/cronq.toml"], 1, "invalid configuration, not starting"),
            ("cronq-ticker", ["--config", "/nonexistent/cronq.toml"], 1, "invalid configuration, not starting"),
            ("cronq-ticker", ["--log-level", "loud"], 64, "--log-level must be one of"),
            ("cronq-ticker", ["--log-format", "xml"], 64, "--log-format must be logfmt or json"),
        ])
    func servicesBadInput(tool: String, args: [String], status: Int32, message: String) throws {
        let r = try runCommand(tool, args, timeout: 20)
        #expect(r.status == status, "\(tool) \(args): exit \(r.status), \(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test("validate warns about DST gaps and repeated hours; --strict makes them fatal")
    func dstLint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.toml").path
        try """
        [backends.default]
        base_url = "https://x.example"
        token = "t"
        [[jobs]]
        name = "nightly"
        schedule = "30 1 * * *"
        timezone = "Europe/London"
        path = "/b"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", ["validate", "--config", path])
        #expect(r.status == 0)
        #expect(
            r.stderr.contains("warning: job 'nightly':") && r.stderr.contains("does not exist (DST gap)")
                && r.stderr.contains("happens twice"), "\(r.stderr)")
        #expect(r.stdout.contains("2 warning(s)"))
        let strict = try runCommand("cronq", ["validate", "--strict", "--config", path])
        #expect(strict.status == 1 && strict.stderr.contains("2 warning(s), fatal with --strict"))
        let clean = try runCommand(
            "cronq", ["validate", "--strict", "--config", Repo.root + "/cronq.example.toml"],
            environment: ["ERIFY_CRON_TOKEN": "x"])
        #expect(clean.status == 0, "the example's jobs are UTC: \(clean.stderr)")
    }
}
