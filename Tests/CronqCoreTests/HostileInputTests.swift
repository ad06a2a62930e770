import Foundation
import Testing

@testable import CronqCore

/// What a publisher or a backend controls must not reach further than DESIGN.md allows
/// ("Message authentication and hostile input"): the pure checks, one table each.
@Suite("Hostile input: the pure checks")
struct HostileInputTests {
    static func message(path: String = "/cron/x", headers: [String: String] = [:]) -> [UInt8] {
        let m = JobMessage(
            job: "j", scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
            request: .init(method: "POST", path: path, headers: headers, body: nil, timeoutMs: 1000),
            retry: .init(maxAttempts: 3, backoff: ["10s"], maxDurationS: 600))
        return m.encoded()
    }

    @Test(
        "headers that change the target, the framing or what cronq says are refused in messages, in any case",
        arguments: [
            "Host", "host", "HOST", "Content-Length", "content-length", "Transfer-Encoding", "Connection", "Keep-Alive",
            "TE",
            "Trailer", "Upgrade", "Expect", "Proxy-Authorization", "proxy-connection", "Authorization", "AUTHORIZATION",
            "Idempotency-Key", "User-Agent", "X-Cronq-Job", "x-cronq-attempt", "webhook-signature", "Webhook-Id",
        ])
    func refusedHeaders(name: String) throws {
        #expect(HeaderPolicy.problem(name: name, value: "v") != nil)
        #expect(throws: MalformedMessage.self) { try JobMessage.parse(Self.message(headers: [name: "v"])) }
    }

    @Test("ordinary headers pass; broken names and values with control characters do not")
    func headerSyntax() throws {
        for ok in ["X-Source", "Accept", "Content-Type", "X-Request-Id", "If-None-Match"] {
            #expect(HeaderPolicy.problem(name: ok, value: "a value\twith tab") == nil, "\(ok)")
        }
        #expect(
            try JobMessage.parse(Self.message(headers: ["X-Source": "cronq"])).request.headers == ["X-Source": "cronq"])
        for (name, value) in [
            ("X Source", "v"), ("X:Source", "v"), ("", "v"), ("Ünï", "v"), ("X-A", "a\r\nHost: evil"),
            ("X-A", "a\u{0}b"),
            ("X-A", "a\nb"), ("X-A", "\u{7F}"),
        ] {
            #expect(HeaderPolicy.problem(name: name, value: value) != nil, "\(name): \(value.debugDescription)")
        }
    }

    @Test("a refusal names the header and never echoes the value")
    func refusalText() throws {
        let why = HeaderPolicy.problem(name: "Host", value: "secret-vhost.example")!
        #expect(why.contains("Host") && !why.contains("secret-vhost"))
    }

    @Test(
        "paths with dot segments or encoded '.', '/', '\\\\' are refused",
        arguments: [
            "/cron/../admin", "/..", "/cron/..", "/./cron", "/cron/.", "/cron/%2e%2e/admin", "/cron/%2E%2E/admin",
            "/cron/%2e./admin",
            "/cron%2fadmin", "/cron%2Fadmin", "/cron%5cadmin", "/cron%5Cadmin", "/a/.%2e/b",
        ])
    func dotSegments(path: String) throws {
        #expect(JobMessage.pathProblem(path) != nil)
        #expect(throws: MalformedMessage.self) { try JobMessage.parse(Self.message(path: path)) }
    }

    @Test("dots inside names and encoded characters in the query are fine")
    func dotsThatAreFine() {
        for ok in [
            "/cron/v1.2/run", "/cron/...", "/cron/.well-known/x", "/cron/x?next=%2Fhome", "/cron/x?a=../b",
            "/cron/a%20b", "/cron/x/",
        ] {
            #expect(JobMessage.pathProblem(ok) == nil, "\(ok)")
        }
    }

    @Test(
        "Retry-After from a hostile backend saturates instead of trapping",
        arguments: [
            "Sun, 06 Nov 999999999999 08:49:37 GMT", "Sun, 06 Nov 99999 08:49:37 GMT", "99999999999999999999999999999",
            "9223372036854775807", "9223372036854775808", "-5", "-9223372036854775808", "Sun, 06 Nov 1994 -8:49:37 GMT",
            "Sun, 99999999999999999999 Nov 1994 08:49:37 GMT", String(repeating: "9", count: 10_000), "", " ",
        ])
    func retryAfterSaturates(value: String) {
        let now: Int64 = 1_800_000_000
        if let s = RetryAfter.seconds(value, now: now) { #expect(s >= 0 && s <= RetryAfter.maximumSeconds) }
        let policy = JobMessage.Retry(maxAttempts: 3, backoff: ["10s", "1m"], maxDurationS: 600)
        let d = OutcomeRules.classify(
            .response(status: 503, retryAfter: value), attempt: 1, firstAttemptAt: now, now: now, policy: policy)
        switch d {
        case .retry, .dead: break
        case .succeed: Issue.record("a 503 cannot succeed")
        }
    }

    @Test("a huge Retry-After asks for the largest tier, within max_duration or dead")
    func retryAfterHuge() {
        #expect(RetryAfter.seconds("99999999999999999999999", now: 0) == RetryAfter.maximumSeconds)
        let policy = JobMessage.Retry(maxAttempts: 3, backoff: ["10s", "1m"], maxDurationS: 600)
        #expect(
            OutcomeRules.classify(
                .response(status: 503, retryAfter: "99999999999999999999999"), attempt: 1, firstAttemptAt: 0, now: 0,
                policy: policy) == .retry(tier: "1m", delay: .seconds(60), nextAttempt: 2))
    }

    @Test("control characters are escaped for terminals and logs; clean text is untouched")
    func printable() {
        #expect(Printable.escaped("plain text, ünïcode é") == "plain text, ünïcode é")
        #expect(Printable.escaped("a\r\nb") == "a\\r\\nb")
        #expect(Printable.escaped("\u{1B}[2Jgone") == "\\u{1B}[2Jgone")
        #expect(Printable.escaped("c1\u{9B}x\u{7F}") == "c1\\u{9B}x\\u{7F}")
        #expect(Printable.escaped("line\u{2028}sep") == "line\\u{2028}sep")
        #expect(
            !Printable.escaped(String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) })).unicodeScalars.contains {
                $0.value < 0x20
            })
    }
}

@Suite("Hostile input: config")
struct HostileConfigTests {
    static func load(_ extra: String, backend: String = "", env: [String: String] = [:]) throws -> CronqConfig {
        try ConfigLoader(environment: env).parse(
            """
            \(extra)
            [backends.default]
            base_url = "https://app.example.com"
            token = "tok"
            \(backend)
            [[jobs]]
            name = "a"
            schedule = "* * * * *"
            path = "/cron/a"
            """, path: "cronq.toml")
    }

    static func issues(_ extra: String, backend: String = "", env: [String: String] = [:]) -> [String] {
        configIssues { try load(extra, backend: backend, env: env) }
    }

    @Test("job headers from the config follow the same policy")
    func configHeaders() {
        let found = Self.issues("", backend: "", env: [:])
        #expect(found.isEmpty)
        let bad =
            (try? ConfigLoader(environment: [:]).parse(
                """
                [backends.default]
                base_url = "https://b"
                token = "t"
                [[jobs]]
                name = "a"
                schedule = "* * * * *"
                path = "/x"
                headers = { Host = "other.example", "Content-Length" = "0", "X-Ok" = "1" }
                """, path: "cronq.toml")) == nil
        #expect(bad)
    }

    @Test("a token with whitespace or control characters is an error that names the key, not the value")
    func tokenWhitespace() {
        for token in ["tok en", "token\\n", "tok\\tx", " token"] {
            let found =
                (try? ConfigLoader(environment: [:]).parse(
                    """
                    [backends.default]
                    base_url = "https://b"
                    token = "\(token)"
                    """, path: "cronq.toml")) == nil
            #expect(found, "\(token)")
        }
        do {
            _ = try ConfigLoader(environment: ["T": "s3cret value"]).parse(
                """
                [backends.default]
                base_url = "https://b"
                token = "${T}"
                """, path: "cronq.toml")
            Issue.record("accepted a token with a space")
        } catch {
            #expect("\(error)".contains("backends.default.token"))
            #expect(!"\(error)".contains("s3cret"))
        }
    }

    @Test("signing secrets: whsec_ + base64 of 24-64 bytes; several for a rotation")
    func signingSecrets() throws {
        let good = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
        let good2 = "whsec_" + Data(repeating: 9, count: 24).base64EncodedString()
        #expect(WebhookSecretFormat.problem(good) == nil)
        #expect(WebhookSecretFormat.problem(String(good.dropFirst(6))) != nil, "no prefix")
        #expect(WebhookSecretFormat.problem("whsec_not*base64") != nil)
        #expect(
            WebhookSecretFormat.problem("whsec_" + Data(repeating: 1, count: 16).base64EncodedString()) != nil,
            "too short")
        #expect(
            Self.issues("", backend: "signing_secret = \"raw-secret-bytes\"").contains { $0.contains("signing_secret") }
        )
        let c = try Self.load("", backend: "signing_secrets = [\"\(good)\", \"\(good2)\"]")
        #expect(c.backends["default"]?.signingSecrets.map { $0.reveal() } == [good, good2])
        #expect(Self.issues("", backend: "signing_secret = \"\(good)\"\nsigning_secrets = [\"\(good2)\"]").count == 1)
    }

    @Test("message_key: at least 32 bytes; worker.accept: any or configured")
    func messageKeyAndAccept() throws {
        let key = String(repeating: "k", count: 32)
        #expect(try Self.load("[amqp]\nmessage_key = \"\(key)\"").amqp.messageKey?.reveal() == key)
        #expect(
            Self.issues("[amqp]\nmessage_key = \"short\"").contains {
                $0.contains("amqp.message_key") && $0.contains("32 bytes")
            })
        #expect(try Self.load("[worker]\naccept = \"configured\"").worker.accept == .configured)
        #expect(try Self.load("").worker.accept == .any)
        #expect(Self.issues("[worker]\naccept = \"some\"").contains { $0.contains("worker.accept") })
    }

    @Test("warnings: plain http to another host, a secret file others can read; loopback http is fine")
    func warnings() throws {
        let c = try ConfigLoader(environment: [:]).parse(
            """
            [backends.remote]
            base_url = "http://app.example.com"
            token = "t"
            [backends.local]
            base_url = "http://127.0.0.1:8000"
            token = "t"
            [backends.local6]
            base_url = "http://[::1]:8000"
            token = "t"
            """, path: "cronq.toml")
        #expect(c.warnings.count == 1)
        #expect(c.warnings.first?.contains("backends.remote.base_url") == true)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-token-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "file-token\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let open = try ConfigLoader(environment: [:]).parse(
            "[backends.default]\nbase_url = \"https://b\"\ntoken_file = \"\(file)\"", path: "cronq.toml")
        #expect(open.warnings.contains { $0.contains("token_file") && $0.contains("chmod 600") })
        #expect(open.backends["default"]?.token.reveal() == "file-token")
        chmod(file, 0o600)
        let closed = try ConfigLoader(environment: [:]).parse(
            "[backends.default]\nbase_url = \"https://b\"\ntoken_file = \"\(file)\"", path: "cronq.toml")
        #expect(closed.warnings.isEmpty)
    }

    @Test("a proxy is explicit and an URL")
    func proxy() throws {
        #expect(try Self.load("").backends["default"]?.proxy == nil)
        #expect(
            try Self.load("", backend: "proxy = \"http://proxy:3128\"").backends["default"]?.proxy
                == "http://proxy:3128")
        #expect(Self.issues("", backend: "proxy = \"proxy:3128\"").contains { $0.contains("backends.default.proxy") })
    }
}

@Suite("Cluster endpoints in the config")
struct EndpointConfigTests {
    static func parse(_ amqp: String, env: [String: String] = [:]) throws -> CronqConfig {
        try ConfigLoader(environment: env).parse(
            "[amqp]\n\(amqp)\n[backends.default]\nbase_url = \"https://b\"\ntoken = \"t\"\n", path: "c.toml")
    }

    static func issues(_ amqp: String, env: [String: String] = [:]) -> [String] {
        configIssues { try parse(amqp, env: env) }
    }

    @Test("urls: an array, or one comma-separated string; url stays for one endpoint; schemes may mix")
    func urls() throws {
        let c = try Self.parse(#"urls = ["amqp://u:p@a:5672/%2F", "amqps://u:p@b:5671/%2F"]"#)
        #expect(c.amqp.endpoints == ["amqp://u:p@a:5672/%2F", "amqps://u:p@b:5671/%2F"])
        #expect(c.amqp.url == "amqp://u:p@a:5672/%2F")
        let s = try Self.parse(#"urls = "${URLS}""#, env: ["URLS": "amqp://a/, amqp://b/ ,amqp://c/"])
        #expect(s.amqp.endpoints == ["amqp://a/", "amqp://b/", "amqp://c/"])
        #expect(try Self.parse(#"url = "amqp://one/""#).amqp.endpoints == ["amqp://one/"])
        #expect(try Self.parse("").amqp.endpoints == ["amqp://guest:guest@127.0.0.1:5672/%2F"])
    }

    @Test("CRONQ_AMQP_URLS when the file names no endpoint; the file wins when it does")
    func environment() throws {
        #expect(
            try Self.parse("", env: ["CRONQ_AMQP_URLS": "amqp://x/,amqp://y/"]).amqp.endpoints == [
                "amqp://x/", "amqp://y/",
            ])
        #expect(
            try Self.parse(#"url = "amqp://f/""#, env: ["CRONQ_AMQP_URLS": "amqp://x/"]).amqp.endpoints == ["amqp://f/"]
        )
    }

    @Test("bad lists: both keys, empty, duplicates, a wrong scheme (named by position, not text)")
    func badLists() {
        #expect(Self.issues(#"url = "amqp://a/"\#nurls = ["amqp://b/"]"#).contains { $0.contains("not both") })
        #expect(Self.issues("urls = []").contains { $0.contains("amqp.urls") && $0.contains("no endpoint") })
        #expect(Self.issues(#"urls = """#).contains { $0.contains("no endpoint") })
        #expect(
            Self.issues(#"urls = ["amqp://a/", "amqp://a/"]"#).contains {
                $0.contains("amqp.urls[1]") && $0.contains("repeats")
            })
        let wrong = Self.issues(#"urls = ["amqp://a/", "http://u:s3cret@b/"]"#)
        #expect(wrong.contains { $0.contains("amqp.urls[1]") } && !wrong.joined().contains("s3cret"))
        #expect(
            Self.issues("", env: ["CRONQ_AMQP_URLS": "amqp://a/,amqp://a/"]).contains {
                $0.contains("CRONQ_AMQP_URLS[1]")
            })
    }
}
