import Foundation
import Testing

@testable import CronqCore

@Suite("Configuration")
struct ConfigTests {
    static let minimal = """
        [backends.default]
        base_url = "https://app.example.com/"
        token = "${TOKEN}"

        [[jobs]]
        name = "every5min"
        schedule = "*/5 * * * *"
        path = "/cron/ee-recent"
        """

    func load(_ text: String, env: [String: String] = ["TOKEN": "t0k3n"]) throws -> CronqConfig {
        try ConfigLoader(environment: env).parse(text, path: "cronq.toml")
    }

    func issues(_ text: String, env: [String: String] = ["TOKEN": "t0k3n"]) -> [String] {
        configIssues { try load(text, env: env) }
    }

    @Test("defaults")
    func defaults() throws {
        let c = try load(Self.minimal)
        #expect(c.amqp.url == "amqp://guest:guest@127.0.0.1:5672/%2F")
        #expect(c.amqp.prefix == "cronq")
        let b = try #require(c.backends["default"])
        #expect(b.baseURL == "https://app.example.com")
        #expect(b.token.reveal() == "t0k3n")
        #expect(b.timeout == .seconds(30))
        let j = c.jobs[0]
        #expect(j.method == "POST" && j.queue == "default" && j.timezone == "UTC" && j.backend == "default")
        #expect(j.catchUp == .latest && j.enabled && j.jitter == .zero)
        #expect(
            j.retry
                == RetryPolicy(
                    maxAttempts: 5, backoff: [.seconds(10), .seconds(60), .seconds(300), .seconds(1800)],
                    maxDuration: .seconds(21600)))
        #expect(c.ticker.catchUpWindow == .seconds(3600))
        #expect(c.worker.concurrency == 32)
    }

    @Test("[web]: loopback and no token by default; a token, listen, read_only, session; bad values named")
    func web() throws {
        let d = try load(Self.minimal).web
        #expect(d.token == nil && d.listen == "127.0.0.1:8080" && !d.readOnly && d.sessionLifetime == .seconds(43200))
        let w = try load(
            Self.minimal
                + "\n[web]\ntoken = \"${WEB}\"\nlisten = \"0.0.0.0:9000\"\nread_only = true\nsession = \"8h\"\n",
            env: ["TOKEN": "t", "WEB": "sixteen-bytes-or-more"]
        ).web
        #expect(w.token?.reveal() == "sixteen-bytes-or-more" && w.listen == "0.0.0.0:9000" && w.readOnly)
        #expect(w.sessionLifetime == .seconds(8 * 3600))
        // An empty token_file (an unset `${VAR:-}` in a config the services share) means no token.
        #expect(try load(Self.minimal + "\n[web]\ntoken_file = \"${NONE:-}\"\n").web.token == nil)
        let bad = issues(
            Self.minimal + "\n[web]\ntoken = \"short\"\nlisten = \"8080\"\nsession = \"5s\"\ncolour = \"blue\"\n")
        #expect(bad.contains { $0.contains("web.token: is shorter than 16 bytes") }, "\(bad)")
        #expect(bad.contains { $0.contains("web.listen: '8080' is not host:port") })
        #expect(bad.contains { $0.contains("web.session: must be at least 1m") })
        #expect(bad.contains { $0.hasPrefix("cronq.toml: web.colour: unknown key") })
        #expect(WebListen.parse("127.0.0.1:8080")?.isLoopback == true)
        #expect(WebListen.parse("[::1]:8080")?.isLoopback == true)
        #expect(WebListen.parse("localhost:0")?.isLoopback == true)
        #expect(WebListen.parse("0.0.0.0:8080")?.isLoopback == false)
        #expect(WebListen.parse("10.0.0.5:80")?.isLoopback == false)
        #expect(WebListen.parse("host:99999") == nil && WebListen.parse(":80") == nil)
    }

    @Test("backend limits: max_in_flight, rate with burst, breaker with defaults; bad values named")
    func backendLimits() throws {
        #expect(try load(Self.minimal).backends["default"]?.limits.isEmpty == true, "no limits unless asked")
        let text = Self.minimal.replacingOccurrences(
            of: "token = \"${TOKEN}\"",
            with: "token = \"${TOKEN}\"\nmax_in_flight = 2\nrate = \"600/m\"\nburst = 5\nbreaker = {}")
        let l = try #require(try load(text).backends["default"]?.limits)
        #expect(l.maxInFlight == 2)
        #expect(l.rate == BackendLimits.Rate(count: 600, period: .seconds(60), burst: 5))
        #expect(l.breaker == BackendLimits.Breaker(failures: 5, coolDown: .seconds(30)))
        let bad = issues(
            Self.minimal.replacingOccurrences(
                of: "token = \"${TOKEN}\"",
                with:
                    "token = \"${TOKEN}\"\nmax_in_flight = 0\nrate = \"fast\"\nburst = 0\nbreaker = { failures = 0, cool_down = \"soon\", after = 1 }"
            ))
        #expect(
            bad.contains("cronq.toml: backends.default.max_in_flight: must be between 1 and 10000, got 0"), "\(bad)")
        #expect(bad.contains { $0.contains("backends.default.rate: 'fast' is not a rate") })
        #expect(bad.contains("cronq.toml: backends.default.burst: must be between 1 and 10000, got 0"))
        #expect(bad.contains("cronq.toml: backends.default.breaker.failures: must be 1 or more, got 0"))
        #expect(bad.contains { $0.contains("backends.default.breaker.cool_down: 'soon' is not a duration") })
        #expect(bad.contains { $0.hasPrefix("cronq.toml: backends.default.breaker.after: unknown key") })
        let burstAlone = issues(
            Self.minimal.replacingOccurrences(of: "token = \"${TOKEN}\"", with: "token = \"${TOKEN}\"\nburst = 3"))
        #expect(burstAlone.contains { $0.contains("backends.default.burst: only means something with a rate") })
    }

    @Test("history retention and alert_after: defaults, values, and bad values named")
    func historyAndAlerts() throws {
        let d = try load(Self.minimal)
        #expect(d.history.maxAge == .seconds(7 * 86_400) && d.history.maxLengthBytes == 1 << 30)
        #expect(d.jobs[0].alertAfter == nil)
        let c = try load(
            "[history]\nmax_age = \"2d\"\nmax_length_bytes = 5000000\n" + Self.minimal + "\nalert_after = \"30m\"\n")
        #expect(c.history.maxAge == .seconds(2 * 86_400) && c.history.maxLengthBytes == 5_000_000)
        #expect(c.jobs[0].alertAfter == .seconds(1800))
        let bad = issues(
            "[history]\nmax_age = \"10s\"\nmax_length_bytes = 10\nkeep = 1\n" + Self.minimal
                + "\nalert_after = \"soon\"\n")
        #expect(bad.contains("cronq.toml: history.max_age: must be at least 1m"))
        #expect(bad.contains("cronq.toml: history.max_length_bytes: must be at least 1048576 (1 MiB)"))
        #expect(bad.contains { $0.hasPrefix("cronq.toml: history.keep: unknown key") })
        #expect(bad.contains { $0.contains("job 'every5min': alert_after: 'soon' is not a duration") }, "\(bad)")
    }

    @Test("overlap: allow by default, skip and serial; serial jobs get their own queue; the prefix is reserved")
    func overlap() throws {
        let c = try load(
            Self.minimal
                + "\noverlap = \"serial\"\ntimeout = \"10s\"\nretry = { max_attempts = 3, backoff = [\"1m\", \"5m\"] }\n"
        )
        #expect(c.jobs[0].overlap == .serial && c.jobs[0].routingQueue == "serial.every5min")
        #expect(c.queues == ["serial.every5min"])
        #expect(
            c.jobs[0].worstCaseRun == .seconds(3 * 10 + 60 + 300 + 60),
            "3 timeouts, the 1m and 5m backoffs, and a minute's margin")
        #expect(try load(Self.minimal).jobs[0].overlap == .allow)
        let bad = issues(Self.minimal + "\noverlap = \"sometimes\"\nqueue = \"serial.x\"\n")
        #expect(bad.contains("cronq.toml: job 'every5min': overlap: 'sometimes' must be allow, skip or serial"))
        #expect(bad.contains { $0.contains("queue: 'serial.x': names starting with 'serial.' are reserved") }, "\(bad)")
    }

    @Test("the example config carries the template's four jobs")
    func example() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cronq.example.toml").path
        let c = try ConfigLoader(environment: ["ERIFY_CRON_TOKEN": "x"]).load(path: path)
        #expect(c.jobs.map(\.name) == ["every5min", "partiesEC", "checkCurrent", "mopDelta25"])
        #expect(c.jobs.map(\.schedule.source) == ["*/5 * * * *", "6 2 * * *", "23 23 * * *", "33 23 * * *"])
        #expect(
            c.jobs.map(\.path) == [
                "/cron/ee-recent", "/cron/parties-import", "/cron/check-current", "/cron/mop-recent?delta=25",
            ])
        #expect(c.backends["default"]?.baseURL == "http://127.0.0.1:8000")
    }

    @Test("job overrides, retry overrides, every key")
    func overrides() throws {
        let c = try load(
            Self.minimal + """

                [[jobs]]
                name = "nightly_import"
                schedule = "0 30 1 * * *"
                timezone = "Europe/London"
                method = "put"
                path = "/cron/import?full=1"
                queue = "heavy"
                timeout = "2m"
                headers = { X-Source = "cronq" }
                body = '{"full":true}'
                retry = { max_attempts = 3, backoff = ["30s", "2m"], max_duration = "1h" }
                catch_up = "all"
                jitter = "15s"
                enabled = false
                """)
        let j = c.jobs[1]
        #expect(j.method == "PUT" && j.queue == "heavy" && j.timeout == .seconds(120) && j.timezone == "Europe/London")
        #expect(j.headers == ["X-Source": "cronq"] && j.body == #"{"full":true}"#)
        #expect(
            j.retry == RetryPolicy(maxAttempts: 3, backoff: [.seconds(30), .seconds(120)], maxDuration: .seconds(3600)))
        #expect(j.catchUp == .all && j.jitter == .seconds(15) && !j.enabled)
        #expect(c.queues == ["default"], "disabled jobs do not add queues")
        #expect(
            c.retryTiers == [.seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(1800)])
    }

    @Test("environment expansion: ${VAR}, ${VAR:-default}, $$, and a missing variable named")
    func expansion() throws {
        #expect(try EnvironmentExpansion.expand("a${X}b", environment: ["X": "1"]) == "a1b")
        #expect(try EnvironmentExpansion.expand("${Y:-amqp://h/%2F}", environment: [:]) == "amqp://h/%2F")
        #expect(try EnvironmentExpansion.expand("${Y:-d}", environment: ["Y": ""]) == "d")
        #expect(try EnvironmentExpansion.expand("$${X}", environment: ["X": "1"]) == "${X}")
        #expect(try EnvironmentExpansion.expand("cost $5", environment: [:]) == "cost $5")
        #expect(throws: EnvironmentExpansion.MissingVariable(name: "NOPE")) {
            try EnvironmentExpansion.expand("${NOPE}", environment: [:])
        }
        #expect(throws: EnvironmentExpansion.Malformed.self) {
            try EnvironmentExpansion.expand("${A", environment: [:])
        }
        #expect(
            issues(Self.minimal, env: [:]) == [
                "cronq.toml: backends.default.token: environment variable TOKEN is not set (set it, or write ${TOKEN:-default})"
            ])
    }

    @Test("token_file is read and trimmed; a missing file is named")
    func tokenFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("token").path
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        let text = Self.minimal.replacingOccurrences(of: #"token = "${TOKEN}""#, with: #"token_file = "\#(file)""#)
        #expect(try load(text).backends["default"]?.token.reveal() == "s3cret")
        let missing = Self.minimal.replacingOccurrences(
            of: #"token = "${TOKEN}""#, with: #"token_file = "/nonexistent/tok""#)
        #expect(
            issues(missing) == [
                "cronq.toml: backends.default.token_file: cannot read /nonexistent/tok: No such file or directory"
            ])
    }

    @Test("every validation error names the file, the job and the key, and all are listed at once")
    func validation() {
        let text = """
            [amqp]
            url = "http://nope"
            prefx = "typo"

            [backends.default]
            base_url = "ftp://x"
            token = "t"
            timeout = "soon"

            [retry]
            backoff = ["1m", "10s"]
            max_attempts = 0

            [[jobs]]
            name = "a"
            schedule = "60 * * * *"
            path = "cron/x"

            [[jobs]]
            name = "a"
            schedule = "* * * * *"
            path = "/x"
            timezone = "Mars/Base"
            backend = "other"
            catch_up = "sometimes"
            jitter = "-5s"
            scheduel = "typo"

            [[jobs]]
            name = "bad name!"
            schedule = "@daily"
            path = "//evil.example/x"
            method = "TRACE"
            headers = { Authorization = "Bearer x" }
            """
        let got = issues(text)
        let want = [
            "cronq.toml: amqp.url: must start with amqp:// or amqps://",
            "cronq.toml: amqp.prefx: unknown key (known keys: management_url, message_key, message_key_file, prefix, replicas, url, urls)",
            "cronq.toml: backends.default.base_url: 'ftp://x' must be an http:// or https:// URL without query or fragment",
            "cronq.toml: backends.default.timeout: 'soon' is not a duration (write e.g. 500ms, 90s, 5m, 2h, 1d)",
            "cronq.toml: retry.max_attempts: must be 1-1000, got 0",
            "cronq.toml: retry.backoff: tiers must increase (1m, 10s)",
            "cronq.toml: job 'a': schedule: '60 * * * *': minute: 60 is out of range 0-59",
            "cronq.toml: job 'a': path: 'cron/x' must start with / (a path on the backend, not a URL)",
            "cronq.toml: job 'a': backend: unknown backend 'default' (defined: ; add [backends.default])",
            "cronq.toml: job 'a': timezone: unknown time zone 'Mars/Base' (use an IANA name such as Europe/London)",
            "cronq.toml: job 'a': jitter: '-5s' is not a duration (write e.g. 500ms, 90s, 5m, 2h, 1d)",
            "cronq.toml: job 'a': catch_up: 'sometimes' must be none, latest or all",
            "cronq.toml: job 'a': backend: unknown backend 'other' (defined: ; add [backends.other])",
            "cronq.toml: job 'a': scheduel: unknown key (known keys: alert_after, at, backend, body, catch_up, enabled, end, headers, jitter, method, name, overlap, path, pause_after_failures, queue, retry, schedule, start, timeout, timezone)",
            "cronq.toml: job 'bad name!': name: 'bad name!' must be 1-64 characters of A-Z a-z 0-9 _ -",
            "cronq.toml: job 'bad name!': method: 'TRACE' must be one of DELETE, GET, PATCH, POST, PUT",
            "cronq.toml: job 'bad name!': path: '//evil.example/x' starts with // and would name another host",
            "cronq.toml: job 'bad name!': headers.Authorization: cronq sets Authorization from the backend's token; remove it",
            "cronq.toml: job 'bad name!': backend: unknown backend 'default' (defined: ; add [backends.default])",
        ]
        for w in want { #expect(got.contains(w), "missing: \(w)\ngot:\n\(got.joined(separator: "\n"))") }
        #expect(got.count == want.count, "got:\n\(got.joined(separator: "\n"))")
    }

    @Test("duplicate job names")
    func duplicates() {
        let text = Self.minimal + "\n[[jobs]]\nname = \"every5min\"\nschedule = \"@daily\"\npath = \"/y\"\n"
        #expect(
            issues(text) == ["cronq.toml: job 'every5min': name: duplicate job name: each [[jobs]] needs its own name"])
    }

    @Test("required keys")
    func required() {
        let got = issues("[backends.default]\n[[jobs]]\nmethod = \"POST\"\n")
        #expect(got.contains("cronq.toml: backends.default.base_url: is required"))
        #expect(got.contains("cronq.toml: job 'jobs[0]': name: is required"))
        #expect(got.contains("cronq.toml: job 'jobs[0]': schedule: is required (or at, for a one-off job)"))
        #expect(got.contains("cronq.toml: job 'jobs[0]': path: is required"))
    }

    @Test("TOML syntax errors give the line")
    func syntax() {
        let got = issues("[amqp\nurl = 1")
        #expect(got.count == 1)
        #expect(got.first?.hasPrefix("cronq.toml: line 1") == true)
    }

    @Test("worker.prefetch: the concurrency by default; at least the concurrency; 1-65535")
    func prefetch() throws {
        #expect(try load(Self.minimal).worker.prefetch == nil)
        #expect(try load(Self.minimal + "\n[worker]\nconcurrency = 64\nprefetch = 128\n").worker.prefetch == 128)
        #expect(
            issues(Self.minimal + "\n[worker]\nprefetch = 16\n") == [
                "cronq.toml: worker.prefetch: must be at least concurrency (32)"
            ])
        #expect(issues(Self.minimal + "\n[worker]\nprefetch = 0\n") == ["cronq.toml: worker.prefetch: must be 1-65535"])
    }

    @Test("wrong value types are named")
    func types() {
        let got = issues(Self.minimal + "\n[worker]\nconcurrency = \"many\"\n")
        #expect(got == ["cronq.toml: worker.concurrency: must be an integer, got string"])
    }

    @Test(
        "durations",
        arguments: [("500ms", 500), ("90s", 90_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000)])
    func durations(text: String, ms: Int64) {
        #expect(DurationText.parse(text)?.totalMilliseconds == ms)
    }

    @Test("bad durations and canonical tier names")
    func durationFormat() {
        for bad in ["", "5", "m", "1.5s", "-1s", "5 min", "1w"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(.seconds(10)) == "10s")
        #expect(DurationText.format(.seconds(60)) == "1m")
        #expect(DurationText.format(.seconds(5400)) == "90m")
        #expect(DurationText.format(.seconds(7200)) == "2h")
        #expect(DurationText.format(.seconds(86400)) == "1d")
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
    }

    @Test("a secret never prints")
    func secret() {
        let s = Secret("hunter2")
        #expect("\(s)" == "***")
        #expect(String(reflecting: s) == "Secret(***)")
        var dumped = ""
        dump(s, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }
}
