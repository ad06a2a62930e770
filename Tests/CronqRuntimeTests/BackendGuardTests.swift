import CronqAMQP
import CronqCore
import Testing

@testable import CronqRuntime

/// The backend guard as tables: the breaker's states, the permits and tokens one worker holds, and the
/// worker machine's guarded start loop. No broker, no clock.
@Suite("Backend guard")
struct BackendGuardTests {
    func s(_ n: Int) -> Duration { .seconds(n) }

    @Test("breaker: opens after N consecutive failures, a success in between resets the count; each is announced")
    func opens() {
        var b = CircuitBreaker(.init(failures: 3, coolDown: .seconds(30)))
        #expect(b.succeeded(probe: false, now: s(0)) == nil, "a healthy backend costs no announcement")
        #expect(b.failed(probe: false, now: s(0)) == .failure)
        #expect(b.failed(probe: false, now: s(0)) == .failure)
        #expect(b.succeeded(probe: false, now: s(1)) == .success, "the first success after failures")
        #expect(b.failed(probe: false, now: s(2)) == .failure)
        #expect(b.failed(probe: false, now: s(2)) == .failure)
        #expect(b.failed(probe: false, now: s(3)) == .open)
        #expect(b.admit(now: s(4)) == .wait(until: s(33)))
        #expect(b.failed(probe: false, now: s(5)) == nil, "calls started before it opened do not extend it")
    }

    @Test("breaker: the opener probes when the cool-down ends; success closes, failure opens again")
    func probe() {
        var b = CircuitBreaker(.init(failures: 1, coolDown: .seconds(10)))
        #expect(b.failed(probe: false, now: s(0)) == .open)
        #expect(b.admit(now: s(9)) == .wait(until: s(10)))
        #expect(b.admit(now: s(10)) == .probe)
        #expect(b.state == .halfOpen)
        #expect(b.admit(now: s(11)) == .wait(until: s(21)), "one probe at a time")
        #expect(b.failed(probe: true, now: s(12)) == .open)
        #expect(b.admit(now: s(21)) == .wait(until: s(22)))
        #expect(b.admit(now: s(22)) == .probe)
        #expect(b.succeeded(probe: true, now: s(23)) == .closed)
        #expect(b.admit(now: s(23)) == .call)
    }

    @Test("breaker: failures announced by others count with ours; the worker whose failure it was probes")
    func sharedCount() {
        var b = CircuitBreaker(.init(failures: 3, coolDown: .seconds(10)))
        b.heard(.failure, now: s(0))
        #expect(b.failed(probe: false, now: s(0)) == .failure)
        b.heard(.success, now: s(0))
        b.heard(.failure, now: s(1))
        b.heard(.failure, now: s(1))
        #expect(b.failed(probe: false, now: s(1)) == .open, "the third in a row, counted across workers")
        var other = CircuitBreaker(.init(failures: 3, coolDown: .seconds(10)))
        for _ in 0..<3 { other.heard(.failure, now: s(1)) }
        #expect(other.state == .open)
        #expect(other.admit(now: s(11)) == .wait(until: s(21)), "it opened on a count, not its own failure: no probe")
    }

    @Test("breaker: a worker that heard `open` waits a second cool-down before probing itself (the opener may be gone)")
    func heard() {
        var b = CircuitBreaker(.init(failures: 5, coolDown: .seconds(10)))
        b.heard(.open, now: s(0))
        #expect(b.state == .open)
        #expect(b.admit(now: s(10)) == .wait(until: s(20)))
        b.heard(.halfOpen, now: s(12))
        #expect(b.admit(now: s(15)) == .wait(until: s(22)), "someone probes: wait for their result")
        b.heard(.closed, now: s(16))
        #expect(b.admit(now: s(16)) == .call)
        b.heard(.open, now: s(30))
        #expect(b.admit(now: s(50)) == .probe, "nobody announced anything for two cool-downs")
    }

    @Test("breaker: any success closes it, even one started before it opened")
    func lateSuccess() {
        var b = CircuitBreaker(.init(failures: 1, coolDown: .seconds(10)))
        _ = b.failed(probe: false, now: s(0))
        #expect(b.succeeded(probe: false, now: s(1)) == .closed)
    }

    @Test("breaker: a probe that could not go (no permit) is the next call's to make")
    func abandonedProbe() {
        var b = CircuitBreaker(.init(failures: 1, coolDown: .seconds(10)))
        _ = b.failed(probe: false, now: s(0))
        #expect(b.admit(now: s(10)) == .probe)
        b.abandonProbe()
        #expect(b.state == .open)
        #expect(b.admit(now: s(10)) == .probe)
    }

    @Test("permits: taken one per call, reused by the next call here, given back beyond what waits")
    func permits() {
        var g = BackendGuard(backend: "b", limits: .init(maxInFlight: 2))
        #expect(g.take(request: 1, now: .zero) == .blocked)
        var settled = g.settle(waiting: 1, now: .zero)
        #expect(settled.consumePermits == true && settled.release.isEmpty)
        g.permitDelivered(10)
        g.permitDelivered(11)
        #expect(g.take(request: 1, now: .zero) == .go(permit: 11, token: nil, probe: false))
        settled = g.settle(waiting: 0, now: .zero)
        #expect(
            settled.release.isEmpty && settled.consumePermits == nil, "held a moment: the next delivery may be near")
        settled = g.settle(waiting: 0, now: BackendGuard.idleHold)
        #expect(settled.release == [10], "a permit nothing here used goes back")
        #expect(settled.consumePermits == false, "and the consumer stops: an idle worker holds nothing")
        #expect(g.finished(request: 1, failed: false, now: .zero).announce == nil)
        #expect(g.take(request: 2, now: .zero) == .go(permit: 11, token: nil, probe: false), "reused")
        #expect(g.permitsHeld == 1)
        g.connectionLost()
        #expect(g.permitsHeld == 0, "the broker has them back")
    }

    @Test("permits: one goes back after serving its turn of calls in a row, so other workers get a turn")
    func permitTurn() {
        var g = BackendGuard(backend: "b", limits: .init(maxInFlight: 1))
        g.permitDelivered(7)
        for id in 1...UInt64(BackendGuard.permitReuse) {
            #expect(g.take(request: id, now: .zero) == .go(permit: 7, token: nil, probe: false))
            _ = g.finished(request: id, failed: false, now: .zero)
        }
        #expect(g.settle(waiting: 5, now: .zero).release == [7])
    }

    @Test("rate tokens: one per call; a call waits for both its permit and its token")
    func tokens() {
        var g = BackendGuard(
            backend: "b", limits: .init(maxInFlight: 1, rate: .init(count: 10, period: .seconds(1), burst: 2)))
        g.permitDelivered(1)
        #expect(g.take(request: 1, now: .zero) == .blocked, "a permit but no token")
        let settled = g.settle(waiting: 1, now: .zero)
        #expect(settled.release.isEmpty, "the permit is kept for the call that waits for its token")
        #expect(settled.consumeTokens == true)
        g.tokenDelivered(5)
        #expect(g.take(request: 1, now: .zero) == .go(permit: 1, token: 5, probe: false))
    }

    @Test("rate: a ring of burst tokens each resting burst/rate holds any one-second window to the rate")
    func rateShape() {
        let r = BackendLimits.Rate(count: 10, period: .seconds(1), burst: 10)
        #expect(r.tokenRest == .seconds(1) && r.maxPerSecond == 10)
        let smooth = BackendLimits.Rate(count: 10, period: .seconds(1))
        #expect(smooth.tokenRest == .milliseconds(100) && smooth.maxPerSecond == 10)
        let perMinute = BackendLimits.Rate.parse("600/m", burst: 1)
        #expect(perMinute?.tokenRest == .milliseconds(100))
        #expect(BackendLimits.Rate.parse("7/h")?.tokenRest == .milliseconds(514_286), "rounded up, never faster")
        #expect(BackendLimits.Rate.parse("10/d") == nil && BackendLimits.Rate.parse("0/s") == nil)
    }

    @Test(
        "calls per token: 1 up to 200 token cycles a second, then the smallest divisor of burst that gets there",
        arguments: [
            // (rate, burst, calls per token, tokens in the ring)
            ("10/s", 10, 1, 10), ("200/s", 200, 1, 200), ("12000/m", 1, 1, 1), ("400/s", 400, 2, 200),
            ("100000/s", 1000, 500, 2), ("1000/s", 1000, 5, 200), ("1000/s", 7, 7, 1), ("401/s", 400, 4, 100),
            ("30000/m", 100, 4, 25),
        ])
    func callsPerToken(_ text: String, burst: Int, calls: Int, tokens: Int) throws {
        let r = try #require(BackendLimits.Rate.parse(text, burst: burst))
        #expect(r.callsPerToken == calls && r.tokens == tokens)
        #expect(r.tokens * r.callsPerToken == burst, "the ring holds exactly burst calls")
        let name = Topology.Names(prefix: "p").tokenQueue("b", r)
        #expect(name.hasSuffix(".\(calls)calls") == (calls > 1), "\(name): a ring of another shape is another queue")
    }

    @Test("a token worth several calls: they start at once, the token rests after the last, unused ones expire")
    func tokenCredit() throws {
        let rate = try #require(BackendLimits.Rate.parse("100000/s", burst: 1000))  // 500 calls a token, 10 ms rest
        var g = BackendGuard(backend: "b", limits: .init(rate: rate))
        #expect(g.take(request: 1, now: .zero) == .blocked)
        g.tokenDelivered(5)
        for id in 1...UInt64(rate.callsPerToken) {
            #expect(g.take(request: id, now: .zero) == .go(permit: nil, token: nil, probe: false), "\(id)")
        }
        #expect(g.take(request: 999, now: .zero) == .blocked, "the 501st call needs another token")
        var settled = g.settle(waiting: 1, now: .zero)
        #expect(settled.rest == [5], "spent: it goes to rest only now, after its last call")
        #expect(settled.release.isEmpty)
        settled = g.settle(waiting: 1, now: .zero)
        #expect(settled.rest.isEmpty, "once")

        // A worker with less work than the token is worth: the rest expire after the credit window.
        g.tokenDelivered(6)
        #expect(g.take(request: 1000, now: .zero) == .go(permit: nil, token: nil, probe: false))
        #expect(g.settle(waiting: 0, now: .milliseconds(5)).rest.isEmpty, "still usable")
        #expect(g.take(request: 1001, now: .milliseconds(6)) == .go(permit: nil, token: nil, probe: false))
        #expect(g.settle(waiting: 0, now: BackendGuard.creditWindow).rest == [6])
        #expect(g.take(request: 1002, now: BackendGuard.creditWindow) == .blocked, "expired with its token")

        // A second token replaces a spent one: the first goes to rest with the next settle.
        g.tokenDelivered(7)
        g.tokenDelivered(8)
        for id in 2000..<(2000 + UInt64(rate.callsPerToken) + 1) { _ = g.take(request: id, now: .seconds(1)) }
        #expect(g.settle(waiting: 0, now: .seconds(1)).rest == [8], "the spent one; the other still has calls")
        #expect(g.settle(waiting: 0, now: .seconds(1) + BackendGuard.creditWindow).rest == [7])

        // A lost connection took the token back unacked: nothing is left to spend or to send to rest.
        g.tokenDelivered(9)
        _ = g.take(request: 3000, now: .seconds(2))
        g.connectionLost()
        #expect(g.take(request: 3001, now: .seconds(2)) == .blocked)
        #expect(g.settle(waiting: 0, now: .seconds(3)).rest.isEmpty)
    }

    @Test("a permit near its queue's delivery limit is renewed (ack + a fresh one) instead of returned")
    func permitRenewal() {
        var g = BackendGuard(backend: "b", limits: .init(maxInFlight: 2))
        g.permitDelivered(1, deliveries: BackendGuard.permitRenewAfter)
        g.permitDelivered(2, deliveries: BackendGuard.permitRenewAfter - 1)
        var settled = g.settle(waiting: 0, now: .zero)
        #expect(settled.release.isEmpty && settled.renew.isEmpty, "held a moment first, like any permit")
        settled = g.settle(waiting: 0, now: BackendGuard.idleHold)
        #expect(settled.renew == [1] && settled.release == [2])
        // A renewed permit is forgotten; a lost connection forgets worn ones too (the broker has them back).
        g.permitDelivered(3, deliveries: BackendGuard.permitRenewAfter + 5)
        g.connectionLost()
        g.permitDelivered(3, deliveries: 0)
        _ = g.settle(waiting: 0, now: .seconds(5))
        settled = g.settle(waiting: 0, now: .seconds(5) + BackendGuard.idleHold)
        #expect(settled.release == [3] && settled.renew.isEmpty)
    }

    @Test("one call per token: the token goes with the call, nothing is held")
    func tokenSingle() {
        var g = BackendGuard(backend: "b", limits: .init(rate: .init(count: 10, period: .seconds(1), burst: 2)))
        g.tokenDelivered(3)
        #expect(g.take(request: 1, now: .zero) == .go(permit: nil, token: 3, probe: false))
        #expect(g.take(request: 2, now: .zero) == .blocked)
        #expect(g.settle(waiting: 1, now: .zero).rest.isEmpty)
    }

    @Test("a breaker announcement survives the wire; anything else on the events exchange is not one")
    func announcement() {
        let a = BreakerAnnouncement(backend: "app", state: "open", by: "h/1/2", at: 1_800_000_000, coolDownMs: 30_000)
        #expect(BreakerAnnouncement.decode(a.body) == a)
        #expect(a.routingKey == "backend.app.open")
        #expect(BreakerAnnouncement.decode(Array(#"{"event":"succeeded","job":"x"}"#.utf8)) == nil)
        #expect(
            BreakerAnnouncement.decode(
                Array(#"{"backend":"a","state":"weird","by":"x","at":"2026-01-01T00:00:00Z"}"#.utf8)) == nil)
    }

    // MARK: - The worker machine with a guarded backend

    static let config = try! ConfigLoader(environment: [:]).parse(
        WorkerStateMachineTests.toml(
            backendExtra: "max_in_flight = 1\nbreaker = { failures = 1, cool_down = \"30s\" }"),
        path: "t.toml")

    static func machine() -> WorkerStateMachine {
        var m = WorkerStateMachine(
            .init(options: WorkerOptions(config: config, queues: ["default"], concurrency: 4), workerID: "me"))
        m.connected(consumers: ["c1": "default"])
        return m
    }

    static func permit(_ tag: UInt64, returns: Int64 = 0) -> AMQPDelivery {
        AMQPDelivery(
            channel: 3, deliveryTag: tag, redelivered: returns > 0, exchange: "", routingKey: "q",
            consumerTag: WorkerStateMachine.permitTagPrefix + "default:1",
            message: AMQPMessage(
                body: Array("1".utf8),
                properties: AMQPProperties(headers: returns > 0 ? ["x-delivery-count": .int64(returns)] : nil)))
    }

    /// A machine whose first call (delivery 1, permit 40) failed at 1 s and so opened the breaker.
    static func opened() -> WorkerStateMachine {
        typealias T = WorkerStateMachineTests
        var m = machine()
        _ = m.delivery(T.delivery(1), now: T.at(0))
        _ = m.tick(now: T.at(0), canPublish: true)
        _ = m.guardDelivery(permit(40), now: T.at(0))
        _ = m.tick(now: T.at(0), canPublish: true)
        let failed = m.requestFinished(1, .failure(retryable: true, error: "connection refused"), now: T.at(1))
        #expect(T.summary(failed).contains("announce backend.default.open"))
        return m
    }

    @Test("a delivery waits unacked for a permit (no attempt used), starts when one comes, gives it back after")
    func machineWaitsForPermit() {
        typealias T = WorkerStateMachineTests
        var m = Self.machine()
        _ = m.delivery(T.delivery(1), now: T.at(0))
        #expect(
            T.summary(m.tick(now: T.at(0), canPublish: true)) == ["consume cronq.guard.default.permits.1 prefetch 1"])
        #expect(T.summary(m.tick(now: T.at(0), canPublish: true)).isEmpty, "still waiting, nothing new to do")
        #expect(m.guardDelivery(Self.permit(40), now: T.at(1)).isEmpty)
        #expect(T.summary(m.tick(now: T.at(1), canPublish: true)) == ["start 1 m1 #1"])
        _ = m.requestFinished(1, .response(status: 204, retryAfter: nil), now: T.at(2))
        #expect(
            T.summary(m.tick(now: T.at(2), canPublish: true))
                == ["give back 40", "stop cronq-permit:default:1", "ack ≤1", "events 1"],
            "nothing waited for a second: the permit goes back and the consumer stops")
    }

    @Test("a worn permit (x-delivery-count past half the limit) is acked and minted again, not given back")
    func machineRenewsPermit() {
        typealias T = WorkerStateMachineTests
        var m = Self.machine()
        _ = m.delivery(T.delivery(1), now: T.at(0))
        _ = m.tick(now: T.at(0), canPublish: true)
        _ = m.guardDelivery(Self.permit(40, returns: Int64(BackendGuard.permitRenewAfter)), now: T.at(1))
        #expect(T.summary(m.tick(now: T.at(1), canPublish: true)) == ["start 1 m1 #1"])
        _ = m.requestFinished(1, .response(status: 204, retryAfter: nil), now: T.at(2))
        let next = m.tick(now: T.at(2), canPublish: true)
        #expect(
            T.summary(next) == [
                "use token 40", "announce cronq.guard.default.permits.1", "permitRenewed",
                "stop cronq-permit:default:1", "ack ≤1", "events 1",
            ],
            "\(T.summary(next))")
    }

    @Test("a lost connection took the permits and the consumer: after reconnecting, the worker consumes again")
    func machineReconsumes() {
        typealias T = WorkerStateMachineTests
        var m = Self.machine()
        _ = m.delivery(T.delivery(1), now: T.at(0))
        #expect(T.summary(m.tick(now: T.at(0), canPublish: true)).first?.hasPrefix("consume") == true)
        _ = m.connectionLost("reset")
        #expect(
            T.summary(m.tick(now: T.at(1), canPublish: true)).isEmpty, "nothing to consume on, nothing to give back")
        m.connected(consumers: ["c1": "default"])
        _ = m.delivery(T.delivery(1, redelivered: true), now: T.at(2))
        #expect(T.summary(m.tick(now: T.at(2), canPublish: true)).contains { $0.hasPrefix("consume") })
    }

    @Test("breaker open: the next delivery waits in a retry tier with its attempt unchanged; the change is announced")
    func machineDelays() {
        typealias T = WorkerStateMachineTests
        var m = Self.opened()
        _ = m.delivery(T.delivery(2, attempt: 2), now: T.at(2))
        let next = T.summary(m.tick(now: T.at(2), canPublish: true))
        #expect(next.contains("retry 1m #2"), "the smallest tier covering the 28 s left of the cool-down: \(next)")
        #expect(next.contains("retry 10s #2"), "and the failed call's own retry")
    }

    @Test("a failed probe does not use an attempt: its message waits like the others")
    func machineProbeFails() {
        typealias T = WorkerStateMachineTests
        var m = Self.opened()
        _ = m.tick(now: T.at(1), canPublish: true)
        _ = m.delivery(T.delivery(2, attempt: 2), now: T.at(31))
        #expect(
            T.summary(m.tick(now: T.at(31), canPublish: true)).first?.hasPrefix("consume") == true,
            "the idle worker gave its permit back")
        _ = m.guardDelivery(Self.permit(41), now: T.at(31))
        let probe = T.summary(m.tick(now: T.at(31), canPublish: true))
        #expect(probe.contains("announce backend.default.half_open") && probe.contains("start 2 m2 #2"), "\(probe)")
        let failed = T.summary(m.requestFinished(2, .response(status: 503, retryAfter: nil), now: T.at(32)))
        #expect(failed.contains("announce backend.default.open"))
        let next = T.summary(m.tick(now: T.at(32), canPublish: true))
        #expect(next.contains("retry 1m #2"), "waits with attempt 2 unchanged, not retry #3: \(next)")
    }

    @Test("another worker's announcement is heard; our own is not applied twice")
    func machineHears() {
        typealias T = WorkerStateMachineTests
        var m = Self.machine()
        func said(_ by: String, _ state: String) -> AMQPDelivery {
            let a = BreakerAnnouncement(backend: "default", state: state, by: by, at: 0, coolDownMs: 30_000)
            return AMQPDelivery(
                channel: 3, deliveryTag: 1, redelivered: false, exchange: "cronq.events", routingKey: a.routingKey,
                consumerTag: WorkerStateMachine.breakerTag, message: a.message)
        }
        #expect(m.guardDelivery(said("me", "open"), now: T.at(0)).isEmpty)
        #expect(m.guards["default"]?.breaker?.state == .closed)
        #expect(T.summary(m.guardDelivery(said("other", "open"), now: T.at(0))) == ["breaker"])
        #expect(m.guards["default"]?.breaker?.state == .open)
    }
}
