import CronqCore

/// One backend's circuit breaker as one worker sees it: pure, fed with call results, what other
/// workers announced, and `now` (a monotonic offset); it answers whether a call may go and which
/// state changes this worker must announce on `cronq.events` (`backend.<name>.open|half_open|closed`).
///
/// How it is shared: while it is closed, a worker announces each failure of its own and the first
/// success after failures, and counts what the others announce with its own, so the consecutive
/// failures are counted across every worker (a healthy backend costs no announcements at all). The
/// worker whose own failure reaches `failures` opens it and announces that; the others open when they
/// count the same failure, or at the latest when they hear `open`. The opener sends the one probe when
/// the cool-down ends; if it is gone, the others each probe after a second cool-down, so a lost opener
/// costs one cool-down, never a breaker open for ever.
struct CircuitBreaker {
    enum State: String, Sendable, CaseIterable {
        case closed
        case open
        case halfOpen = "half_open"

        /// `cronq_breaker_state`: 0 closed, 1 half-open, 2 open.
        var gauge: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    /// What a worker tells the others: a state change, or (while closed) a failure or a recovery.
    enum Signal: String, Sendable, CaseIterable {
        case failure
        case success
        case open
        case halfOpen = "half_open"
        case closed
    }

    /// Whether one call may start now.
    enum Admission: Equatable {
        case call
        /// This call is the half-open probe: announce `half_open`, report its result with `probe: true`.
        case probe
        /// Not now: the message waits (without using an attempt) at least until `until`.
        case wait(until: Duration)
    }

    let settings: BackendLimits.Breaker
    private(set) var state: State = .closed
    private var failures = 0
    /// Open: when the cool-down ends. Half-open, another worker probing: when this one may probe instead.
    private var until: Duration = .zero
    /// This worker opened it (so it probes first), or took over from a silent opener.
    private var prober = false
    /// This worker's probe is in flight.
    private var probing = false

    init(_ settings: BackendLimits.Breaker) {
        self.settings = settings
    }

    mutating func admit(now: Duration) -> Admission {
        switch state {
        case .closed:
            return .call
        case .open:
            let mine = prober ? until : until + settings.coolDown
            guard now >= mine else { return .wait(until: mine) }
            return startProbe(now: now)
        case .halfOpen:
            if probing { return .wait(until: now + settings.coolDown) }
            guard now >= until else { return .wait(until: until) }
            return startProbe(now: now)
        }
    }

    private mutating func startProbe(now: Duration) -> Admission {
        state = .halfOpen
        probing = true
        until = now + settings.coolDown
        return .probe
    }

    /// The probe admitted by ``admit(now:)`` did not go (no permit free, or its connection was lost):
    /// the next call that can go is the probe instead.
    mutating func abandonProbe() {
        guard state == .halfOpen, probing else { return }
        state = .open
        prober = true
        probing = false
        until = .zero
    }

    /// A call ended well (a 2xx, or any answer that is not a retryable failure). Returns what to
    /// announce: `closed` when this ends an outage, `success` when it ends a run of failures.
    mutating func succeeded(probe: Bool, now: Duration) -> Signal? {
        if probe { probing = false }
        guard state == .closed else {
            // Any success proves the backend answers again: the probe's, or a call started before it opened.
            close()
            return .closed
        }
        defer { failures = 0 }
        return failures > 0 ? .success : nil
    }

    /// A call ended in a transport error or a 5xx. Returns what to announce: `open` when this failure
    /// opened it, `failure` while it counts.
    mutating func failed(probe: Bool, now: Duration) -> Signal? {
        switch state {
        case .closed:
            failures += 1
            guard failures >= settings.failures else { return .failure }
            open(now: now, prober: true)
            return .open
        case .halfOpen where probe:
            open(now: now, prober: true)
            return .open
        case .open, .halfOpen:
            return nil  // calls started before it opened: already counted as the reason it is open
        }
    }

    /// What another worker announced.
    mutating func heard(_ signal: Signal, now: Duration) {
        switch signal {
        case .failure:
            guard state == .closed else { return }
            failures += 1
            // Counted here too: open now, but leave the probe to the worker whose failure it was.
            if failures >= settings.failures { open(now: now, prober: false) }
        case .success:
            if state == .closed { failures = 0 }
        case .closed:
            close()
        case .open:
            // Someone opened it (or their probe failed): they probe next; we wait a cool-down more.
            guard !probing else { return }
            open(now: now, prober: false)
        case .halfOpen:
            guard !probing else { return }
            state = .halfOpen
            // Their probe ends within a cool-down (a call cannot take longer than its timeout, and
            // they announce the result); if it never does, probe ourselves after that.
            until = now + settings.coolDown
        }
    }

    private mutating func open(now: Duration, prober: Bool) {
        state = .open
        until = now + settings.coolDown
        self.prober = prober
        probing = false
        failures = 0
    }

    private mutating func close() {
        state = .closed
        failures = 0
        prober = false
        probing = false
    }
}
