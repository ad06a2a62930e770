import CronqAMQP
import CronqCore
import CronqHTTP
import Foundation
import Logging
import Synchronization
import Testing

@testable import CronqRuntime

@Suite("Worker parts")
struct WorkerPartsTests {
    static let backend = CronqConfig.Backend(
        name: "default", baseURL: "https://app.example.com/api", token: Secret("t0ken-xyz"), timeout: .seconds(10),
        connectTimeout: .seconds(3), signingSecrets: [], caFile: nil)

    static let message = JobMessage(
        job: "every5min", scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
        request: .init(
            method: "POST", path: "/cron/ee-recent", headers: ["X-Source": "cronq"], body: "{}", timeoutMs: 30000),
        retry: .init(maxAttempts: 5, backoff: ["10s"], maxDurationS: 600))

    @Test("the request: URL on the backend's origin, every header of DESIGN.md, timeout capped by the backend")
    func request() {
        let r = BackendRequest.make(
            Self.message, messageID: "every5min@2026-11-28T10:05:00Z", attempt: 2, backend: Self.backend, now: 0)
        #expect(r.url == "https://app.example.com/api/cron/ee-recent")
        #expect(r.method == "POST")
        var h: [String: String] = [:]
        for (name, value) in r.headers where h[name] == nil { h[name] = value }
        #expect(h["Authorization"] == "Bearer t0ken-xyz")
        #expect(h["Idempotency-Key"] == "every5min@2026-11-28T10:05:00Z")
        #expect(h["X-Cronq-Job"] == "every5min")
        #expect(h["X-Cronq-Scheduled-At"] == "2026-11-28T10:05:00Z")
        #expect(h["X-Cronq-Attempt"] == "2")
        #expect(h["User-Agent"] == "cronq-worker/\(CronqVersion.string)")
        #expect(h["X-Source"] == "cronq")
        #expect(h["Content-Type"] == "application/json")
        #expect(h["webhook-signature"] == nil, "no signing without a secret")
        #expect(r.timeout == .seconds(10), "30 s asked, backend allows 10 s")
        #expect(r.body == Array("{}".utf8))
    }

    @Test("Standard Webhooks signature matches the spec's test vector")
    func signature() {
        let h = WebhookSignature.headers(
            secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(h.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(h[2].value == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        var signed = Self.backend
        signed.signingSecrets = [Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
        let r = BackendRequest.make(Self.message, messageID: "id1", attempt: 1, backend: signed, now: 1_614_265_330)
        #expect(r.headers.contains { $0.name == "webhook-id" && $0.value == "id1" })
        #expect(r.headers.contains { $0.name == "webhook-timestamp" && $0.value == "1614265330" })
    }

    @Test("rotation: one signature per secret, space-separated, the first secret's signature first")
    func signatureRotation() {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let second = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let both = WebhookSignature.headers(
            secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", second], id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: body)
        let only2 = WebhookSignature.headers(
            secrets: [second], id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body)
        let parts = both[2].value.split(separator: " ").map(String.init)
        #expect(parts == ["v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", only2[2].value])
        #expect(parts[0] != parts[1])
    }

    @Test("a backend request never uses a proxy unless the backend names one")
    func proxy() {
        #expect(
            BackendRequest.make(Self.message, messageID: "m", attempt: 1, backend: Self.backend, now: 0).proxy == "")
        var viaProxy = Self.backend
        viaProxy.proxy = "http://proxy.internal:3128"
        #expect(
            BackendRequest.make(Self.message, messageID: "m", attempt: 1, backend: viaProxy, now: 0).proxy
                == "http://proxy.internal:3128")
    }

    @Test("HTTP results map onto the outcome rules")
    func callResults() {
        #expect(
            BackendRequest.callResult(.success(HTTPResponse(status: 503, retryAfter: "5")))
                == .response(status: 503, retryAfter: "5"))
        #expect(
            BackendRequest.callResult(.failure(HTTPError(.timeout, detail: "t")))
                == .failure(retryable: true, error: "timed out: t"))
        #expect(
            BackendRequest.callResult(.failure(HTTPError(.connectRefused, detail: "r")))
                == .failure(retryable: true, error: "connection refused: r"))
        #expect(
            BackendRequest.callResult(.failure(HTTPError(.invalidRequest, detail: "x")))
                == .failure(retryable: false, error: "invalid request: x"))
    }

    @Test("a retry strips x-* headers, sets tier and attempt, and remembers the first attempt")
    func retryMessage() {
        let original = AMQPMessage(
            body: [1, 2],
            properties: AMQPProperties(
                headers: ["x-death": .array([]), "x-delivery-count": .int64(2), "cronq-replayed": .int32(1)],
                deliveryMode: 2, messageID: "m"))
        let r = Republish.retry(original, tier: "1m", nextAttempt: 3, firstAttemptAt: 1_800_000_000)
        let h = r.properties.headers!
        #expect(h.keys.sorted() == ["cronq-attempt", "cronq-delay", "cronq-first-attempt-at", "cronq-replayed"])
        #expect(h["cronq-delay"] == .string("1m"))
        #expect(h["cronq-attempt"]?.intValue == 3)
        #expect(h["cronq-first-attempt-at"] == .string("2027-01-15T08:00:00Z"))
        #expect(r.body == original.body && r.properties.messageID == "m")
        #expect(Republish.attempt(of: r) == 3)
        #expect(Republish.firstAttemptAt(of: r) == 1_800_000_000)
        #expect(Republish.attempt(of: original) == 1)
    }

    @Test("a dead letter's error is short, on one line, and never holds a secret")
    func deadError() {
        let d = Republish.dead(
            AMQPMessage(body: []), reason: "http_401", status: 401, error: "denied for t0ken-xyz\nsecond line",
            attempt: 1,
            queue: "cronq.jobs.default", at: 0, scrub: [Secret("t0ken-xyz")])
        #expect(d.properties.headers?["cronq-dead-error"] == .string("denied for *** second line"))
        #expect(Republish.safeError(String(repeating: "a", count: 500), scrub: []).count == 200)
    }

    /// A pipe as the log's file: what the handler wrote, read back without blocking.
    final class Pipe {
        let read: Int32
        let output: LogOutput
        init() {
            var fds: [Int32] = [0, 0]
            precondition(pipe(&fds) == 0)
            read = fds[0]
            _ = fcntl(read, F_SETFL, O_NONBLOCK)
            output = LogOutput(fileDescriptor: fds[1])
        }
        func drain() -> String {
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while case let n = Foundation.read(read, &buf, buf.count), n > 0 { out += buf[0..<n] }
            return String(decoding: out, as: UTF8.self)
        }
    }

    @Test("logfmt lines: one per event, sorted metadata, quoted values, controls escaped")
    func logfmt() {
        let p = Pipe()
        var logger = Logger(label: "t") { LogfmtHandler(label: $0, output: p.output) }
        logger[metadataKey: "b"] = "2"
        logger.info("fired", metadata: ["job": "every5min", "error": "HTTP 503 after x=1"])
        logger.info("x", metadata: ["e": "a\nb\u{1B}[2J c\u{2028}d", "q": "say \"hi\"", "u": "héllo", "empty": ""])
        let lines = p.drain().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty, "two whole lines: \(lines)")
        #expect(
            lines[0].contains(" level=info app=t msg=fired b=2 error=\"HTTP 503 after x=1\" job=every5min"),
            "\(lines[0])")
        #expect(
            lines[0].range(of: #"^ts=20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression) != nil)
        #expect(lines[1].hasSuffix(#"b=2 e="a\nb\u{1B}[2J c\u{2028}d" empty="" q="say \"hi\"" u=héllo"#), "\(lines[1])")
    }

    @Test("metadata fields come out in the order sorted(by:) gives, for 2,000 seeded sets of keys")
    func sortedFields() {
        var rng = SplitMix64(seed: 15)
        let pool = ["job", "message_id", "attempt", "status", "duration_ms", "outcome", "a", "ab", "é", "Z", "_", ""]
        for _ in 0..<2_000 {
            var m: Logger.Metadata = [:]
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                m[pool.randomElement(using: &rng)!] = .string(String(Int.random(in: 0...99, using: &rng)))
            }
            let fields = LogfmtHandler.sortedFields(m)
            let expected = m.sorted(by: { $0.key < $1.key })
            #expect(fields.map(\.key) == expected.map(\.key))
            #expect(fields.map(\.text) == expected.map(\.value.description))
        }
    }

    /// One of every record, optional parts present and absent, values that need quotes among them.
    static let everyRecord: [WorkerRecord] = [
        .succeeded(job: "j", messageID: "j@2026-12-01T00:00:00Z", attempt: 1, status: 204, durationMs: 12),
        .retried(
            job: "j", messageID: "m", attempt: 2, status: 503, tier: "1m", error: "HTTP 503 \"busy\" x=1",
            durationMs: 0),
        .dead(job: "j", messageID: "m", attempt: 5, reason: "exhausted", status: 0, error: "timeout", via: nil),
        .dead(job: "j", messageID: "m", attempt: 1, reason: "malformed", status: 0, error: "", via: "broker reject"),
        .requestFinished(durationMs: 7),
        .redelivered(messageID: "m", deliveryCount: 3, queue: "default"),
        .resultAfterLoss(job: "j", messageID: "m"),
        .publishFailed,
        .publishRefused(job: "j", messageID: "m", outcome: "nack"),
        .deadLetterUnroutable(job: "j", messageID: "m", retryInSeconds: 5, deadQueue: "q", deadExchange: "x"),
        .connectionLost(error: "socket: connection reset\nby peer", inFlight: 64, awaitingConfirm: 3),
        .consumerCancelled(queue: "default"),
        .stopping(inFlight: 2, graceSeconds: 30),
        .graceOver(unfinished: 1),
        .breaker(backend: "django", state: "open", announcedBy: nil),
        .breaker(backend: "django", state: "closed", announcedBy: "host/12/34"),
        .permitRenewed(backend: "django"),
        .delayed(job: "j", messageID: "m", backend: "django", tier: "5m", attempt: 2),
    ]

    /// The case's name: a new case fails to compile here until it has a sample above.
    static func caseName(_ r: WorkerRecord) -> String {
        switch r {
        case .succeeded: "succeeded"
        case .retried: "retried"
        case .dead: "dead"
        case .requestFinished: "requestFinished"
        case .redelivered: "redelivered"
        case .resultAfterLoss: "resultAfterLoss"
        case .publishFailed: "publishFailed"
        case .publishRefused: "publishRefused"
        case .deadLetterUnroutable: "deadLetterUnroutable"
        case .connectionLost: "connectionLost"
        case .consumerCancelled: "consumerCancelled"
        case .stopping: "stopping"
        case .graceOver: "graceOver"
        case .breaker: "breaker"
        case .permitRenewed: "permitRenewed"
        case .delayed: "delayed"
        }
    }

    @Test("every worker record's fields are sorted by key, and its direct line is the one Logger.log writes")
    func directRecordLines() throws {
        #expect(Set(Self.everyRecord.map(Self.caseName)).count == 16, "a sample of every case")
        let p = Pipe()
        let logger = Logger(label: "cronq-worker") { LogfmtHandler(label: $0, level: .trace, output: p.output) }
        let direct = try #require(LogfmtHandler.direct(logger))
        /// A line without its `ts=` field (the two are written milliseconds apart).
        func body(_ text: String) -> [Substring] {
            text.split(separator: "\n").map { $0.drop(while: { $0 != " " }) }
        }
        for r in Self.everyRecord {
            let keys = r.fields.map(\.key)
            #expect(keys == keys.sorted() && Set(keys).count == keys.count, "\(r)")
            logger.log(level: r.level, r.message, metadata: r.metadata)
            let viaLogger = p.drain()
            direct.write(level: r.level, message: r.message.description, fields: r.fields)
            let viaDirect = p.drain()
            #expect(body(viaLogger).count == 1 && body(viaDirect) == body(viaLogger), "\(viaDirect)\n\(viaLogger)")
        }
        // Below the handler's level nothing is written, as through Logger.
        let quiet = try #require(
            LogfmtHandler.direct(Logger(label: "q") { LogfmtHandler(label: $0, output: p.output) }))
        quiet.write(level: .debug, message: "x", fields: [])
        #expect(p.drain().isEmpty)
    }

    @Test("no direct path when a line would need more than the fields: JSON lines, handler metadata, another handler")
    func noDirectPath() {
        let json = Logger(label: "t") { LogfmtHandler(label: $0, format: .json) }
        var tagged = Logger(label: "t") { LogfmtHandler(label: $0) }
        tagged[metadataKey: "worker"] = "w1"
        let other = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        #expect(LogfmtHandler.direct(json) == nil)
        #expect(LogfmtHandler.direct(tagged) == nil)
        #expect(LogfmtHandler.direct(other) == nil)
        #expect(LogfmtHandler.direct(Logger(label: "t") { LogfmtHandler(label: $0) }) != nil)
    }

    @Test("a held output writes nothing until flushed, then every line in order")
    func heldOutput() {
        let p = Pipe()
        let logger = Logger(label: "t") { LogfmtHandler(label: $0, output: p.output) }
        p.output.hold()
        logger.info("one")
        logger.info("two")
        #expect(p.drain().isEmpty)
        p.output.flush()
        let text = p.drain()
        #expect(
            text.components(separatedBy: "\n").map { $0.split(separator: " ").dropFirst(3).first ?? "" } == [
                "msg=one", "msg=two", "",
            ])
        logger.info("three")
        #expect(p.drain().contains("msg=three"), "not held any more")
    }

    @Test("JSON lines: one object per line")
    func jsonLines() throws {
        let p = Pipe()
        let logger = Logger(label: "t") { LogfmtHandler(label: $0, format: .json, output: p.output) }
        logger.warning("w", metadata: ["job": "a\nb"])
        let text = p.drain()
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1)
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(
            obj?["msg"] == "w" && obj?["job"] == "a\nb" && obj?["level"] == "warning"
                && obj?["ts"]?.hasSuffix("Z") == true)
    }
}

@Suite("Worker options")
struct WorkerOptionsTests {
    static func config(_ worker: String) throws -> CronqConfig {
        try ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://b"
            token = "tok"
            [worker]
            \(worker)
            [[jobs]]
            name = "a"
            schedule = "@hourly"
            path = "/a"
            """, path: "t.toml")
    }

    @Test("prefetch: the concurrency by default, the configured one, the flag; never below the concurrency")
    func prefetch() throws {
        #expect(WorkerOptions(config: try Self.config("concurrency = 8")).prefetch == 8)
        #expect(WorkerOptions(config: try Self.config("concurrency = 8"), concurrency: 3).prefetch == 3)
        let configured = try Self.config("concurrency = 8\nprefetch = 20")
        #expect(WorkerOptions(config: configured).prefetch == 20)
        #expect(WorkerOptions(config: configured, prefetch: 12).prefetch == 12)
        // A --concurrency above the configured prefetch takes the prefetch up with it.
        #expect(WorkerOptions(config: configured, concurrency: 50).prefetch == 50)
    }
}

@Suite("Ack coalescing")
struct AckCoalescerTests {
    @Test("a contiguous run of ready deliveries becomes one multiple ack")
    func contiguous() {
        var a = AckCoalescer()
        for t in 1...5 as ClosedRange<UInt64> { a.delivered(t) }
        for t in [3, 1, 2] as [UInt64] { a.ready(t) }
        #expect(a.flush() == .init(multipleUpTo: 3, singles: []))
        #expect(a.flush().isEmpty)
        a.ready(5)
        a.ready(4)
        #expect(a.flush() == .init(multipleUpTo: 5, singles: []))
        #expect(a.unsettled == 0)
    }

    @Test("a slow delivery does not hold back the acks after it: those go singly, and never twice")
    func gap() {
        var a = AckCoalescer()
        for t in 1...4 as ClosedRange<UInt64> { a.delivered(t) }
        a.ready(1)
        a.ready(3)
        a.ready(4)
        #expect(a.flush() == .init(multipleUpTo: 1, singles: [3, 4]))
        a.ready(2)
        // 2 is ready; 3 and 4 were already acked: one single ack for 2 (a multiple ack up to 2 would be as good).
        let f = a.flush()
        #expect(f.multipleUpTo == 2 && f.singles.isEmpty)
        #expect(a.unsettled == 0)
    }

    @Test("a multiple ack never covers a delivery still being worked on")
    func neverCoversWorking() {
        var a = AckCoalescer()
        for t in 10...13 as ClosedRange<UInt64> { a.delivered(t) }
        a.ready(11)
        a.ready(12)
        let f = a.flush()
        #expect(f.multipleUpTo == nil)
        #expect(f.singles.sorted() == [11, 12])
    }

    @Test("deliveries nacked elsewhere let the run continue past them; reset forgets the channel")
    func settledElsewhere() {
        var a = AckCoalescer()
        for t in 1...3 as ClosedRange<UInt64> { a.delivered(t) }
        a.settledElsewhere(1)
        a.ready(2)
        #expect(a.flush() == .init(multipleUpTo: 2, singles: []))
        a.reset()
        #expect(a.unsettled == 0)
        a.ready(3)
        #expect(a.flush().isEmpty)
    }

    @Test("random completion orders: every ready tag is acked exactly once and nothing working is covered")
    func randomised() {
        // Seeded: a failure names an order that can be run again.
        var rng = SplitMix64(seed: 0x5EED_AC75)
        for _ in 0..<200 {
            var a = AckCoalescer()
            let n = UInt64.random(in: 1...80, using: &rng)
            for t in 1...n { a.delivered(t) }
            var working = Set(1...n)
            var acked = Set<UInt64>()
            while !working.isEmpty {
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    guard let t = working.randomElement(using: &rng) else { break }
                    working.remove(t)
                    a.ready(t)
                }
                let f = a.flush()
                if let upTo = f.multipleUpTo {
                    #expect(working.allSatisfy { $0 > upTo })
                    acked.formUnion((1...upTo).filter { !acked.contains($0) })
                }
                for t in f.singles {
                    #expect(!acked.contains(t))
                    acked.insert(t)
                }
            }
            #expect(acked == Set(1...n))
        }
    }
}

@Suite("Outcome events")
struct OutcomeEventEncodingTests {
    @Test("the hand-written encoding is byte for byte what JSONEncoder with sorted keys writes")
    func matchesJSONEncoder() throws {
        let events = [
            OutcomeEvent(
                event: "succeeded", job: "a", messageID: "a@2026-01-01T00:00:00Z", scheduledAt: "2026-01-01T00:00:00Z",
                attempt: 1, status: 204, durationMs: 12, queue: "default", at: 1_767_225_600),
            OutcomeEvent(
                event: "dead", job: "unknown", messageID: "-", attempt: 3, reason: "malformed",
                error: "body \"quoted\" \\ and /slash\n", queue: "heavy", at: 0),
            OutcomeEvent(
                event: "retrying", job: "b", messageID: "m", status: 503, durationMs: 5, tier: "10s", error: "HTTP 503",
                at: 99),
        ]
        for e in events {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(String(decoding: e.encoded(), as: UTF8.self) == String(decoding: try enc.encode(e), as: UTF8.self))
            #expect(OutcomeEvent.decodeAll(e.encoded()) == [e], "read back by the one JSON reader")
        }
    }

    func ok(_ job: String, _ n: Int) -> OutcomeEvent {
        OutcomeEvent(event: "succeeded", job: job, messageID: "\(job)@\(n)", attempt: 1, status: 204, at: Int64(n))
    }

    @Test("a turn's events of one routing key share a message, one JSON object per line, in order")
    func batching() {
        var b = EventBatcher()
        #expect(b.isEmpty)
        let evil = OutcomeEvent(
            event: "dead", job: "a", messageID: "a@x", reason: "malformed", error: "line1\nline2\r\n{\"v\":1}", at: 5)
        for e in [ok("a", 1), ok("b", 2), evil, ok("a", 3)] { b.add(e) }
        let out = b.drain()
        #expect(b.isEmpty && b.drain().isEmpty)
        #expect(out.map(\.routingKey) == ["job.a.succeeded", "job.b.succeeded", "job.a.dead"])
        #expect(out.map(\.count) == [2, 1, 1])
        #expect(out.map(\.messageID) == ["a@1", "b@2", "a@x"])
        #expect(OutcomeEvent.decodeAll(out[0].body) == [ok("a", 1), ok("a", 3)])
        // One event: the same bytes a single event always had; a newline inside a string stays escaped.
        #expect(out[1].body == ok("b", 2).encoded())
        #expect(OutcomeEvent.decodeAll(out[2].body) == [evil])
        #expect(OutcomeEvent.lines(out[0].body).count == 2)
    }

    @Test("a burst is cut into messages of at most maxEvents events, none lost")
    func burst() {
        var b = EventBatcher()
        let n = EventBatcher.maxEvents * 2 + 3
        for i in 0..<n { b.add(ok("a", i)) }
        let out = b.drain()
        #expect(out.map(\.count) == [EventBatcher.maxEvents, EventBatcher.maxEvents, 3])
        #expect(out.flatMap { OutcomeEvent.decodeAll($0.body) } == (0..<n).map { ok("a", $0) })
    }

    @Test("a reader skips lines that are not events and keeps the rest")
    func foreignLines() {
        let body = Array("not json\n".utf8) + ok("a", 1).encoded() + Array("\n\n{\"event\":1}\n".utf8)
        #expect(OutcomeEvent.decodeAll(body) == [ok("a", 1)])
    }
}

@Suite("History folding")
struct HistoryFoldingTests {
    func e(_ event: String, _ id: String, attempt: Int? = nil, status: Int? = nil, at: Int64, reason: String? = nil)
        -> OutcomeEvent
    {
        OutcomeEvent(
            event: event, job: String(id.split(separator: "@")[0]), messageID: id,
            scheduledAt: String(id.split(separator: "@")[1]),
            attempt: attempt, status: status, durationMs: 5, reason: reason, at: at)
    }

    @Test("events fold into runs: success is final, then dead, then the latest state; newest first")
    func fold() {
        let runs = History.runs([
            e("fired", "a@2026-01-01T00:00:00Z", at: 10),
            e("fired", "b@2026-01-01T00:01:00Z", at: 70),
            e("retrying", "a@2026-01-01T00:00:00Z", attempt: 1, status: 503, at: 11),
            e("succeeded", "a@2026-01-01T00:00:00Z", attempt: 2, status: 200, at: 13),
            // a late duplicate
            e("dead", "a@2026-01-01T00:00:00Z", attempt: 1, status: 500, at: 14, reason: "exhausted"),
            e("retrying", "b@2026-01-01T00:01:00Z", attempt: 1, status: 503, at: 71),
            e("retrying", "b@2026-01-01T00:01:00Z", attempt: 2, status: 502, at: 73),
            e("fired", "c@2026-01-01T00:02:00Z", at: 120),
        ])
        #expect(
            runs.map(\.messageID) == ["c@2026-01-01T00:02:00Z", "b@2026-01-01T00:01:00Z", "a@2026-01-01T00:00:00Z"])
        #expect(runs[2].outcome == "succeeded" && runs[2].attempts == 2 && runs[2].status == 200)
        #expect(runs[1].outcome == "retrying" && runs[1].attempts == 2 && runs[1].status == 502, "the latest retry")
        #expect(runs[0].outcome == "fired" && runs[0].attempts == 0)
    }
}

@Suite("Job status and the dead-man switch")
struct JobStatusTests {
    static let config: CronqConfig = {
        var c = try! ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://app.example.com"
            token = "t"
            [[jobs]]
            name = "a"
            schedule = "*/5 * * * *"
            path = "/a"
            [[jobs]]
            name = "b"
            schedule = "0 * * * *"
            path = "/b"
            alert_after = "2h"
            [[jobs]]
            name = "c"
            schedule = "@daily"
            path = "/c"
            """, path: "t.toml")
        c.path = "t.toml"
        return c
    }()

    func e(_ event: String, _ job: String, at: Int64) -> OutcomeEvent {
        OutcomeEvent(event: event, job: job, messageID: "\(job)@\(at)", at: at)
    }

    @Test("rows: last fire and success, counts inside the window only, next fire")
    func rows() {
        let now: Int64 = 1_767_225_600 + 10 * 3600  // 2026-01-01T10:00:00Z
        let s = JobStatus(
            config: Self.config,
            events: [
                e("fired", "a", at: now - 7200), e("succeeded", "a", at: now - 7190),  // before the window
                e("fired", "a", at: now - 600), e("retrying", "a", at: now - 590), e("succeeded", "a", at: now - 580),
                e("fired", "b", at: now - 300), e("dead", "b", at: now - 290), e("fired", "zzz", at: now - 10),
            ], windowStart: now - 3600, now: now)
        let a = s.rows[0], b = s.rows[1], c = s.rows[2]
        #expect(a.lastFired == now - 600 && a.lastSuccess == now - 580)
        #expect(a.fired == 1 && a.succeeded == 1 && a.retrying == 1 && a.dead == 0, "counts cover the window only")
        #expect(a.nextFire == now + 300)
        #expect(b.dead == 1 && b.lastSuccess == nil && b.alertAfterSeconds == 7200)
        #expect(c.lastFired == nil && c.nextFire == 1_767_225_600 + 86_400)
        #expect(s.rows.count == 3, "events of unknown jobs are ignored")
    }

    @Test(
        "the dead-man switch: silent longer than the limit alerts, a recent success does not; flags override the config"
    )
    func silence() {
        let now: Int64 = 1_800_000_000
        let recent = JobStatus(
            config: Self.config, events: [e("succeeded", "b", at: now - 3600)], windowStart: now - 86_400, now: now)
        #expect(recent.alerts.isEmpty, "b succeeded an hour ago; its alert_after is 2h")
        let old = JobStatus(
            config: Self.config, events: [e("succeeded", "b", at: now - 3 * 3600)], windowStart: now - 86_400, now: now)
        #expect(old.alerts == ["job b: no success for over 2h: last success 3h ago (\(Timestamp.iso(now - 3 * 3600)))"])
        let never = JobStatus(
            config: Self.config, events: [], windowStart: now - 86_400, now: now,
            maxSilence: ["a": .seconds(60), "b": .seconds(86_400)])
        #expect(
            never.alerts == [
                "job a: no success for over 1m: no success on record",
                "job b: no success for over 1d: no success on record",
            ])
        #expect(JobStatus.parseSilence("ee-recent=30m")?.limit == .seconds(1800))
        #expect(
            JobStatus.parseSilence("ee-recent") == nil && JobStatus.parseSilence("=5m") == nil
                && JobStatus.parseSilence("a=soon") == nil)
        #expect(
            JobStatus.age(59) == "59s" && JobStatus.age(3 * 3600 + 120) == "3h2m"
                && JobStatus.age(2 * 86_400 + 3600) == "2d1h")
    }

    @Test(
        "windowed and one-off jobs: state in the rows; ended and done jobs do not alert on silence, a missed one-off does"
    )
    func lifecycleRows() throws {
        let now: Int64 = 1_800_000_000
        let config = try ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://b"
            token = "t"
            [[jobs]]
            name = "ended"
            schedule = "@hourly"
            path = "/x"
            end = "\(Timestamp.iso(now - 86_400))"
            alert_after = "1h"
            [[jobs]]
            name = "done"
            at = "\(Timestamp.iso(now - 7200))"
            path = "/x"
            alert_after = "1h"
            [[jobs]]
            name = "missed"
            at = "\(Timestamp.iso(now - 7200))"
            path = "/x"
            [[jobs]]
            name = "later"
            at = "\(Timestamp.iso(now + 7200))"
            path = "/x"
            """, path: "t.toml")
        let s = JobStatus(
            config: config, events: [], windowStart: now - 3600, now: now, checkpointFired: ["done": now - 7200])
        #expect(s.rows.map(\.lifecycle) == [.ended, .done, .missed, .notStarted])
        #expect(s.rows[3].nextFire == now + 7200 && s.rows[0].nextFire == nil && s.rows[1].nextFire == nil)
        #expect(s.alerts == ["job missed: its one-off instant passed without a fire on record"], "\(s.alerts)")
        #expect(s.table().contains("STATE"))
    }
}
