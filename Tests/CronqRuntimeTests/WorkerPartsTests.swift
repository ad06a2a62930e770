import CronqAMQP
import CronqCore
import CronqHTTP
@testable import CronqRuntime
import Logging
import Synchronization
import Testing

@Suite("Worker parts")
struct WorkerPartsTests {
    static let backend = CronqConfig.Backend(
        name: "default", baseURL: "https://app.example.com/api", token: Secret("t0ken-xyz"), timeout: .seconds(10),
        connectTimeout: .seconds(3), signingSecret: nil, caFile: nil)

    static let message = JobMessage(
        job: "every5min", scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
        request: .init(method: "POST", path: "/cron/ee-recent", headers: ["X-Source": "cronq"], body: "{}", timeoutMs: 30000),
        retry: .init(maxAttempts: 5, backoff: ["10s"], maxDurationS: 600))

    @Test("the request: URL on the backend's origin, every header of DESIGN.md, timeout capped by the backend")
    func request() {
        let r = BackendRequest.make(Self.message, messageID: "every5min@2026-11-28T10:05:00Z", attempt: 2, backend: Self.backend, now: 0)
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
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(h.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(h[2].value == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        var signed = Self.backend
        signed.signingSecret = Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let r = BackendRequest.make(Self.message, messageID: "id1", attempt: 1, backend: signed, now: 1_614_265_330)
        #expect(r.headers.contains { $0.name == "webhook-id" && $0.value == "id1" })
        #expect(r.headers.contains { $0.name == "webhook-timestamp" && $0.value == "1614265330" })
    }

    @Test("HTTP results map onto the outcome rules")
    func callResults() {
        #expect(BackendRequest.callResult(.success(HTTPResponse(status: 503, retryAfter: "5"))) == .response(status: 503, retryAfter: "5"))
        #expect(BackendRequest.callResult(.failure(HTTPError(.timeout, detail: "t"))) == .failure(retryable: true, error: "timed out: t"))
        #expect(BackendRequest.callResult(.failure(HTTPError(.connectRefused, detail: "r"))) == .failure(retryable: true, error: "connection refused: r"))
        #expect(BackendRequest.callResult(.failure(HTTPError(.invalidRequest, detail: "x"))) == .failure(retryable: false, error: "invalid request: x"))
    }

    @Test("a retry strips x-* headers, sets tier and attempt, and remembers the first attempt")
    func retryMessage() {
        let original = AMQPMessage(body: [1, 2], properties: AMQPProperties(
            headers: ["x-death": .array([]), "x-delivery-count": .int64(2), "cronq-replayed": .int32(1)], deliveryMode: 2, messageID: "m"))
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
            AMQPMessage(body: []), reason: "http_401", status: 401, error: "denied for t0ken-xyz\nsecond line", attempt: 1,
            queue: "cronq.jobs.default", at: 0, scrub: [Secret("t0ken-xyz")])
        #expect(d.properties.headers?["cronq-dead-error"] == .string("denied for *** second line"))
        #expect(Republish.safeError(String(repeating: "a", count: 500), scrub: []).count == 200)
    }

    @Test("logfmt lines: one per event, sorted metadata, quoted values")
    func logfmt() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "t") { LogfmtHandler(label: $0, sink: { l in lines.withLock { $0.append(l) } }) }
        logger[metadataKey: "b"] = "2"
        logger.info("fired", metadata: ["job": "every5min", "error": "HTTP 503 after x=1"])
        let line = lines.withLock { $0 }.first ?? ""
        #expect(line.contains(" level=info app=t msg=fired b=2 error=\"HTTP 503 after x=1\" job=every5min"), "\(line)")
        #expect(line.hasPrefix("ts=20"))
        #expect(!line.contains("\n"))
    }
}
