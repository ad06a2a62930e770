#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A cron expression in a time zone: computes fire instants.
///
/// Matching is on wall-clock time in the zone. Across DST changes it follows DESIGN.md (cronie's
/// rule, extended to seconds):
/// - an *interval job* (second, minute or hour field starting with `*`) fires at every real instant
///   whose local time matches: both passes of a repeated hour, nothing in a skipped hour;
/// - a *wall-clock job* fires once, at the first pass, for a repeated local time, and a match at a
///   local time that does not exist fires once at the instant the gap ends.
///
/// The search jumps field by field (month, day, hour, minute, second) and never scans second by
/// second; it gives up after ``searchYears`` years and returns nil, so it cannot loop forever.
public struct CronSchedule: Sendable {
    public let expression: CronExpression
    public let zone: ZoneRules

    /// How far ahead (or back) a search looks before concluding the schedule never fires.
    public static let searchYears = 400

    public init(_ expression: CronExpression, zone: ZoneRules = .utc) {
        self.expression = expression
        self.zone = zone
    }

    /// Parses `text` for the zone named `timeZone`.
    /// - Throws: ``CronError``; an unknown zone is reported as such.
    public init(_ text: String, timeZone: String = "UTC") throws {
        guard let zone = ZoneRules.named(timeZone) else {
            throw CronError(
                field: nil, token: timeZone,
                reason: "unknown time zone '\(timeZone)' (use an IANA name such as Europe/London)")
        }
        self.init(try CronExpression(text), zone: zone)
    }

    /// The first fire instant strictly after `date`, or nil if there is none within ``searchYears``.
    public func next(after date: Date) -> Date? {
        let t = Int64(date.timeIntervalSince1970.rounded(.down))
        return next(after: t).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// The last fire instant strictly before `date`.
    public func previous(before date: Date) -> Date? {
        let raw = date.timeIntervalSince1970
        var t = Int64(raw.rounded(.down))
        if Double(t) < raw { t += 1 }  // strictly before a fractional instant: fires at ≤ floor are candidates
        return previous(before: t).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    // MARK: - Unix seconds

    /// The first fire strictly after `t` (Unix seconds).
    public func next(after t: Int64) -> Int64? {
        if zone.isFixed {
            let o = Int64(zone.fixedOffset)
            return nextLocal(from: t + o + 1).map { $0 - o }
        }
        return expression.isInterval ? nextInterval(after: t) : nextWallClock(after: t)
    }

    /// The last fire strictly before `t` (Unix seconds).
    public func previous(before t: Int64) -> Int64? {
        if zone.isFixed {
            let o = Int64(zone.fixedOffset)
            return previousLocal(from: t + o - 1).map { $0 - o }
        }
        return expression.isInterval ? previousInterval(before: t) : previousWallClock(before: t)
    }

    private func nextInterval(after t: Int64) -> Int64? {
        var cursor = t
        for _ in 0..<(Self.searchYears * 4) {
            let o = Int64(zone.offset(at: cursor + 1))
            let end = zone.nextTransition(after: cursor + 1) ?? Int64.max
            guard let local = nextLocal(from: cursor + 1 + o) else { return nil }
            let instant = local - o
            if instant < end { return instant }
            cursor = end - 1
        }
        return nil
    }

    private func previousInterval(before t: Int64) -> Int64? {
        var cursor = t
        for _ in 0..<(Self.searchYears * 4) {
            let o = Int64(zone.offset(at: cursor - 1))
            guard let local = previousLocal(from: cursor - 1 + o) else { return nil }
            let instant = local - o
            // Valid only if no transition lies in (instant, cursor): then the offset was o throughout.
            guard let transition = lastTransition(in: instant, cursor) else { return instant }
            cursor = transition
        }
        return nil
    }

    /// The last offset change in (from, to), if any.
    private func lastTransition(in from: Int64, _ to: Int64) -> Int64? {
        var last: Int64? = nil
        var at = from
        while let next = zone.nextTransition(after: at), next < to {
            last = next
            at = next
        }
        return last
    }

    private func nextWallClock(after t: Int64) -> Int64? {
        var from = t + Int64(zone.offset(at: t)) + 1
        for _ in 0..<100_000 {
            guard let local = nextLocal(from: from) else { return nil }
            let instant = resolve(local)
            if instant > t { return instant }
            from = local + 1
        }
        return nil
    }

    private func previousWallClock(before t: Int64) -> Int64? {
        // In the second pass of a repeated hour, local times up to the end of the first pass map
        // to instants before t: start from the larger of the two offsets.
        var from = t + Int64(max(zone.offset(at: t - 1), zone.offset(at: t - 86_400))) - 1
        for _ in 0..<100_000 {
            guard let local = previousLocal(from: from) else { return nil }
            let instant = resolve(local)
            if instant < t { return instant }
            from = local - 1
        }
        return nil
    }

    /// The instant a wall-clock job fires for local time `local`: its first occurrence, or the end
    /// of the gap when the local time does not exist.
    func resolve(_ local: Int64) -> Int64 {
        let before = Int64(zone.offset(at: local - 86_400 - 50_400))
        let after = Int64(zone.offset(at: local + 86_400))
        let i1 = local - before
        let i2 = local - after
        let v1 = Int64(zone.offset(at: i1)) == before
        let v2 = Int64(zone.offset(at: i2)) == after
        switch (v1, v2) {
        case (true, true): return min(i1, i2)
        case (true, false): return i1
        case (false, true): return i2
        case (false, false):
            // A gap: the transition lies in (i2, i1]; its instant is the gap's end.
            return zone.nextTransition(after: i2) ?? i1
        }
    }

    // MARK: - Field-jumping search in local time

    /// The first matching local time at or after `from` (local seconds).
    func nextLocal(from: Int64) -> Int64? {
        let e = expression
        var t = LocalTime(seconds: from)
        let lastYear = t.year + Self.searchYears
        while t.year <= lastYear {
            if e.months & (1 << UInt16(t.month)) == 0 {
                guard let m = UInt64(e.months).nextBit(from: t.month + 1), m <= 12 else {
                    t = LocalTime(year: t.year + 1, month: 1, day: 1, hour: 0, minute: 0, second: 0)
                    continue
                }
                t = LocalTime(year: t.year, month: m, day: 1, hour: 0, minute: 0, second: 0)
            }
            let dim = Civil.daysInMonth(year: t.year, month: t.month)
            var dayNumber = Civil.days(year: t.year, month: t.month, day: t.day)
            var weekday = Civil.weekday(days: dayNumber)
            var dayFound = false
            while t.day <= dim {
                if e.dayMatches(year: t.year, month: t.month, day: t.day, weekday: weekday, daysInMonth: dim) {
                    dayFound = true
                    break
                }
                t.day += 1
                t.hour = 0; t.minute = 0; t.second = 0
                dayNumber += 1
                weekday = weekday == 6 ? 0 : weekday + 1
            }
            if !dayFound {
                t =
                    t.month == 12
                    ? LocalTime(year: t.year + 1, month: 1, day: 1, hour: 0, minute: 0, second: 0)
                    : LocalTime(year: t.year, month: t.month + 1, day: 1, hour: 0, minute: 0, second: 0)
                continue
            }
            guard let h = UInt64(e.hours).nextBit(from: t.hour) else {
                advanceDay(&t, dim)
                continue
            }
            if h != t.hour { t.hour = h; t.minute = 0; t.second = 0 }
            guard let m = e.minutes.nextBit(from: t.minute), m < 60 else {
                t.minute = 0; t.second = 0
                if t.hour == 23 { advanceDay(&t, dim) } else { t.hour += 1 }
                continue
            }
            if m != t.minute { t.minute = m; t.second = 0 }
            guard let s = e.seconds.nextBit(from: t.second), s < 60 else {
                t.second = 0
                if t.minute == 59 {
                    t.minute = 0
                    if t.hour == 23 { advanceDay(&t, dim) } else { t.hour += 1 }
                } else {
                    t.minute += 1
                }
                continue
            }
            t.second = s
            return Int64(dayNumber) * 86_400 + Int64(t.hour * 3600 + t.minute * 60 + t.second)
        }
        return nil
    }

    @inline(__always)
    private func advanceDay(_ t: inout LocalTime, _ dim: Int) {
        t.hour = 0; t.minute = 0; t.second = 0
        if t.day < dim {
            t.day += 1
        } else if t.month < 12 {
            t.month += 1; t.day = 1
        } else {
            t.year += 1; t.month = 1; t.day = 1
        }
    }

    /// The last matching local time at or before `from` (local seconds).
    func previousLocal(from: Int64) -> Int64? {
        let e = expression
        var t = LocalTime(seconds: from)
        let firstYear = t.year - Self.searchYears
        while t.year >= firstYear {
            if e.months & (1 << UInt16(t.month)) == 0 {
                guard t.month > 1, let m = UInt64(e.months).previousBit(from: t.month - 1), m >= 1 else {
                    t = LocalTime(year: t.year - 1, month: 12, day: 31, hour: 23, minute: 59, second: 59)
                    continue
                }
                t = LocalTime(
                    year: t.year, month: m, day: Civil.daysInMonth(year: t.year, month: m), hour: 23, minute: 59,
                    second: 59)
            }
            let dim = Civil.daysInMonth(year: t.year, month: t.month)
            if t.day > dim { t.day = dim; t.hour = 23; t.minute = 59; t.second = 59 }
            var dayNumber = Civil.days(year: t.year, month: t.month, day: t.day)
            var weekday = Civil.weekday(days: dayNumber)
            var dayFound = false
            while t.day >= 1 {
                if e.dayMatches(year: t.year, month: t.month, day: t.day, weekday: weekday, daysInMonth: dim) {
                    dayFound = true
                    break
                }
                t.day -= 1
                t.hour = 23; t.minute = 59; t.second = 59
                dayNumber -= 1
                weekday = weekday == 0 ? 6 : weekday - 1
            }
            if !dayFound {
                retreatMonth(&t)
                continue
            }
            guard let h = UInt64(e.hours).previousBit(from: t.hour) else {
                retreatDay(&t)
                continue
            }
            if h != t.hour { t.hour = h; t.minute = 59; t.second = 59 }
            guard let m = e.minutes.previousBit(from: t.minute) else {
                t.minute = 59; t.second = 59
                if t.hour == 0 { retreatDay(&t) } else { t.hour -= 1 }
                continue
            }
            if m != t.minute { t.minute = m; t.second = 59 }
            guard let s = e.seconds.previousBit(from: t.second) else {
                t.second = 59
                if t.minute == 0 {
                    t.minute = 59
                    if t.hour == 0 { retreatDay(&t) } else { t.hour -= 1 }
                } else {
                    t.minute -= 1
                }
                continue
            }
            t.second = s
            return Int64(dayNumber) * 86_400 + Int64(t.hour * 3600 + t.minute * 60 + t.second)
        }
        return nil
    }

    @inline(__always)
    private func retreatDay(_ t: inout LocalTime) {
        t.hour = 23; t.minute = 59; t.second = 59
        if t.day > 1 { t.day -= 1 } else { retreatMonth(&t) }
    }

    @inline(__always)
    private func retreatMonth(_ t: inout LocalTime) {
        t.hour = 23; t.minute = 59; t.second = 59
        if t.month > 1 {
            t.month -= 1
        } else {
            t.year -= 1; t.month = 12
        }
        t.day = Civil.daysInMonth(year: t.year, month: t.month)
    }
}
