import CronqAMQP
import CronqCore

/// Everything the leading ticker decides, as a pure state machine: the planner and its checkpoint,
/// pauses, `overlap = "skip"` runs in flight, the first-fire baseline, and which control messages and
/// run ends may be acked. Events in (leadership gained or lost, `plan(nowMs:)`, a batch's confirms, a
/// control message, a run end, a confirmed checkpoint, a reload), ``Action``s out. No I/O, no clock
/// reads: ``TickerLoop`` owns the connection and performs the actions, so the policies are table-tested.
struct LeaderState {
    enum Action {
        /// Publish these fires as one confirmed batch and report with ``firesPublished(_:outcomes:nowMs:)``
        /// (or ``firesFailed(_:nowMs:)`` when the batch could not complete).
        case publishFires([Outgoing])
        /// Publish ``checkpoint(nowMs:)`` now if ``checkpointDirty`` (confirmed; then ``checkpointConfirmed()``).
        /// It carries no payload on purpose: it is built when it is sent, so it is never older than a
        /// fire confirmed in between.
        case publishCheckpoint
        /// Ack a control message or a run end now (one that changed nothing).
        case ack(AckTarget)
        case emit(OutcomeEvent)
        case record(TickerRecord)
        /// Tell the sinks (best effort, never blocking a fire: the ``Notifier`` has its own thread).
        case notify(Notice)
    }

    /// Which consumer a delivery came from.
    enum AckTarget: Equatable {
        case control(UInt64)
        case completion(UInt64)
        case outcome(UInt64)
    }

    /// One fire and the job it is for (as configured when it was planned).
    struct Outgoing {
        var fire: FirePlanner.Fire
        var job: CronqConfig.Job
    }

    private(set) var config: CronqConfig
    private(set) var planner: FirePlanner?
    /// For each of the planner's jobs, its index in `config.jobs` (the enabled ones, in order): a fire
    /// finds its job without a name lookup, and no second copy of 100,000 jobs is kept.
    private var plannedJobIndices: [Int] = []
    /// Confirmed fires remembered across leadership changes and reconnects (merged with the checkpoint).
    private(set) var lastFired: [String: Int64] = [:]
    /// Fires published and never confirmed, taken from a planner that was dropped (leadership lost, a
    /// reload) while they were still owed: the next planner starts just before them, so its catch-up
    /// decides them, and forgets them then.
    private var owed: [String: Set<Int64>] = [:]
    /// Jobs paused by `cronq pause` (kept in the checkpoint).
    private(set) var paused: [String: PauseState] = [:]
    /// `overlap = "skip"` jobs' runs in flight (kept in the checkpoint, so a new leader waits for them too).
    private(set) var running: [String: Checkpoint.RunInFlight] = [:]
    private(set) var checkpointDirty = false
    /// Deliveries whose effect the next confirmed checkpoint records: acked then, so that a leader dying
    /// before it leaves them in their queue for the next one.
    private var acksAfterCheckpoint: [AckTarget] = []
    /// Fires of `catch_up = "none"` jobs whose publish died unconfirmed with its connection: the next
    /// planner retries them as they are (docs/decisions.md, "On-time grace").
    private var unconfirmed: [FirePlanner.Fire] = []
    /// Dead runs in a row, silences and recoveries, when sinks or `pause_after_failures` need them.
    private var health: JobHealth?

    init(config: CronqConfig) {
        self.config = config
    }

    var isLeading: Bool { planner != nil }
    var nextDueMs: Int64? { planner?.nextDueMs }
    /// Whether any enabled job is `overlap = "skip"` (the leader then consumes run ends).
    var needsCompletions: Bool { config.jobs.contains { $0.enabled && $0.overlap == .skip } }
    /// Whether the leader reads every run's end (notifications, `pause_after_failures`).
    var needsOutcomes: Bool { JobHealth.needed(config) }

    // MARK: - Leadership

    /// The leader token arrived and the checkpoint (if any) was read.
    mutating func lead(checkpoint: Checkpoint?, nowMs: Int64) -> [Action] {
        if let cp = checkpoint {
            lastFired.merge(cp.fired) { max($0, $1) }
            // What a term since ours settled is not owed any more (our own checkpoint settles before it).
            for (job, instants) in owed {
                guard let settledAt = cp.fired[job] else { continue }
                let left = instants.filter { $0 > settledAt }
                owed[job] = left.isEmpty ? nil : left
            }
            paused = cp.paused  // the cluster's pauses: what the last leader recorded
            running = cp.running  // not ours from an earlier term: the leader since may have heard their ends
        }
        pruneRunning()
        (planner, plannedJobIndices) = makePlanner(for: config, nowMs: nowMs)
        owed.removeAll()
        retryUnconfirmed(nowMs: nowMs)
        health = needsOutcomes ? JobHealth(config: config, now: nowMs / 1000) : nil
        return [.record(.leadershipAcquired(checkpointAt: checkpoint?.at, jobs: planner?.count ?? 0))]
    }

    /// The connection (and with it the token) is gone: what was confirmed is kept for the next term;
    /// deliveries not yet acked go back to their queues with the channels.
    mutating func lost() {
        keepOwed()
        planner = nil
        health = nil
        acksAfterCheckpoint.removeAll()
    }

    /// The dropped planner's confirmed fires join `lastFired`, its unconfirmed ones `owed`.
    private mutating func keepOwed() {
        guard let p = planner else { return }
        lastFired.merge(p.lastFired) { max($0, $1) }
        owed.merge(p.unconfirmed) { $0.union($1) }
    }

    /// A planner that starts just before the fires still owed (its catch-up policy decides them).
    private func makePlanner(for config: CronqConfig, nowMs: Int64) -> (FirePlanner, [Int]) {
        let indices = config.jobs.indices.filter { config.jobs[$0].enabled }
        let planner = FirePlanner(
            jobs: indices.map { FirePlanner.Job(config.jobs[$0]) }, lastFired: FirePlanner.settle(lastFired, owed),
            now: nowMs / 1000,
            windowSeconds: config.ticker.catchUpWindow.totalSeconds, maxCatchUp: config.ticker.maxCatchUp)
        return (planner, indices)
    }

    /// A lookup of only the unconfirmed fires' jobs: a map of every job would leave megabytes of holes
    /// in a big ticker's heap.
    private mutating func retryUnconfirmed(nowMs: Int64) {
        guard !unconfirmed.isEmpty, planner != nil else { return }
        let wanted = Set(unconfirmed.map(\.job))
        var byName: [String: Int] = [:]
        for (i, jobIndex) in plannedJobIndices.enumerated()
        where wanted.contains(config.jobs[jobIndex].name) && config.jobs[jobIndex].catchUp == .none {
            byName[config.jobs[jobIndex].name] = i
        }
        for f in unconfirmed {
            guard let i = byName[f.job] else { continue }
            planner?.retry(FirePlanner.Fire(job: f.job, jobIndex: i, instant: f.instant, caughtUp: false), atMs: nowMs)
        }
        unconfirmed.removeAll()
    }

    /// A new configuration (SIGHUP): a leader gets a planner for it at once; pauses and last fires stay.
    mutating func reload(_ new: CronqConfig, nowMs: Int64) {
        keepOwed()
        let built = planner != nil ? makePlanner(for: new, nowMs: nowMs) : nil
        config = new
        if let built {
            (planner, plannedJobIndices) = built
            owed.removeAll()
            pruneRunning()
            // New sinks and thresholds apply from now; the counts so far are kept only without a change.
            if needsOutcomes && health == nil { health = JobHealth(config: new, now: nowMs / 1000) }
            if !needsOutcomes { health = nil }
        }
    }

    /// The configured job a fire is for (nil if a reload has since replaced the planner's jobs).
    func plannedJob(_ f: FirePlanner.Fire) -> CronqConfig.Job? {
        plannedJobIndices.indices.contains(f.jobIndex) ? config.jobs[plannedJobIndices[f.jobIndex]] : nil
    }

    // MARK: - Firing

    /// What is due at `nowMs`: pauses and overlaps are applied (skipped fires recorded), a job's very
    /// first fire is preceded by its baseline checkpoint, and the rest is to be published.
    mutating func plan(nowMs: Int64) -> [Action] {
        guard var p = planner else { return [] }
        let due = p.takeDue(nowMs: nowMs)
        planner = p
        var out: [Action] = []
        if health != nil { out = health!.check(now: nowMs / 1000).map(Action.notify) }
        let fires = skippingOverlaps(skippingPaused(due, nowMs: nowMs, into: &out), nowMs: nowMs, into: &out)
        out += publish(fires)
        // After the fires: a new leader then re-publishes only what was confirmed in the last moment
        // before a crash (same message ids, so harmless).
        if checkpointDirty { out.append(.publishCheckpoint) }
        return out
    }

    /// The fires as a batch, after the first-fire baseline when a job fires for the first time.
    ///
    /// A job that never fired has no entry in the checkpoint, and a planner starts such a job from
    /// "now": if its first fire's publish then failed, the next planner would never fire that instant.
    /// So before a job's first fire its baseline (the instant just before) is checkpointed: whichever
    /// ticker leads next catches the fire up by its policy, like any other missed fire.
    private mutating func publish(_ fires: [FirePlanner.Fire]) -> [Action] {
        let outgoing = fires.compactMap { f in plannedJob(f).map { Outgoing(fire: f, job: $0) } }
        guard !outgoing.isEmpty else { return [] }
        var first = false
        for o in outgoing where lastFired[o.fire.job] == nil {
            lastFired[o.fire.job] = o.fire.instant - 1
            first = true
        }
        if first { checkpointDirty = true }
        return (first ? [.publishCheckpoint] : []) + [.publishFires(outgoing)]
    }

    /// The batch's confirms: confirmed fires are done (and skip jobs' runs start), the rest retried in 1 s.
    /// - Parameter outcomes: one per fire, nil when no confirm came.
    mutating func firesPublished(_ sent: [Outgoing], outcomes: [PublishConfirms<Int>.Outcome?], nowMs: Int64)
        -> [Action]
    {
        var out: [Action] = []
        for (o, outcome) in zip(sent, outcomes) {
            let f = o.fire
            let id = JobMessage.messageID(job: f.job, scheduledAt: Timestamp.iso(f.instant))
            guard outcome == .confirmed else {
                out.append(
                    .record(
                        .fireFailed(
                            job: f.job, scheduledAt: f.instant, publish: outcome.map { "\($0)" } ?? "no confirm")))
                planner?.retry(f, atMs: nowMs + 1000)
                continue
            }
            planner?.confirmed(job: f.job, instant: f.instant)
            lastFired[f.job] = max(lastFired[f.job] ?? 0, f.instant)
            checkpointDirty = true
            out.append(
                .record(
                    .fired(
                        job: f.job, scheduledAt: f.instant, messageID: id, latenessMs: nowMs - f.instant * 1000,
                        caughtUp: f.caughtUp)))
            out.append(
                .emit(
                    OutcomeEvent(
                        event: "fired", job: f.job, messageID: id, scheduledAt: Timestamp.iso(f.instant),
                        at: nowMs / 1000)))
            if o.job.overlap == .skip {
                running[f.job] = .init(
                    id: id, scheduledAt: f.instant, expiresAt: nowMs / 1000 + o.job.worstCaseRun.totalSeconds)
            }
        }
        if checkpointDirty { out.append(.publishCheckpoint) }
        return out
    }

    /// The batch failed as a whole (its connection died): nothing of it counts as fired. The planner is
    /// thrown away with the connection; the next one's catch-up covers `latest` and `all`, but `none`
    /// would drop these fires, so they are kept to be retried as they are. Each gets a record: the broker
    /// may have enqueued it before it died, so the backend may see it twice (same `Idempotency-Key`), and
    /// an operator counting calls needs to know which.
    mutating func firesFailed(_ sent: [Outgoing], nowMs: Int64) -> [Action] {
        for o in sent { planner?.retry(o.fire, atMs: nowMs + 1000) }
        unconfirmed += sent.filter { $0.job.catchUp == .none }.map(\.fire)
        return sent.map {
            .record(.fireFailed(job: $0.fire.job, scheduledAt: $0.fire.instant, publish: "connection lost"))
        }
    }

    func checkpoint(nowMs: Int64) -> Checkpoint {
        // Never past a fire still owed: whoever leads next catches it up (and may repeat the confirmed
        // fires after it, with their same message ids).
        // (`owed` is empty while a planner runs: the planner took those fires over when it was made.)
        let unconfirmed = planner?.unconfirmed ?? owed
        return Checkpoint(
            at: nowMs / 1000, fired: FirePlanner.settle(lastFired, unconfirmed), paused: paused, running: running)
    }

    /// The checkpoint is durable: what it records may be acked.
    mutating func checkpointConfirmed() -> [Action] {
        checkpointDirty = false
        defer { acksAfterCheckpoint.removeAll() }
        return acksAfterCheckpoint.map { .ack($0) }
    }

    // MARK: - Run outcomes

    /// Run ends from `<prefix>.ticker.outcomes`: notices for the sinks, and `pause_after_failures`
    /// (a pause recorded in the checkpoint, so that message is acked after it; others at once).
    mutating func outcomes(_ events: [OutcomeEvent], tag: UInt64, nowMs: Int64) -> [Action] {
        guard health != nil else { return [.ack(.outcome(tag))] }
        var out: [Action] = []
        var paused = false
        for e in events {
            let (notices, pause) = health!.observe(e)
            out += notices.map(Action.notify)
            if pause, self.paused[e.job] == nil {
                let n = health!.jobs[e.job]?.consecutiveDead ?? 0
                out += self.pause(e.job, PauseState(reason: "auto: \(n) failures", since: nowMs / 1000))
                paused = true
            }
        }
        guard paused else { return out + [.ack(.outcome(tag))] }
        checkpointDirty = true
        acksAfterCheckpoint.append(.outcome(tag))
        return out + [.publishCheckpoint]
    }

    /// A backend's breaker change from the same queue: a `breaker` notice, once per change.
    mutating func breaker(_ a: BreakerAnnouncement, tag: UInt64) -> [Action] {
        guard health != nil else { return [.ack(.outcome(tag))] }
        return health!.breaker(a).map(Action.notify) + [.ack(.outcome(tag))]
    }

    // MARK: - Pause and resume

    /// Records a pause, whoever asked for it (`cronq pause` or `pause_after_failures`): in the paused
    /// set (and so the next checkpoint), as a log line and as a `paused` event.
    private mutating func pause(_ job: String, _ state: PauseState) -> [Action] {
        paused[job] = state
        checkpointDirty = true
        return [
            .record(.paused(job: job, until: state.until, reason: state.reason ?? "")),
            .emit(
                OutcomeEvent(
                    event: "paused", job: job, messageID: Self.controlID(job, state.since), reason: state.reason,
                    at: state.since)),
        ]
    }

    /// The message id of an event a control action caused (pause, resume, a pause that ran out).
    static func controlID(_ job: String, _ now: Int64) -> String { "\(job)@control-\(Timestamp.iso(now))" }

    /// A message from `<prefix>.ticker.control` (nil: unreadable): applied, recorded in the checkpoint,
    /// acked once that checkpoint is confirmed.
    mutating func control(_ message: ControlMessage?, tag: UInt64, nowMs: Int64) -> [Action] {
        let now = nowMs / 1000
        guard let m = message else { return [.record(.unreadableControl), .ack(.control(tag))] }
        guard config.jobs.contains(where: { $0.name == m.job }) else {
            return [
                .record(.controlForUnknownJob(job: String(m.job.prefix(64)), action: m.action)), .ack(.control(tag)),
            ]
        }
        var out: [Action] = []
        switch m.action {
        case .pause:
            out += pause(
                m.job,
                PauseState(until: m.until, reason: m.reason, since: now, lastSkipped: paused[m.job]?.lastSkipped))
        case .resume:
            let was = paused.removeValue(forKey: m.job)
            out.append(.record(.resumed(job: m.job, catchUp: m.catchUp, wasPaused: was != nil)))
            out.append(
                .emit(OutcomeEvent(event: "resumed", job: m.job, messageID: Self.controlID(m.job, now), at: now)))
            if m.catchUp == .latest, let last = was?.lastSkipped,
                now - last <= config.ticker.catchUpWindow.totalSeconds,
                let index = plannedJobIndices.firstIndex(where: { config.jobs[$0].name == m.job })
            {
                out += publish([FirePlanner.Fire(job: m.job, jobIndex: index, instant: last, caughtUp: true)])
            }
        }
        checkpointDirty = true
        acksAfterCheckpoint.append(.control(tag))
        out.append(.publishCheckpoint)
        return out
    }

    /// Fires of paused jobs are skipped (and recorded); a pause whose `until` has passed ends here.
    private mutating func skippingPaused(_ fires: [FirePlanner.Fire], nowMs: Int64, into out: inout [Action])
        -> [FirePlanner.Fire]
    {
        guard !paused.isEmpty else { return fires }
        let now = nowMs / 1000
        var kept: [FirePlanner.Fire] = []
        for f in fires {
            guard var p = paused[f.job] else {
                kept.append(f)
                continue
            }
            if !p.holds(at: now) {
                paused[f.job] = nil
                checkpointDirty = true
                out.append(.record(.pauseExpired(job: f.job, until: p.until)))
                out.append(
                    .emit(
                        OutcomeEvent(
                            event: "resumed", job: f.job, messageID: Self.controlID(f.job, now),
                            reason: "until reached",
                            at: now)))
                kept.append(f)
                continue
            }
            p.lastSkipped = max(p.lastSkipped ?? f.instant, f.instant)
            paused[f.job] = p
            out += skip(f, reason: "paused", now: now)
        }
        return kept
    }

    /// A fire not made, on purpose: done as far as the schedule and catch-up are concerned (it never
    /// comes back), logged, and recorded as a `skipped` event.
    private mutating func skip(_ f: FirePlanner.Fire, reason: String, now: Int64) -> [Action] {
        planner?.confirmed(job: f.job, instant: f.instant)
        lastFired[f.job] = max(lastFired[f.job] ?? 0, f.instant)
        checkpointDirty = true
        let id = JobMessage.messageID(job: f.job, scheduledAt: Timestamp.iso(f.instant))
        return [
            .record(.skipped(job: f.job, scheduledAt: f.instant, reason: reason, messageID: id)),
            .emit(
                OutcomeEvent(
                    event: "skipped", job: f.job, messageID: id, scheduledAt: Timestamp.iso(f.instant), reason: reason,
                    at: now)),
        ]
    }

    // MARK: - Overlap

    /// Forgets runs of jobs that are no longer `skip` jobs (removed or changed by a reload), so the
    /// checkpoint does not carry them for ever.
    private mutating func pruneRunning() {
        guard !running.isEmpty else { return }
        let skip = Set(config.jobs.lazy.filter { $0.enabled && $0.overlap == .skip }.map(\.name))
        let before = running.count
        running = running.filter { skip.contains($0.key) }
        if running.count != before { checkpointDirty = true }
    }

    /// Outcome events from `<prefix>.ticker.completions`: a run's own end, or the end of a later one
    /// (which implies the earlier ended too), ends it; acked with the next checkpoint when it did.
    mutating func completion(_ events: [OutcomeEvent], tag: UInt64) -> [Action] {
        var out: [Action] = []
        for e in events {
            guard let r = running[e.job] else { continue }
            let endedAt = e.scheduledAt.flatMap(Timestamp.parse) ?? Int64.min
            if e.messageID == r.id || endedAt >= r.scheduledAt {
                running[e.job] = nil
                out.append(.record(.runEnded(job: e.job, messageID: e.messageID, outcome: e.event)))
            }
        }
        if out.isEmpty { return [.ack(.completion(tag))] }
        checkpointDirty = true  // acked with the next checkpoint, which no longer holds the run
        acksAfterCheckpoint.append(.completion(tag))
        return out
    }

    /// A skip job's fire while its previous run is in flight is skipped and recorded; a run whose end
    /// was not heard within its worst-case time is given up on (a lost event never stalls a job for good).
    private mutating func skippingOverlaps(_ fires: [FirePlanner.Fire], nowMs: Int64, into out: inout [Action])
        -> [FirePlanner.Fire]
    {
        guard !running.isEmpty || fires.count > 1 else { return fires }
        let now = nowMs / 1000
        var kept: [FirePlanner.Fire] = []
        var firingNow: Set<String> = []
        for f in fires {
            guard plannedJob(f)?.overlap == .skip else {
                kept.append(f)
                continue
            }
            if let r = running[f.job], now >= r.expiresAt {
                out.append(.record(.noEndHeard(job: f.job, previous: r.id)))
                running[f.job] = nil
            }
            let blocker = running[f.job]?.id ?? (firingNow.contains(f.job) ? "a fire in this batch" : nil)
            guard let blocker else {
                firingNow.insert(f.job)
                kept.append(f)
                continue
            }
            out += skip(f, reason: "overlap: previous run \(blocker) has not finished", now: now)
        }
        return kept
    }
}
