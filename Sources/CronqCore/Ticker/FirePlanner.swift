import HeapModule

/// The ticker's pure core: which fires are due, which were missed, what the catch-up policy keeps,
/// and when to wake next. No clock (every call takes `now`), no I/O: table-tested.
///
/// A min-heap holds one entry per enabled job, keyed by the time its next fire is *due* (its
/// scheduled instant plus the job's stable jitter). ``takeDue(nowMs:)`` pops every due entry, expands
/// it into the job's fires up to now, keeps the on-time ones and applies `catch_up` to the missed
/// ones (only within the catch-up window), and pushes the job's following fire.
///
/// An instant at or before the job's last *confirmed* fire is never produced again, so a wall clock
/// that jumps backwards cannot re-fire anything; a jump forward shows up as missed fires.
public struct FirePlanner: Sendable {
    public struct Job: Sendable {
        public var name: String
        public var schedule: CronSchedule
        public var catchUp: CronqConfig.CatchUp
        /// Upper bound of the per-fire delay, in milliseconds (0: none).
        public var jitterMs: Int64
        /// No fire before `start` or after `end` (Unix seconds); a one-off job has both at its instant.
        public var start: Int64?
        public var end: Int64?

        public init(
            name: String, schedule: CronSchedule, catchUp: CronqConfig.CatchUp, jitterMs: Int64, start: Int64? = nil,
            end: Int64? = nil
        ) {
            self.name = name
            self.schedule = schedule
            self.catchUp = catchUp
            self.jitterMs = jitterMs
            self.start = start
            self.end = end
        }

        public init(_ job: CronqConfig.Job) {
            self.init(
                name: job.name, schedule: CronSchedule(job.schedule, zone: job.zone), catchUp: job.catchUp,
                jitterMs: job.jitter.totalMilliseconds, start: job.start, end: job.end)
        }

        /// The first fire strictly after `t` within `start`...`end`.
        func next(after t: Int64) -> Int64? {
            CronqConfig.Job.nextFire(after: t, in: schedule, start: start, end: end)
        }
    }

    /// One fire to publish.
    public struct Fire: Sendable, Equatable {
        public var job: String
        /// Where the job is in the `jobs` the planner was made with, so a caller finds it without a lookup by name.
        public var jobIndex: Int
        /// The scheduled instant (Unix seconds): `scheduled_at` and the message id come from it.
        public var instant: Int64
        /// True when it was caught up after downtime rather than fired on time.
        public var caughtUp: Bool

        public init(job: String, jobIndex: Int, instant: Int64, caughtUp: Bool) {
            self.job = job
            self.jobIndex = jobIndex
            self.instant = instant
            self.caughtUp = caughtUp
        }
    }

    /// Ordered by when it is due (ties by job, then instant, so the order is the same on every ticker).
    struct Entry: Sendable, Comparable {
        var dueMs: Int64
        var job: Int32
        var instant: Int64
        /// A fire that was taken before but not confirmed: published as it is, never subject to
        /// catch-up, and not rescheduled (the job's regular entry is still in the heap).
        var isRetry = false

        static func < (a: Entry, b: Entry) -> Bool { (a.dueMs, a.job, a.instant) < (b.dueMs, b.job, b.instant) }
    }

    public private(set) var jobs: [Job]
    /// Last confirmed fire per job (Unix seconds). Not the checkpoint by itself: see ``settled``.
    public private(set) var lastFired: [String: Int64]
    /// Fires handed back with ``retry(_:atMs:)`` and not confirmed since, per job. A later fire of the
    /// same job may be confirmed first (a nack for one message, a queue that recovers between batches):
    /// these are still owed.
    public private(set) var unconfirmed: [String: Set<Int64>] = [:]
    /// A fire later than this after its instant counts as missed (subject to `catch_up`).
    public let onTimeGraceSeconds: Int64
    public let windowSeconds: Int64
    public let maxCatchUp: Int
    private var heap = Heap<Entry>()

    /// - Parameters:
    ///   - lastFired: the checkpoint; a job without one starts from `now` (nothing to catch up).
    ///   - now: Unix seconds.
    public init(
        jobs: [Job], lastFired: [String: Int64], now: Int64, windowSeconds: Int64, maxCatchUp: Int,
        onTimeGraceSeconds: Int64 = 2
    ) {
        self.jobs = jobs
        // A set, not `jobs.contains` per entry: with 100,000 jobs and a full checkpoint that was
        // quadratic (minutes, while the connection's heartbeats went unanswered).
        let names = Set(jobs.lazy.map(\.name))
        self.lastFired = lastFired.filter { names.contains($0.key) }
        self.windowSeconds = windowSeconds
        self.maxCatchUp = maxCatchUp
        self.onTimeGraceSeconds = onTimeGraceSeconds
        heap.reserveCapacity(jobs.count)
        for i in jobs.indices { schedule(Int32(i), after: startPoint(jobs[i], now: now)) }
    }

    /// Where a job's search starts: its last fire if recent, else the edge of the window. A job never
    /// fired starts from now, unless it has a start (or is a one-off) that passed within the window: its
    /// first fires were missed, not never due, and its catch-up policy decides (a ticker down at a
    /// one-off job's instant catches it up like any missed fire).
    private func startPoint(_ job: Job, now: Int64) -> Int64 {
        guard let last = lastFired[job.name] else {
            guard let start = job.start, start <= now else { return now }
            return max(start - 1, now - windowSeconds - 1)
        }
        return max(last, now - windowSeconds - 1)
    }

    public var count: Int { heap.count }

    /// When the earliest fire is due (Unix milliseconds), or nil with no jobs.
    public var nextDueMs: Int64? { heap.min?.dueMs }

    /// Records a confirmed fire: later computations never produce this instant or an earlier one again
    /// (retries of earlier instants still owed go on).
    public mutating func confirmed(job: String, instant: Int64) {
        if instant > (lastFired[job] ?? Int64.min) { lastFired[job] = instant }
        if unconfirmed[job]?.remove(instant) != nil, unconfirmed[job]!.isEmpty { unconfirmed[job] = nil }
    }

    /// What a checkpoint may record: per job, the instant up to which every fire was confirmed, so a
    /// leader that takes over (or this one, after a reconnect) catches up a fire still owed instead of
    /// starting past it. `lastFired`, held back to just before the earliest fire still unconfirmed.
    public var settled: [String: Int64] { Self.settle(lastFired, unconfirmed) }

    /// `lastFired` held back to just before each job's earliest unconfirmed instant.
    public static func settle(_ lastFired: [String: Int64], _ unconfirmed: [String: Set<Int64>]) -> [String: Int64] {
        var out = lastFired
        for (job, instants) in unconfirmed {
            guard let first = instants.min() else { continue }
            out[job] = min(out[job] ?? Int64.max, first - 1)
        }
        return out
    }

    /// Pops every fire due at `nowMs` and returns what to publish, oldest first.
    public mutating func takeDue(nowMs: Int64) -> [Fire] {
        let now = nowMs / 1000
        var fires: [Fire] = []
        while let top = heap.min, top.dueMs <= nowMs {
            popTop()
            let job = jobs[Int(top.job)]
            if top.isRetry {
                // Still owed unless it was confirmed meanwhile (a later confirmed fire does not settle it).
                if unconfirmed[job.name]?.contains(top.instant) == true {
                    fires.append(Fire(job: job.name, jobIndex: Int(top.job), instant: top.instant, caughtUp: false))
                }
                continue
            }
            var due = [top.instant]
            var t = top.instant
            while due.count < 100_000, let n = job.next(after: t), n <= now {
                due.append(n)
                t = n
            }
            var missed: [Int64] = []
            for i in due {
                if now - i <= onTimeGraceSeconds {
                    fires.append(Fire(job: job.name, jobIndex: Int(top.job), instant: i, caughtUp: false))
                } else if now - i <= windowSeconds {
                    missed.append(i)
                }
            }
            let kept: ArraySlice<Int64>
            switch job.catchUp {
            case .none: kept = []
            case .latest: kept = missed.suffix(1)
            case .all: kept = missed.suffix(maxCatchUp)
            }
            fires.append(
                contentsOf: kept.map { Fire(job: job.name, jobIndex: Int(top.job), instant: $0, caughtUp: true) })
            schedule(top.job, after: t)
        }
        // A retried fire can meet the same instant found again by its job's schedule (a new planner that
        // starts from the last confirmed fire): one publish, not two.
        var out: [Fire] = []
        out.reserveCapacity(fires.count)
        for f in fires.sorted(by: { ($0.instant, $0.job) < ($1.instant, $1.job) })
        where out.last.map({ $0.instant != f.instant || $0.job != f.job }) ?? true {
            out.append(f)
        }
        return out
    }

    /// Puts a fire that could not be published back, due again at `retryAtMs`; owed until confirmed,
    /// whatever later fires of its job are confirmed meanwhile.
    public mutating func retry(_ fire: Fire, atMs retryAtMs: Int64) {
        guard jobs.indices.contains(fire.jobIndex), jobs[fire.jobIndex].name == fire.job else { return }
        unconfirmed[fire.job, default: []].insert(fire.instant)
        push(Entry(dueMs: retryAtMs, job: Int32(fire.jobIndex), instant: fire.instant, isRetry: true))
    }

    private mutating func schedule(_ job: Int32, after t: Int64) {
        let j = jobs[Int(job)]
        let from = max(t, lastFired[j.name] ?? Int64.min)
        guard let n = j.next(after: from) else { return }
        push(Entry(dueMs: n * 1000 + Self.jitterMs(job: j.name, instant: n, bound: j.jitterMs), job: job, instant: n))
    }

    /// A stable pseudo-random delay in [0, bound) from the job name and instant (FNV-1a), so identical
    /// schedules spread out the same way on every ticker and after every restart.
    public static func jitterMs(job: String, instant: Int64, bound: Int64) -> Int64 {
        guard bound > 0 else { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in job.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var x = UInt64(bitPattern: instant)
        for _ in 0..<8 {
            h = (h ^ (x & 0xFF)) &* 0x100_0000_01b3
            x >>= 8
        }
        return Int64(h % UInt64(bound))
    }

    private mutating func push(_ e: Entry) { heap.insert(e) }

    private mutating func popTop() { _ = heap.popMin() }
}
