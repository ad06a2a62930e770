import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// The attacks of issue #16, through the real binaries and broker: a separate RabbitMQ user that may
/// only publish to the jobs exchange sends each hostile message; the backend logs where every request
/// was aimed and whether a token ever rode in a body. Every case ends with the worker alive, no request
/// that no configured job allows, and every message accounted for (succeeded or dead, none lost).
@Suite(
    "Hostile messages", .serialized,
    .enabled(if: TestBroker.isConfigured && TestBroker.node != nil, "run under `make test`"))
struct HostileTests {
    /// A user that may publish to `<prefix>.jobs` and nothing else.
    final class Attacker {
        let user: String
        let url: String

        init(prefix: String) throws {
            user = "\(prefix)-attacker"
            let password = "pw-\(UUID().uuidString.prefix(8))"
            _ = try TestBroker.ctl(["add_user", user, password])
            let p = NSRegularExpression.escapedPattern(for: prefix)
            _ = try TestBroker.ctl(["set_permissions", "-p", "/", user, "^$", "^\(p)\\.jobs$", "^$"])
            url = TestBroker.url!.replacingOccurrences(of: "guest:guest@", with: "\(user):\(password)@")
        }

        func remove() { _ = try? TestBroker.ctl(["delete_user", user]) }
    }

    static func body(
        _ h: WorkerHarness, job: String = "probe", method: String = "POST", path: String,
        headers: [String: String] = [:],
        body: String? = nil, maxAttempts: Int = 3, id: String
    ) -> AMQPMessage {
        let m = JobMessage(
            job: job, scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
            request: .init(method: method, path: path, headers: headers, body: body, timeoutMs: 5000),
            retry: .init(maxAttempts: maxAttempts, backoff: ["1s"], maxDurationS: 3600))
        return h.raw(m.encoded(), id: id)
    }

    /// Every request the backend saw was aimed at it, authorized, and no body carried a token.
    static func noLeak(_ h: WorkerHarness) {
        let port = h.backend.port
        for r in h.requests() {
            #expect(r["host"] as? String == "127.0.0.1:\(port)", "request aimed elsewhere: \(r)")
            #expect(r["body_has_token"] as? Bool == false, "a token rode in a body: \(r)")
            #expect(r["body_has_authorization"] as? Bool == false, "an Authorization header rode in a body: \(r)")
        }
    }

    static func deadReasons(_ dead: [AMQPDelivery]) -> [String: String] {
        var out: [String: String] = [:]
        for d in dead {
            out[d.message.properties.messageID ?? "-"] =
                d.message.properties.headers?["cronq-dead-reason"]?.stringValue ?? "?"
        }
        return out
    }

    @Test(
        "framing, target and path attacks are dead-lettered unsent; retries do not carry user_id, expiration or CC; attempts are capped"
    )
    func messages() throws {
        let h = try WorkerHarness(backoff: ["1s"], maxAttempts: 2)
        defer { h.stop() }
        let attacker = try Attacker(prefix: h.prefix)
        defer { attacker.remove() }
        let worker = try h.startWorker()
        var userID = Self.body(h, path: "/status/503", maxAttempts: 2, id: "user-id")
        userID.properties.userID = attacker.user
        var expiring = Self.body(h, path: "/status/404", id: "expiring")
        expiring.properties.expiration = "2000"  // outlives the trip to the worker, not the check below
        var cc = Self.body(h, path: "/status/503", maxAttempts: 2, id: "cc")
        cc.properties.headers = [
            "CC": .array([.string("default"), .string("default")]), "BCC": .array([.string("default")]),
        ]
        let attacks: [(AMQPMessage, String)] = [
            (Self.body(h, path: "/cron/ee-recent", headers: ["Host": "other.vhost"], id: "host"), "malformed"),
            (
                Self.body(
                    h, path: "/cron/ee-recent", headers: ["Content-Length": "0"],
                    body: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n", id: "smuggle"), "malformed"
            ),
            (
                Self.body(h, path: "/cron/ee-recent", headers: ["transfer-encoding": "chunked"], id: "chunked"),
                "malformed"
            ),
            (Self.body(h, path: "/cron/../echo", id: "dotdot"), "malformed"),
            (Self.body(h, path: "/cron/%2e%2e/echo", id: "encoded-dotdot"), "malformed"),
            (Self.body(h, path: "/cron/x", headers: ["X-Cronq-Job": "forged"], id: "forged-header"), "malformed"),
            (userID, "exhausted"),
            (expiring, "http_404"),
            (cc, "exhausted"),
            (Self.body(h, path: "/status/503", maxAttempts: 1000, id: "thousand"), "exhausted"),
            (
                Self.body(
                    h, path: "/retry-after/Sun%2C%2006%20Nov%20999999999999%2008%3A49%3A37%20GMT", maxAttempts: 2,
                    id: "retry-after"), "exhausted"
            ),
        ]
        try h.publish(attacks.map(\.0), as: attacker.url)
        #expect(h.eventually(40) { (try? h.count(h.names.deadQueue)) == UInt32(attacks.count) })
        // Nothing more arrives (a CC copy or a retry loop would).
        Thread.sleep(forTimeInterval: 3)
        let dead = try h.drain(h.names.deadQueue)
        #expect(
            Self.deadReasons(dead)
                == Dictionary(uniqueKeysWithValues: attacks.map { ($0.0.properties.messageID!, $0.1) }))
        #expect(dead.allSatisfy { $0.message.properties.userID == nil && $0.message.properties.expiration == nil })
        let calls = Dictionary(grouping: h.requests(), by: { $0["idempotency_key"] as? String ?? "-" }).mapValues(
            \.count)
        for id in ["host", "smuggle", "chunked", "dotdot", "encoded-dotdot", "forged-header"] {
            #expect(calls[id] == nil, "\(id) was called")
        }
        #expect(calls["user-id"] == 2 && calls["cc"] == 2 && calls["retry-after"] == 2 && calls["expiring"] == 1)
        #expect(calls["thousand"] == 2, "max_attempts 1000 capped by the config's 2")
        #expect(!h.requests().contains { ($0["path"] as? String)?.contains("echo") == true })
        #expect(worker.process.isRunning, "the worker survived every case")
        #expect(!h.workerLogs().contains("broker closed"), "no channel was closed by a copied property")
        Self.noLeak(h)
    }

    @Test(
        "with a message key: unsigned and badly signed messages are dead `unauthenticated` and never called; signed ones run"
    )
    func signatures() throws {
        let key = "k-" + String(repeating: "x", count: 40)
        let h = try WorkerHarness(amqpExtra: "message_key = \"\(key)\"")
        defer { h.stop() }
        let attacker = try Attacker(prefix: h.prefix)
        defer { attacker.remove() }
        let worker = try h.startWorker()
        var good = Self.body(h, path: "/cron/ee-recent", id: "signed")
        MessageSignature.apply(to: &good, key: Secret(key))
        var wrongKey = Self.body(h, path: "/cron/ee-recent", id: "wrong-key")
        MessageSignature.apply(to: &wrongKey, key: Secret(String(repeating: "y", count: 40)))
        var swapped = Self.body(h, path: "/cron/parties-import", id: "signed")  // a good signature on another body
        swapped.properties.headers = good.properties.headers
        swapped.properties.messageID = "signed"
        try h.publish(
            [Self.body(h, path: "/cron/ee-recent", id: "unsigned"), wrongKey, swapped, good], as: attacker.url)
        #expect(h.eventually(20) { (try? h.count(h.names.deadQueue)) == 3 })
        #expect(h.eventually(10) { h.requests().contains { $0["idempotency_key"] as? String == "signed" } })
        let dead = try h.drain(h.names.deadQueue)
        #expect(
            dead.allSatisfy { $0.message.properties.headers?["cronq-dead-reason"]?.stringValue == "unauthenticated" })
        #expect(h.requests().count == 1 && h.requests().first?["path"] as? String == "/cron/ee-recent")
        #expect(worker.process.isRunning)
        Self.noLeak(h)

        // Replaying does not launder them: without --sign-unsigned they stay dead (exit 1); the dry run
        // shows what each would send.
        let names = h.names
        let planted = dead.map(\.message)
        try onThreadSync { [brokerURL = h.brokerURL] in
            let ch = try AMQPConnection(url: AMQPURL(brokerURL)).openChannel()
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm(
                planted.map { OutgoingMessage(exchange: names.deadExchange, routingKey: "default", message: $0) })
        }
        let env = ["WT_TOKEN": h.token]
        let dry = try runCommand("cronq", ["dead", "replay", "--dry-run", "--config", h.configPath], environment: env)
        #expect(
            dry.status == 0 && dry.stdout.contains("POST default /cron/ee-recent")
                && dry.stdout.contains("3 not signed"), "\(dry.stdout)")
        let refused = try runCommand("cronq", ["dead", "replay", "--config", h.configPath], environment: env)
        #expect(
            refused.status == 1 && refused.stdout.contains("replayed 0") && refused.stdout.contains("3 not signed"),
            "\(refused.stdout)")
        #expect(try h.count(names.deadQueue) == 3)
        let vouched = try runCommand(
            "cronq", ["dead", "replay", "--sign-unsigned", "--id", "unsigned", "--config", h.configPath],
            environment: env)
        #expect(vouched.status == 0 && vouched.stdout.contains("replayed 1"), "\(vouched.stdout) \(vouched.stderr)")
        #expect(
            h.eventually(10) { h.requests().contains { $0["idempotency_key"] as? String == "unsigned" } },
            "signed by the replay, it runs")
    }

    @Test("worker.accept = configured: unknown jobs and changed paths are dead `unknown_job`")
    func acceptConfigured() throws {
        let h = try WorkerHarness(extraConfig: "accept = \"configured\"")
        defer { h.stop() }
        try h.startWorker()
        try h.publish([
            Self.body(h, job: "probe", path: "/cron/ee-recent", id: "as-configured"),
            Self.body(h, job: "probe", path: "/cron/parties-import", id: "other-path"),
            Self.body(h, job: "probe", method: "DELETE", path: "/cron/ee-recent", id: "other-method"),
            Self.body(h, job: "nobody", path: "/cron/ee-recent", id: "unknown"),
        ])
        #expect(h.eventually(20) { (try? h.count(h.names.deadQueue)) == 3 })
        #expect(h.eventually(10) { h.requests().contains { $0["idempotency_key"] as? String == "as-configured" } })
        #expect(Set(Self.deadReasons(try h.drain(h.names.deadQueue)).values) == ["unknown_job"])
        #expect(h.requests().count == 1)
    }

    @Test("headers nested thousands of tables deep: the worker dead-letters, `cronq dead show` prints without crashing")
    func deepHeaders() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        let worker = try h.startWorker()
        var deep = AMQPFieldValue.string("bottom")
        for _ in 0..<3000 { deep = .table(["n": deep]) }
        var m = Self.body(h, path: "/cron/ee-recent", id: "deep")
        m.properties.headers = ["deep": deep]
        let plain = Self.body(h, path: "/cron/ee-recent", id: "deep-dead")
        var planted = plain
        planted.properties.headers = ["deep": deep, "cronq-dead-reason": .string("planted")]
        let names = h.names
        let (deepMessage, plantedMessage) = (m, planted)
        // A big stack for building the frame (our own encoder recurses); the worker and CLI must not need one.
        try onThreadSync(stackSize: 256 << 20) { [brokerURL = h.brokerURL] in
            let c = try AMQPConnection(url: AMQPURL(brokerURL))
            let ch = try c.openChannel()
            try ch.enableConfirms()
            let r = try ch.publishAndConfirm([
                OutgoingMessage(exchange: names.jobsExchange, routingKey: "default", message: deepMessage),
                OutgoingMessage(exchange: names.deadExchange, routingKey: "default", message: plantedMessage),
            ])
            guard r.allSatisfy({ $0 == .confirmed }) else { throw TestSupportError("not confirmed: \(r)") }
        }
        #expect(h.eventually(20) { (try? h.count(h.names.deadQueue)) == 2 })
        #expect(worker.process.isRunning)
        let show = try runCommand(
            "cronq", ["dead", "show", "deep-dead", "--config", h.configPath], environment: ["WT_TOKEN": h.token])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("nested deeper"))
        let list = try runCommand(
            "cronq", ["dead", "list", "--config", h.configPath], environment: ["WT_TOKEN": h.token])
        #expect(
            list.status == 0 && list.stdout.contains("malformed")
                && list.stdout.contains("POST default /cron/ee-recent"))
        #expect(h.requests().isEmpty)
    }

    @Test("control characters from a message are escaped in `cronq dead list` and `dead show`")
    func controlCharacters() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        let evil = "x\u{1B}[2J\r\nforged line"
        var m = h.raw(Array("not json \u{1B}[31m red".utf8), id: evil)
        m.properties.headers = ["note": .string("a\u{1B}]0;title\u{07}b")]
        let names = h.names
        let message = m
        try onThreadSync { [brokerURL = h.brokerURL] in
            let ch = try AMQPConnection(url: AMQPURL(brokerURL)).openChannel()
            try ch.enableConfirms()
            _ = try ch.publishAndConfirm([
                OutgoingMessage(exchange: names.deadExchange, routingKey: "default", message: message)
            ])
        }
        let list = try runCommand(
            "cronq", ["dead", "list", "--config", h.configPath], environment: ["WT_TOKEN": h.token])
        let show = try runCommand(
            "cronq", ["dead", "show", evil, "--config", h.configPath], environment: ["WT_TOKEN": h.token])
        for out in [list.stdout, show.stdout] {
            #expect(
                !out.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0 == "\r" },
                "\(out.debugDescription)")
            #expect(out.contains("\\u{1B}"))
        }
    }
}

extension HostileTests {
    @Test(
        "a hostile backend: broken status lines, giant or flooding headers, control characters, giant Retry-After, 10 MiB and trickling bodies"
    )
    func hostileBackend() throws {
        let h = try WorkerHarness(backoff: ["1s"], maxAttempts: 2, timeout: "2s")
        defer { h.stop() }
        let worker = try h.startWorker()
        let paths = [
            "/raw/giant-status", "/raw/negative-status", "/raw/no-status-line", "/raw/huge-header", "/raw/header-flood",
            "/raw/control-headers", "/raw/retry-after-giant", "/raw/retry-after-digits", "/raw/short-body",
            "/huge-body/10485760",
            "/trickle/100",
        ]
        try h.publish(paths.enumerated().map { i, p in Self.body(h, path: p, maxAttempts: 2, id: "answer-\(i)") })
        // Each ends succeeded (the 10 MiB body is a 200) or dead after its attempts; none is lost, the worker lives.
        #expect(
            h.eventually(60) {
                let dead = (try? h.count(h.names.deadQueue)) ?? 0
                let ok = h.workerLogs().components(separatedBy: "outcome=success").count - 1
                return Int(dead) + ok == paths.count
            })
        #expect(worker.process.isRunning, "the worker survived every answer")
        #expect(
            h.workerLogs().contains("outcome=success") && h.workerLogs().contains("answer-9"),
            "the 10 MiB answer is a success")
        let logs = h.workerLogs()
        #expect(
            !logs.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 },
            "a control character from an answer reached the log")
        let dead = try h.drain(h.names.deadQueue)
        #expect(
            dead.allSatisfy {
                ($0.message.properties.headers?["cronq-dead-error"]?.stringValue ?? "").unicodeScalars.allSatisfy {
                    $0.value >= 0x20
                }
            })
        #expect(dead.count == paths.count - 1)
    }
}

extension HostileTests {
    @Test(
        "a dead letter whose publish is returned (dead queue unbound) stays unacked, even without a message id; rebinding delivers it"
    )
    func returnedDeadLetterIsNotLost() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        let names = h.names
        // After the worker connected: it declares the topology, binding included, on every connect.
        try h.startWorker()
        #expect(h.eventually(10) { h.workerLogs().contains("msg=connected") })
        try onThreadSync { [brokerURL = h.brokerURL] in
            try AMQPConnection(url: AMQPURL(brokerURL)).openChannel().unbindQueue(
                names.deadQueue, exchange: names.deadExchange, routingKey: "")
        }
        // Two malformed messages without a message id, and one with the same id as a good message in flight.
        var noID1 = h.raw(Array("not json 1".utf8), id: "x")
        noID1.properties.messageID = nil
        var noID2 = h.raw(Array("not json 2".utf8), id: "x")
        noID2.properties.messageID = nil
        try h.publish([
            noID1, noID2, h.raw(Array("not json 3".utf8), id: "shared"),
            h.message(path: "/cron/ee-recent", id: "shared"),
        ])
        #expect(h.eventually(10) { h.requests().contains { $0["idempotency_key"] as? String == "shared" } })
        // Each returned dead letter is held unacked (not requeued in a loop, not acked: not lost).
        #expect(h.eventually(10) { h.workerLogs().components(separatedBy: "dead letter unroutable").count > 3 })
        Thread.sleep(forTimeInterval: 1)
        #expect(try h.count(names.deadQueue) == 0)
        #expect(try h.count(names.workQueue("default")) == 0, "held by the worker, unacked")
        #expect(!h.workerLogs().contains("outcome=dead"), "a returned dead letter must not count as dead")
        try onThreadSync { [brokerURL = h.brokerURL] in
            try AMQPConnection(url: AMQPURL(brokerURL)).openChannel().bindQueue(
                names.deadQueue, exchange: names.deadExchange, routingKey: "")
        }
        // The next attempt finds the queue: all three arrive, with their cronq-dead headers, and are acked.
        #expect(h.eventually(20) { (try? h.count(names.deadQueue)) == 3 })
        let dead = try h.drain(names.deadQueue)
        #expect(dead.allSatisfy { $0.message.properties.headers?["cronq-dead-reason"]?.stringValue == "malformed" })
        h.workers[0].stop()
        #expect(try h.count(names.workQueue("default")) == 0)
    }
}
