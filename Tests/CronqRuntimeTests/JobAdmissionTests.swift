import CronqAMQP
import CronqCore
import Foundation
import Testing

@testable import CronqRuntime

/// The worker's checks before a call, as a table: no broker, no clock.
@Suite("Job admission")
struct JobAdmissionTests {
    static let key = String(repeating: "k", count: 40)

    static func config(key: Bool = false, accept: String = "any") throws -> CronqConfig {
        try ConfigLoader(environment: [:]).parse(
            """
            [amqp]
            \(key ? "message_key = \"\(Self.key)\"" : "")
            [backends.default]
            base_url = "https://b"
            token = "t"
            [retry]
            max_attempts = 4
            backoff = ["10s", "1m"]
            max_duration = "1h"
            [worker]
            accept = "\(accept)"
            [[jobs]]
            name = "known"
            schedule = "@daily"
            path = "/cron/known"
            retry = { max_attempts = 2, max_duration = "10m" }
            """, path: "t.toml")
    }

    static func message(
        job: String = "known", method: String = "POST", path: String = "/cron/known", attempts: Int = 1000,
        maxDurationS: Int = 1_000_000, sign: String? = nil
    ) -> AMQPMessage {
        let m = JobMessage(
            job: job, scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
            request: .init(method: method, path: path, headers: [:], body: nil, timeoutMs: 1000),
            retry: .init(maxAttempts: attempts, backoff: ["10s"], maxDurationS: maxDurationS))
        var out = AMQPMessage(body: m.encoded(), properties: AMQPProperties(messageID: m.messageID))
        if let sign { MessageSignature.apply(to: &out, key: Secret(sign)) }
        return out
    }

    static func reason(_ r: Result<JobMessage, JobAdmission.Refusal>) -> DeadReason? {
        if case .failure(let f) = r { return f.reason }
        return nil
    }

    @Test("attempts and max duration are capped by the job's retry, or by [retry] for a job the worker does not know")
    func caps() throws {
        let a = JobAdmission(config: try Self.config())
        let known = try a.admit(Self.message()).get()
        #expect(known.retry.maxAttempts == 2 && known.retry.maxDurationS == 600)
        let unknown = try a.admit(Self.message(job: "stranger")).get()
        #expect(unknown.retry.maxAttempts == 4 && unknown.retry.maxDurationS == 3600)
        let modest = try a.admit(Self.message(attempts: 1, maxDurationS: 5)).get()
        #expect(modest.retry.maxAttempts == 1 && modest.retry.maxDurationS == 5, "asking for less is kept")
    }

    @Test("with a key: signed passes; unsigned, wrong key, changed body or changed id are unauthenticated")
    func signatures() throws {
        let a = JobAdmission(config: try Self.config(key: true))
        #expect((try? a.admit(Self.message(sign: Self.key)).get()) != nil)
        #expect(Self.reason(a.admit(Self.message())) == .unauthenticated)
        #expect(Self.reason(a.admit(Self.message(sign: String(repeating: "z", count: 40)))) == .unauthenticated)
        var changedBody = Self.message(sign: Self.key)
        changedBody.body = Self.message(path: "/cron/other").body
        #expect(Self.reason(a.admit(changedBody)) == .unauthenticated)
        var changedID = Self.message(sign: Self.key)
        changedID.properties.messageID = "known@2026-11-29T10:05:00Z"
        #expect(Self.reason(a.admit(changedID)) == .unauthenticated)
        var garbage = Self.message()
        garbage.properties.headers = [
            JobMessageProperties.signatureHeader: .string("v1,@@@ v2,x " + String(repeating: "A", count: 5000))
        ]
        #expect(Self.reason(a.admit(garbage)) == .unauthenticated)
        // Checked before the body is parsed: an unsigned malformed body says nothing about its body.
        #expect(
            Self.reason(a.admit(AMQPMessage(body: Array("nonsense".utf8), properties: AMQPProperties(messageID: "x"))))
                == .unauthenticated)
    }

    @Test("a signature survives a retry and a replay unchanged")
    func signatureSurvivesRepublish() throws {
        let a = JobAdmission(config: try Self.config(key: true))
        let signed = Self.message(sign: Self.key)
        let retried = Republish.retry(signed, tier: "10s", nextAttempt: 2, firstAttemptAt: 0)
        #expect((try? a.admit(retried).get()) != nil)
        let dead = Republish.dead(
            signed, reason: "exhausted", status: 503, error: "HTTP 503", attempt: 2, queue: "q", at: 0)
        #expect((try? a.admit(DeadLetters.replayMessage(dead)).get()) != nil)
    }

    @Test("accept = configured: unknown job, other method, other path are unknown_job; the job as configured passes")
    func acceptConfigured() throws {
        let a = JobAdmission(config: try Self.config(accept: "configured"))
        #expect((try? a.admit(Self.message()).get()) != nil)
        #expect(Self.reason(a.admit(Self.message(job: "stranger"))) == .unknownJob)
        #expect(Self.reason(a.admit(Self.message(method: "DELETE"))) == .unknownJob)
        #expect(Self.reason(a.admit(Self.message(path: "/cron/other"))) == .unknownJob)
    }

    @Test("too big, too deep, unknown backend")
    func limits() throws {
        let a = JobAdmission(config: try Self.config())
        var big = Self.message()
        big.droppedBodyBytes = 5 << 20
        if case .failure(let f) = a.admit(big) {
            #expect(f.rejectToBroker && f.reason == .malformed)
        } else {
            Issue.record("admitted")
        }
        var deep = Self.message()
        deep.properties.headersTooDeep = true
        #expect(Self.reason(a.admit(deep)) == .malformed)
        let m = JobMessage(
            job: "known", scheduledAt: "2026-11-28T10:05:00Z", backend: "elsewhere",
            request: .init(method: "POST", path: "/cron/known", headers: [:], body: nil, timeoutMs: 1000),
            retry: .init(maxAttempts: 1, backoff: ["10s"], maxDurationS: 60))
        #expect(Self.reason(a.admit(AMQPMessage(body: m.encoded()))) == .malformed)
    }

    @Test("metrics labels: configured job names and tiers only")
    func metricsLabels() throws {
        let a = JobAdmission(config: try Self.config())
        #expect(a.metricsJob("known") == "known" && a.metricsJob("x-\(UUID())") == "other")
        #expect(a.metricsTier("1m") == "1m" && a.metricsTier("7s") == "other")
    }

    @Test("re-published properties: an allow-list, never user_id, expiration, CC or nested tables")
    func carriedProperties() {
        let p = AMQPProperties(
            contentType: "text/evil", contentEncoding: "gzip",
            headers: [
                "CC": .array([.string("q")]), "BCC": .array([.string("q")]), "x-death": .array([]),
                "cronq-attempt": .int32(2),
                "cronq-signature": .string("v1,abc"), "cronq-publish-id": .string("7"),
                "cronq-nested": .table(["a": .int8(1)]),
            ],
            deliveryMode: 1, priority: 9, correlationID: "c", replyTo: "r", expiration: "1", messageID: "m",
            timestamp: 5, type: "t",
            userID: "attacker", appID: "a")
        let c = Republish.carried(p)
        #expect(
            c
                == AMQPProperties(
                    contentType: "application/json",
                    headers: ["cronq-attempt": .int32(2), "cronq-signature": .string("v1,abc")], deliveryMode: 2,
                    messageID: "m", timestamp: 5, type: "t", appID: "a"))
    }

    @Test("cronq trigger: signed with the key, and routed to a serial job's own queue")
    func triggerMessage() throws {
        var c = try Self.config(key: true)
        c.jobs[0].overlap = .serial
        let (out, id) = Trigger.message(
            for: c.jobs[0], names: .init(prefix: "cronq"), now: 1_800_000_000, key: c.amqp.messageKey)
        #expect(
            out.routingKey == "serial.known", "not the shared work queue: a manual run of a serial job waits its turn")
        #expect(id == "known@manual-2027-01-15T08:00:00Z")
        #expect((try? JobAdmission(config: c).admit(out.message).get()) != nil, "a worker with the key accepts it")
    }
}

@Suite("Escaping for terminals")
struct TerminalEscapingTests {
    @Test("tail and history tables escape control characters from events")
    func tailAndHistory() {
        let e = OutcomeEvent(
            event: "dead", job: "j", messageID: "m\u{1B}[2J", attempt: 1, reason: "malformed",
            error: "bad\r\nforged\u{07}",
            at: 0)
        let line = Tail.pretty(e)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 }, "\(line.debugDescription)")
        #expect(line.contains("\\u{1B}[2J") && line.contains("\\r\\nforged"))
        let table = TextTable.render([["ID", "ERROR"], ["m\u{1B}]0;x\u{07}", "a\nb"]])
        #expect(!table.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        #expect(table.split(separator: "\n").count == 2, "a newline in a cell does not make a row")
    }
}

@Suite("Topology upgrades")
struct TopologyUpgradeTests {
    @Test("a queue of an earlier cronq that lacks a cluster argument is tolerated; other conflicts are not")
    func tolerated() {
        let missing =
            "PRECONDITION_FAILED - inequivalent arg 'x-quorum-initial-group-size' for queue 'cronq.dead' in vhost '/': received the value '3' of type 'long' but current is none"
        #expect(TopologyDeclarer.tolerated(missing) == .init(argument: "x-quorum-initial-group-size", current: nil))
        let otherSize =
            "PRECONDITION_FAILED - inequivalent arg 'x-quorum-initial-group-size' for queue 'q' in vhost '/': received '5' but current is '3'"
        #expect(
            TopologyDeclarer.tolerated(otherSize) == .init(argument: "x-quorum-initial-group-size", current: 3),
            "an initial size cannot change: keep it")
        let typed =
            "PRECONDITION_FAILED - inequivalent arg 'x-initial-cluster-size' for queue 'h' in vhost '/': received none but current is the value '3' of type 'long'"
        #expect(TopologyDeclarer.tolerated(typed) == .init(argument: "x-initial-cluster-size", current: 3))
        let noLimit =
            "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'cronq.dead' in vhost '/': received the value '1000000' of type 'long' but current is none"
        #expect(TopologyDeclarer.tolerated(noLimit) == .init(argument: "x-delivery-limit", current: nil))
        let otherLimit =
            "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in vhost '/': received '20' but current is '5'"
        #expect(
            TopologyDeclarer.tolerated(otherLimit) == nil, "a work queue's limit set differently is a real conflict")
        let ttl =
            "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received '10000' but current is none"
        #expect(TopologyDeclarer.tolerated(ttl) == nil)
    }
}
