#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Turns the TOML tree into ``CronqConfig``, applying defaults and recording every issue.
struct Builder {
    let environment: [String: String]
    let allowMissing: Bool
    let zones: ConfigLoader.ZoneCheck
    let issues: IssueCollector
    /// Not errors: the config loads, and each process logs these at start.
    let warnings: IssueCollector

    static let jobNameChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    static let queueNameChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
    static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    func expand(_ s: String, job: String?, key: String) -> String? {
        do {
            return try EnvironmentExpansion.expand(s, environment: environment)
        } catch let e as EnvironmentExpansion.MissingVariable {
            if allowMissing {
                return
                    (try? EnvironmentExpansion.expand(s, environment: environment.merging([e.name: ""]) { a, _ in a }))
                    ?? ""
            }
            issues.add(job, key, "environment variable \(e.name) is not set (set it, or write ${\(e.name):-default})")
        } catch let e as EnvironmentExpansion.Malformed {
            issues.add(job, key, e.reason)
        } catch {
            issues.add(job, key, "\(error)")
        }
        return nil
    }

    func config(_ root: TOML.Table) -> CronqConfig {
        let top = TableReader(table: root, prefix: "", job: nil, b: self)
        top.finish(allowed: ["amqp", "backends", "retry", "ticker", "worker", "history", "jobs", "notify", "web"])

        var amqp = CronqConfig.AMQPSettings(
            url: "amqp://guest:guest@127.0.0.1:5672/%2F", managementURL: nil, prefix: "cronq")
        let amqpTable = top.table("amqp")
        if let t = amqpTable {
            if let u = t.string("url") {
                if u.hasPrefix("amqp://") || u.hasPrefix("amqps://") {
                    amqp.url = u
                    amqp.urls = [u]
                } else {
                    issues.add(nil, t.key("url"), "must start with amqp:// or amqps://")
                }
            }
            if t.has("urls") {
                if t.has("url") {
                    issues.add(nil, t.key("urls"), "set url (one endpoint) or urls (a cluster), not both")
                }
                // An array, or one string of comma-separated URLs (so `urls = "${CRONQ_AMQP_URLS}"` works).
                let list: [String]? =
                    t.table["urls"]?.string != nil
                    ? t.string("urls").map { $0.split(separator: ",").map { String($0.trimmingBlanks) } }
                    : t.stringArray("urls")
                if let list { amqp.setEndpoints(endpoints(list, key: t.key("urls"))) }
            }
            // Empty (an unset `${VAR:-}`) means none.
            amqp.managementURL = t.string("management_url").flatMap { $0.isEmpty ? nil : $0 }
            if let p = t.string("prefix") {
                if p.isEmpty || !p.allSatisfy({ Self.queueNameChars.contains($0) }) {
                    issues.add(nil, t.key("prefix"), "'\(p)' must be letters, digits, '_', '-' or '.'")
                } else {
                    amqp.prefix = p
                }
            }
            if let k = t.string("message_key") {
                amqp.messageKey = secret(k, key: t.key("message_key"), minimumBytes: 32)
            }
            if let file = t.string("message_key_file") {
                if t.has("message_key") {
                    issues.add(nil, t.key("message_key_file"), "set message_key or message_key_file, not both")
                }
                amqp.messageKey = readSecretFile(file, key: t.key("message_key_file")).flatMap {
                    secret($0.reveal(), key: t.key("message_key_file"), minimumBytes: 32)
                }
            }
            if (t.has("message_key") || t.has("message_key_file")) && amqp.messageKey == nil && allowMissing {
                amqp.messageKeyMissing = true
            }
            if let n = t.int("replicas") {
                if (1...9).contains(n) {
                    amqp.replicas = n
                } else {
                    issues.add(nil, t.key("replicas"), "must be 1-9 (3 for a three-node cluster)")
                }
            }
            t.finish(allowed: [
                "url", "urls", "management_url", "prefix", "message_key", "message_key_file", "replicas",
            ])
        }
        // CRONQ_AMQP_URLS (comma-separated) when the file names no endpoint itself.
        if amqpTable.map({ !$0.has("url") && !$0.has("urls") }) ?? true, let env = environment["CRONQ_AMQP_URLS"],
            !env.isEmpty
        {
            amqp.setEndpoints(
                endpoints(
                    env.split(separator: ",").map { String($0.trimmingBlanks) }, key: "CRONQ_AMQP_URLS"))
        }

        var backends: [String: CronqConfig.Backend] = [:]
        if let t = top.table("backends") {
            for name in t.table.keys.sorted() {
                guard let bt = t.table(name) else { continue }
                if let b = backend(name, bt) { backends[name] = b }
            }
        }

        var retry = RetryPolicy()
        if let t = top.table("retry") { retry = retryPolicy(t, base: retry) }

        var ticker = CronqConfig.TickerSettings(lockRetry: .seconds(5), catchUpWindow: .seconds(3600), maxCatchUp: 100)
        if let t = top.table("ticker") {
            ticker.lockRetry = t.duration("lock_retry") ?? ticker.lockRetry
            ticker.catchUpWindow = t.duration("catch_up_window", allowZero: true) ?? ticker.catchUpWindow
            if let n = t.int("max_catch_up") {
                if n < 1 { issues.add(nil, t.key("max_catch_up"), "must be at least 1") } else { ticker.maxCatchUp = n }
            }
            t.finish(allowed: ["lock_retry", "catch_up_window", "max_catch_up"])
        }

        var worker = CronqConfig.WorkerSettings(queues: [], concurrency: 32, grace: .seconds(30))
        if let t = top.table("worker") {
            worker.queues = t.stringArray("queues") ?? []
            if let n = t.int("concurrency") {
                if n < 1 || n > 65535 {
                    issues.add(nil, t.key("concurrency"), "must be 1-65535")
                } else {
                    worker.concurrency = n
                }
            }
            if let n = t.int("prefetch") {
                if n < 1 || n > 65535 {
                    issues.add(nil, t.key("prefetch"), "must be 1-65535")
                } else if n < worker.concurrency {
                    issues.add(nil, t.key("prefetch"), "must be at least concurrency (\(worker.concurrency))")
                } else {
                    worker.prefetch = n
                }
            }
            worker.grace = t.duration("grace", allowZero: true) ?? worker.grace
            if let a = t.string("accept") {
                if let v = CronqConfig.Accept(rawValue: a) {
                    worker.accept = v
                } else {
                    issues.add(nil, t.key("accept"), "'\(a)' must be any or configured")
                }
            }
            t.finish(allowed: ["queues", "concurrency", "prefetch", "grace", "accept"])
        }

        var history = CronqConfig.HistorySettings()
        if let t = top.table("history") {
            if let d = t.duration("max_age") {
                if d < .seconds(60) {
                    issues.add(nil, t.key("max_age"), "must be at least 1m")
                } else {
                    history.maxAge = d
                }
            }
            if let n = t.int("max_length_bytes") {
                if n < 1 << 20 {
                    issues.add(nil, t.key("max_length_bytes"), "must be at least 1048576 (1 MiB)")
                } else {
                    history.maxLengthBytes = Int64(n)
                }
            }
            t.finish(allowed: ["max_age", "max_length_bytes"])
        }

        var jobs: [CronqConfig.Job] = []
        if let v = root["jobs"] {
            if let array = v.array {
                var seen: Set<String> = []
                for (i, item) in array.enumerated() {
                    guard let jt = item.table else {
                        issues.add("jobs[\(i)]", "jobs[\(i)]", "must be a table ([[jobs]])")
                        continue
                    }
                    guard let j = job(i, jt, defaults: retry, backends: backends) else { continue }
                    if !seen.insert(j.name).inserted {
                        issues.add(j.name, "name", "duplicate job name: each [[jobs]] needs its own name")
                    }
                    jobs.append(j)
                }
            } else {
                issues.add(nil, "jobs", "must be an array of tables ([[jobs]])")
            }
        }
        var config = CronqConfig(
            amqp: amqp, backends: backends, retry: retry, ticker: ticker, worker: worker, jobs: jobs, path: "")
        config.history = history
        config.notify = notifySinks(root["notify"])
        config.web = webSettings(top.table("web"))
        config.warnings = warnings.list.map(\.description)
        return config
    }

    /// A cluster's endpoint list: not empty, no duplicates, each an amqp:// or amqps:// URL (schemes may
    /// mix). Issues name the entry by position, never by its text (it may hold a password).
    func endpoints(_ list: [String], key: String) -> [String] {
        guard !list.isEmpty, !list.allSatisfy(\.isEmpty) else {
            issues.add(nil, key, "lists no endpoint (give at least one amqp:// URL)")
            return []
        }
        var seen: Set<String> = []
        var ok: [String] = []
        for (i, u) in list.enumerated() {
            if !(u.hasPrefix("amqp://") || u.hasPrefix("amqps://")) {
                issues.add(nil, "\(key)[\(i)]", "must start with amqp:// or amqps://")
            } else if !seen.insert(u).inserted {
                issues.add(nil, "\(key)[\(i)]", "repeats an earlier endpoint")
            } else {
                ok.append(u)
            }
        }
        return ok.count == list.count ? ok : []
    }

    func backend(_ name: String, _ t: TableReader) -> CronqConfig.Backend? {
        var ok = true
        let base = t.string("base_url")
        if base == nil && !t.has("base_url") { issues.add(nil, t.key("base_url"), "is required"); ok = false }
        if let base,
            !(base.hasPrefix("http://") || base.hasPrefix("https://")) || base.contains("?") || base.contains("#")
        {
            issues.add(nil, t.key("base_url"), "'\(base)' must be an http:// or https:// URL without query or fragment")
            ok = false
        }
        var token: Secret? = nil
        if let s = t.string("token") { token = secret(s, key: t.key("token")) }
        if let file = t.string("token_file") {
            if t.has("token") { issues.add(nil, t.key("token_file"), "set token or token_file, not both") }
            token = readSecretFile(file, key: t.key("token_file")).flatMap {
                secret($0.reveal(), key: t.key("token_file"))
            }
        }
        if token == nil && !t.has("token") && !t.has("token_file") {
            issues.add(
                nil, t.key("token"), "is required (token = \"${ERIFY_CRON_TOKEN}\" or token_file = \"/run/secrets/…\")")
            ok = false
        }
        var signing: [Secret] = []
        if let s = t.string("signing_secret") { signing.append(Secret(s)) }
        if let list = t.stringArray("signing_secrets") {
            if t.has("signing_secret") {
                issues.add(nil, t.key("signing_secrets"), "set signing_secret or signing_secrets, not both")
            }
            signing += list.map(Secret.init)
        }
        if let file = t.string("signing_secret_file"), let s = readSecretFile(file, key: t.key("signing_secret_file")) {
            // One secret per line: the file can hold the old and the new secret during a rotation.
            signing += s.reveal().split(whereSeparator: \.isNewline).map { Secret(String($0)) }
        }
        for (i, s) in signing.enumerated() where !s.isEmpty {
            if let why = WebhookSecretFormat.problem(s.reveal()) {
                issues.add(nil, t.key(signing.count > 1 ? "signing_secrets[\(i)]" : "signing_secret"), why)
            }
        }
        let timeout = t.duration("timeout") ?? .seconds(30)
        let connect = t.duration("connect_timeout") ?? .seconds(10)
        let ca = t.string("ca_file")
        let proxy = t.string("proxy")
        if let proxy, !(proxy.hasPrefix("http://") || proxy.hasPrefix("https://") || proxy.hasPrefix("socks5://")) {
            issues.add(nil, t.key("proxy"), "must be an http://, https:// or socks5:// URL")
        }
        let limits = self.limits(t, timeout: timeout)
        t.finish(allowed: [
            "base_url", "token", "token_file", "timeout", "connect_timeout", "signing_secret", "signing_secrets",
            "signing_secret_file", "ca_file", "proxy", "max_in_flight", "rate", "burst", "breaker",
        ])
        guard ok, let base else { return nil }
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if trimmed.hasPrefix("http://"), !Self.isLoopback(trimmed) {
            warnings.add(
                nil, t.key("base_url"),
                "plain http:// to a host that is not loopback: the token crosses the network unencrypted")
        }
        var b = CronqConfig.Backend(
            name: name, baseURL: trimmed, token: token ?? Secret(""), timeout: timeout, connectTimeout: connect,
            signingSecrets: signing.filter { !$0.isEmpty }, caFile: ca)
        b.proxy = proxy
        b.limits = limits
        return b
    }

    /// `max_in_flight`, `rate` + `burst` and `breaker` of one backend.
    func limits(_ t: TableReader, timeout: Duration) -> BackendLimits {
        var limits = BackendLimits()
        if let n = t.int("max_in_flight") {
            if n < 1 || n > 10_000 {
                issues.add(nil, t.key("max_in_flight"), "must be between 1 and 10000, got \(n)")
            } else {
                limits.maxInFlight = n
            }
        }
        let burst = t.int("burst")
        if let burst, burst < 1 || burst > 10_000 {
            issues.add(nil, t.key("burst"), "must be between 1 and 10000, got \(burst)")
        }
        if let text = t.string("rate") {
            if let rate = BackendLimits.Rate.parse(text, burst: min(max(burst ?? 1, 1), 10_000)) {
                limits.rate = rate
            } else {
                issues.add(nil, t.key("rate"), "'\(text)' is not a rate (write e.g. \"20/s\", \"600/m\" or \"100/h\")")
            }
        } else if burst != nil {
            issues.add(nil, t.key("burst"), "only means something with a rate (rate = \"20/s\")")
        }
        if let bt = t.table("breaker") {
            var breaker = BackendLimits.Breaker()
            if let f = bt.int("failures") {
                if f < 1 {
                    issues.add(nil, bt.key("failures"), "must be 1 or more, got \(f)")
                } else {
                    breaker.failures = f
                }
            }
            if let d = bt.duration("cool_down") { breaker.coolDown = d }
            bt.finish(allowed: ["failures", "cool_down"])
            limits.breaker = breaker
        }
        return limits
    }

    /// A credential as written: no whitespace or control characters (a pasted newline or a space
    /// would be sent as part of the header, and the backend would answer 401 every time). The issue
    /// names the key, never the value.
    func secret(_ value: String, key: String, minimumBytes: Int = 0) -> Secret? {
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || Printable.isControl($0) }) {
            if !(allowMissing && value.isEmpty) {
                issues.add(nil, key, "contains whitespace or control characters (check how it was pasted)")
            }
            return nil
        }
        if value.utf8.count < minimumBytes && !(allowMissing && value.isEmpty) {
            issues.add(nil, key, "is shorter than \(minimumBytes) bytes (generate one with: openssl rand -base64 32)")
            return nil
        }
        return Secret(value)
    }

    static func isLoopback(_ url: String) -> Bool {
        guard let rest = url.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).dropFirst(2).first
        else { return false }
        let hostPort = rest.split(separator: "@").last.map(String.init) ?? ""
        let host =
            hostPort.hasPrefix("[")
            ? String(hostPort.prefix { $0 != "]" }) + "]" : String(hostPort.prefix { $0 != ":" })
        return host == "localhost" || host.hasPrefix("127.") || host == "[::1]"
    }

    func readSecretFile(_ path: String, key: String) -> Secret? {
        do {
            var s = try TextFile.contents(of: path)
            while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
            if s.isEmpty { issues.add(nil, key, "\(path) is empty"); return nil }
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                warnings.add(
                    nil, key,
                    "\(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it"
                )
            }
            return Secret(s)
        } catch {
            if allowMissing { return Secret("") }
            issues.add(nil, key, "cannot read \(path): \(error.reason)")
            return nil
        }
    }

    func retryPolicy(_ t: TableReader, base: RetryPolicy) -> RetryPolicy {
        var r = base
        if let n = t.int("max_attempts") {
            if n < 1 || n > 1000 {
                t.b.issues.add(t.job, t.key("max_attempts"), "must be 1-1000, got \(n)")
            } else {
                r.maxAttempts = n
            }
        }
        if let tiers = t.stringArray("backoff") {
            var parsed: [Duration] = []
            for (i, s) in tiers.enumerated() {
                guard let d = DurationText.parse(s), d > .zero else {
                    t.b.issues.add(
                        t.job, "\(t.key("backoff"))[\(i)]", "'\(s)' is not a positive duration (write e.g. 10s, 1m, 5m)"
                    )
                    continue
                }
                parsed.append(d)
            }
            if tiers.isEmpty {
                t.b.issues.add(t.job, t.key("backoff"), "needs at least one tier")
            } else if parsed.count == tiers.count {
                if zip(parsed, parsed.dropFirst()).contains(where: { $0 >= $1 }) {
                    t.b.issues.add(t.job, t.key("backoff"), "tiers must increase (\(tiers.joined(separator: ", ")))")
                } else {
                    r.backoff = parsed
                }
            }
        }
        r.maxDuration = t.duration("max_duration") ?? r.maxDuration
        t.finish(allowed: ["max_attempts", "backoff", "max_duration"])
        return r
    }

    func job(_ index: Int, _ table: TOML.Table, defaults: RetryPolicy, backends: [String: CronqConfig.Backend])
        -> CronqConfig.Job?
    {
        let rawName = table["name"]?.string
        let label = rawName ?? "jobs[\(index)]"
        let t = TableReader(table: table, prefix: "", job: label, b: self)
        var ok = true
        func fail(_ key: String, _ message: String) { issues.add(label, key, message); ok = false }

        let name = t.string("name") ?? ""
        if rawName == nil {
            fail("name", "is required")
        } else if name.isEmpty || name.count > 64 || !name.allSatisfy({ Self.jobNameChars.contains($0) }) {
            fail("name", "'\(name)' must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
        let timezone = t.string("timezone") ?? "UTC"
        var zoneOK = true
        if !zoneKnown(timezone) {
            fail("timezone", "unknown time zone '\(timezone)' (use an IANA name such as Europe/London)"); zoneOK = false
        }
        var schedule: CronExpression? = nil
        func instant(_ key: String) -> Int64? {
            guard let text = t.string(key) else { return nil }
            guard let v = Timestamp.parse(text) else {
                fail(key, "'\(Printable.escaped(text))' is not an RFC 3339 instant such as 2026-12-24T18:00:00+01:00")
                return nil
            }
            return v
        }
        var start = instant("start"), end = instant("end")
        let at = instant("at")
        if let at {
            if t.has("schedule") { fail("at", "a job has either a schedule or an at, not both") }
            if start != nil || end != nil { fail("at", "a one-off job has no start or end") }
            let l = LocalTime(seconds: at)
            schedule = try? CronExpression("\(l.second) \(l.minute) \(l.hour) \(l.day) \(l.month) *")
            (start, end) = (at, at)
        } else if let s = t.string("schedule") {
            do { schedule = try CronExpression(s) } catch let e as CronError { fail("schedule", "'\(s)': \(e)") } catch
            {}
        } else if !t.has("schedule") && !t.has("at") {
            fail("schedule", "is required (or at, for a one-off job)")
        }
        if let start, let end, end < start, at == nil {
            fail("end", "\(Timestamp.iso(end)) is before start \(Timestamp.iso(start))")
        }
        _ = zoneOK
        let method = (t.string("method") ?? "POST").uppercased()
        if !Self.methods.contains(method) {
            fail("method", "'\(method)' must be one of \(Self.methods.sorted().joined(separator: ", "))")
        }
        let path = t.string("path") ?? ""
        if !t.has("path") {
            fail("path", "is required")
        } else if let why = JobMessage.pathProblem(path) {
            fail("path", why)
        }
        let queue = t.string("queue") ?? "default"
        if queue.isEmpty || queue.count > 100 || !queue.allSatisfy({ Self.queueNameChars.contains($0) }) {
            fail("queue", "'\(queue)' must be 1-100 characters of A-Z a-z 0-9 _ - .")
        } else if queue.hasPrefix(CronqConfig.serialQueuePrefix) {
            fail(
                "queue",
                "'\(queue)': names starting with '\(CronqConfig.serialQueuePrefix)' are reserved for overlap = \"serial\" jobs"
            )
        }
        let timeout = t.duration("timeout")
        var headers: [String: String] = [:]
        if let h = t.table("headers") {
            for k in h.table.keys {
                guard let v = h.string(k) else { continue }
                if let why = HeaderPolicy.problem(name: k, value: v) {
                    fail(
                        "headers.\(Printable.escaped(k))",
                        k.lowercased() == "authorization"
                            ? "cronq sets Authorization from the backend's token; remove it" : why)
                } else {
                    headers[k] = v
                }
            }
        }
        let body = t.string("body")
        var retry = defaults
        if let r = t.table("retry") { retry = retryPolicy(r, base: defaults) }
        var catchUp = CronqConfig.CatchUp.latest
        if let c = t.string("catch_up") {
            if let v = CronqConfig.CatchUp(rawValue: c) {
                catchUp = v
            } else {
                fail("catch_up", "'\(c)' must be none, latest or all")
            }
        }
        let jitter = t.duration("jitter", allowZero: true) ?? .zero
        let backend = t.string("backend") ?? "default"
        if backends[backend] == nil {
            fail(
                "backend",
                "unknown backend '\(backend)' (defined: \(backends.keys.sorted().joined(separator: ", ")); add [backends.\(backend)])"
            )
        }
        let enabled = t.bool("enabled") ?? true
        let alertAfter = t.duration("alert_after")
        let pauseAfter = t.int("pause_after_failures")
        if let p = pauseAfter, p < 1 { fail("pause_after_failures", "must be 1 or more") }
        var overlap = CronqConfig.Overlap.allow
        if let o = t.string("overlap") {
            if let v = CronqConfig.Overlap(rawValue: o) {
                overlap = v
            } else {
                fail("overlap", "'\(o)' must be allow, skip or serial")
            }
        }
        t.finish(allowed: [
            "name", "schedule", "timezone", "method", "path", "queue", "timeout", "headers", "body", "retry",
            "catch_up",
            "jitter", "backend", "enabled", "alert_after", "overlap", "start", "end", "at", "pause_after_failures",
        ])
        guard ok, let schedule else { return nil }
        return CronqConfig.Job(
            name: name, schedule: schedule, timezone: timezone, method: method, path: path, queue: queue,
            timeout: timeout,
            headers: headers, body: body, retry: retry, catchUp: catchUp, jitter: jitter, backend: backend,
            enabled: enabled,
            alertAfter: alertAfter, overlap: overlap, start: start, end: end, at: at,
            pauseAfterFailures: pauseAfter)
    }
}

extension Builder {
    func zoneKnown(_ name: String) -> Bool {
        switch zones {
        case .database:
            precondition(
                ZoneRules.databaseLoaded,
                "this program checks time zones but does not link FoundationInternationalization (no zone database)")
            return ZoneRules.named(name) != nil
        case .form:
            return ZoneRules.isWellFormedName(name)
        }
    }
}
