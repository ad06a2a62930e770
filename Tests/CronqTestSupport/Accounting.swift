public import Foundation

/// The accounting invariant of cronq (issue "Prove it under faults"): every fire the ticker reports as
/// confirmed ends as exactly one of succeeded (the backend answered 2xx for its message id at least
/// once), waiting in a retry tier, or dead-lettered; the backend sees no message id that was never
/// fired; and every duplicate at the backend is explained by a redelivery, a re-fire after a leader
/// change, or a re-publish of an unconfirmed fire.
///
/// Pure: it reads texts and lists that a test collected (ticker and worker logs, the backend's request
/// log, the ids found in the queues) so that it is unit-tested on its own and reused by every chaos
/// test and by the soak.
public struct Accounting: CustomStringConvertible {
    public struct Request {
        public var id: String
        public var status: Int
        public init(id: String, status: Int) {
            self.id = id
            self.status = status
        }
    }

    public var fired: Set<String> = []
    /// Ids the tickers logged as fired more than once (a new leader re-publishing its predecessor's last fires).
    public var refired: Set<String> = []
    /// Ids whose publish was not confirmed and was retried (the broker may hold both copies).
    public var republished: Set<String> = []
    /// Ids a new leader caught up after the test killed the old one mid-publish (see `tickerKills`).
    public var afterKill: Set<String> = []
    public var succeeded: Set<String> = []
    public var retrying: Set<String> = []
    public var dead: Set<String> = []
    /// Still in a work queue: fine while running, lost if the run is over.
    public var pending: Set<String> = []
    /// Fired and found nowhere: the number that must be zero.
    public var lost: Set<String> = []
    /// Seen by the backend but never fired.
    public var unknown: Set<String> = []
    /// Both succeeded and dead-lettered, or counted in two places at once.
    public var conflicting: Set<String> = []
    public var requests = 0
    public var duplicateSuccesses = 0
    public var explainedDuplicates = 0
    public var unexplainedDuplicates: [String] = []
    /// Worst lateness of a fire made on time (caught-up fires are late by design, counted apart).
    public var maxLatenessMs = 0
    public var caughtUp = 0

    /// - Parameters:
    ///   - tickerLogs: every ticker's log (logfmt lines; `msg=fired` lines carry `message_id` and `lateness_ms`).
    ///   - workerLogs: every worker's log (`redelivered message` lines carry `message_id`).
    ///   - requests: the backend's request log: message id (`Idempotency-Key`) and status.
    ///   - retrying, dead, pending: message ids found in the retry tiers, the dead-letter queue and the work queues.
    ///   - manual: ids published by the test itself (not by a ticker), accounted like fires.
    ///   - tickerKills: when the test SIGKILLed a ticker. A leader killed while it waited for its batch's
    ///     confirms may have had it enqueued without logging it; its successor fires those instants again
    ///     (caught up, or on time when they are at most 2 s old). Such a duplicate is explained: fired
    ///     after a kill, scheduled before it.
    public init(
        tickerLogs: String, workerLogs: String, requests: [Request], retrying: [String], dead: [String],
        pending: [String],
        manual: [String] = [], tickerKills: [Date] = []
    ) {
        var firedCount: [String: Int] = [:]
        for line in tickerLogs.split(separator: "\n") {
            if line.contains("msg=fired "), let id = Self.field("message_id", in: line) {
                firedCount[id, default: 0] += 1
                // Caught up or on time: a fire up to 2 s old is published as on time
                // (`FirePlanner.onTimeGraceSeconds`), so a standby that takes over at once re-fires the
                // killed leader's last unlogged batch as on time.
                if let at = Self.field("ts", in: line).flatMap(Self.instant),
                    let scheduled = Self.field("scheduled_at", in: line).flatMap(Self.instant),
                    tickerKills.contains(where: { scheduled <= $0 && $0 <= at })
                {
                    afterKill.insert(id)
                }
                if Self.field("caught_up", in: line) == "true" {
                    caughtUp += 1
                } else if let l = Self.field("lateness_ms", in: line).flatMap(Int.init) {
                    maxLatenessMs = max(maxLatenessMs, l)
                }
            } else if line.contains("fire not confirmed"), let job = Self.field("job", in: line),
                let at = Self.field("scheduled_at", in: line)
            {
                republished.insert("\(job)@\(at)")
            }
        }
        for id in manual { firedCount[id, default: 0] += 1 }
        fired = Set(firedCount.keys)
        refired = Set(firedCount.filter { $0.value > 1 }.keys)
        var redelivered: Set<String> = []
        for line in workerLogs.split(separator: "\n") where line.contains("redelivered message") {
            if let id = Self.field("message_id", in: line) { redelivered.insert(id) }
        }
        self.requests = requests.count
        var successes: [String: Int] = [:]
        for r in requests {
            if !fired.contains(r.id) { unknown.insert(r.id) }
            if (200..<300).contains(r.status) { successes[r.id, default: 0] += 1 }
        }
        succeeded = Set(successes.keys)
        self.retrying = Set(retrying)
        self.dead = Set(dead)
        self.pending = Set(pending)
        for (id, n) in successes where n > 1 {
            duplicateSuccesses += n - 1
            if redelivered.contains(id) || refired.contains(id) || republished.contains(id) || afterKill.contains(id) {
                explainedDuplicates += n - 1
            } else {
                unexplainedDuplicates.append(id)
            }
        }
        for id in fired {
            let places = [
                succeeded.contains(id), self.retrying.contains(id), self.dead.contains(id), self.pending.contains(id),
            ]
            switch places.filter({ $0 }).count {
            case 0: lost.insert(id)
            case 1: break
            default:
                // A success still waiting in a work queue is a queued duplicate (re-fire or redelivery), not a conflict.
                if succeeded.contains(id) && self.pending.contains(id) && !self.dead.contains(id)
                    && !self.retrying.contains(id)
                {
                    break
                }
                conflicting.insert(id)
            }
        }
    }

    /// Holds when the run is over: nothing lost, nothing unknown, no conflicts, nothing left pending.
    public var balancesAtRest: Bool {
        lost.isEmpty && unknown.isEmpty && conflicting.isEmpty && pending.subtracting(succeeded).isEmpty
    }

    public var description: String {
        var s =
            "fired \(fired.count) (re-fired \(refired.count), re-published \(republished.count)), backend requests \(requests), "
        s += "succeeded \(succeeded.count), retrying \(retrying.count), dead \(dead.count), pending \(pending.count), "
        s +=
            "duplicate successes \(duplicateSuccesses) (explained \(explainedDuplicates), unexplained \(unexplainedDuplicates.count)), "
        s +=
            "caught up \(caughtUp), max on-time lateness \(maxLatenessMs) ms, lost \(lost.count), unknown \(unknown.count), conflicting \(conflicting.count)"
        if !lost.isEmpty { s += "\n  lost: \(lost.sorted().prefix(10).joined(separator: ", "))" }
        if !unknown.isEmpty { s += "\n  unknown: \(unknown.sorted().prefix(10).joined(separator: ", "))" }
        if !conflicting.isEmpty { s += "\n  conflicting: \(conflicting.sorted().prefix(10).joined(separator: ", "))" }
        if !unexplainedDuplicates.isEmpty {
            s += "\n  unexplained duplicates: \(unexplainedDuplicates.sorted().prefix(10).joined(separator: ", "))"
        }
        return s
    }

    /// The value of `key=` in a logfmt line (quoted or bare).
    /// A log line's `ts` (milliseconds) or a `scheduled_at` (seconds), as an instant.
    public static func instant(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions =
            text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return f.date(from: text)
    }

    public static func field(_ key: String, in line: Substring) -> String? {
        guard let r = line.range(of: " \(key)=") ?? (line.hasPrefix("\(key)=") ? line.range(of: "\(key)=") : nil) else {
            return nil
        }
        let rest = line[r.upperBound...]
        if rest.first == "\"" {
            var out = ""
            var escaped = false
            for c in rest.dropFirst() {
                if escaped {
                    out.append(c); escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    break
                } else {
                    out.append(c)
                }
            }
            return out
        }
        return String(rest.prefix { $0 != " " })
    }
}
