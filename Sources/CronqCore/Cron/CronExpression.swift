/// A parsed cron expression: bit sets per field plus the day-of-month and day-of-week specials.
///
/// Small on purpose (under 100 bytes): the ticker holds one per job, for 100,000 jobs.
/// Parse with ``init(_:)``; compute fire times with ``CronSchedule``.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    var seconds: UInt64  // bits 0-59
    var minutes: UInt64  // bits 0-59
    var hours: UInt32  // bits 0-23
    var daysOfMonth: UInt32  // bits 1-31
    var months: UInt16  // bits 1-12
    var daysOfWeek: UInt8  // bits 0-6
    /// `nW` in day-of-month: bit n set for each n.
    var nearestWeekdays: UInt32
    /// `nL` in day-of-week: last weekday n of the month, bit n.
    var lastWeekdays: UInt8
    /// `n#k` in day-of-week: bit (k-1)*7 + n.
    var nthWeekdays: UInt64
    var flags: UInt8

    static let lastDayFlag: UInt8 = 1  // L
    static let lastWorkdayFlag: UInt8 = 2  // LW
    static let domStarFlag: UInt8 = 4  // day-of-month starts with * or ?
    static let dowStarFlag: UInt8 = 8  // day-of-week starts with * or ?
    static let intervalFlag: UInt8 = 16  // second, minute or hour starts with *
    static let hasSecondsFlag: UInt8 = 32

    /// The expression as written (after expanding a @macro), for messages and round trips.
    public let source: String

    /// True for an *interval job*: its second (when present), minute or hour field starts with `*`.
    /// Interval jobs follow real time across DST changes; the others follow the wall clock.
    public var isInterval: Bool { flags & Self.intervalFlag != 0 }

    /// True when the expression has the leading seconds field.
    public var hasSeconds: Bool { flags & Self.hasSecondsFlag != 0 }

    public var description: String { source }

    /// Whether the calendar day matches the day-of-month and day-of-week fields, with the
    /// Vixie/cronie rule: if either field starts with `*`, both must match; otherwise either may.
    @inline(__always)
    func dayMatches(year: Int, month: Int, day: Int, weekday: Int, daysInMonth: Int) -> Bool {
        let dom = domMatches(year: year, month: month, day: day, weekday: weekday, daysInMonth: daysInMonth)
        let dow = dowMatches(day: day, weekday: weekday, daysInMonth: daysInMonth)
        if flags & (Self.domStarFlag | Self.dowStarFlag) != 0 { return dom && dow }
        return dom || dow
    }

    @inline(__always)
    private func domMatches(year: Int, month: Int, day: Int, weekday: Int, daysInMonth: Int) -> Bool {
        if daysOfMonth & (1 << UInt32(day)) != 0 { return true }
        if flags & Self.lastDayFlag != 0 && day == daysInMonth { return true }
        if flags & Self.lastWorkdayFlag != 0 {
            // Last weekday (Mon-Fri) of the month.
            let lastWeekday = (weekday + daysInMonth - day) % 7
            let last = lastWeekday == 6 ? daysInMonth - 1 : lastWeekday == 0 ? daysInMonth - 2 : daysInMonth
            if day == last { return true }
        }
        if nearestWeekdays != 0 && weekday != 0 && weekday != 6 {
            // nW: the weekday nearest to day n, never crossing into another month.
            var w = nearestWeekdays
            while w != 0 {
                let n = w.trailingZeroBitCount
                w &= w - 1
                guard n <= daysInMonth else { continue }
                let wn = ((weekday - (day - n)) % 7 + 7) % 7  // weekday of day n
                var target = n
                if wn == 6 { target = n == 1 ? 3 : n - 1 }  // Saturday: Friday before, or Monday after the 1st
                // Sunday: Monday after, or Friday before the last
                if wn == 0 { target = n == daysInMonth ? n - 2 : n + 1 }
                if target == day { return true }
            }
        }
        return false
    }

    @inline(__always)
    private func dowMatches(day: Int, weekday: Int, daysInMonth: Int) -> Bool {
        if daysOfWeek & (1 << UInt8(weekday)) != 0 { return true }
        if lastWeekdays & (1 << UInt8(weekday)) != 0 && day + 7 > daysInMonth { return true }
        if nthWeekdays != 0 {
            let k = (day - 1) / 7
            if nthWeekdays & (1 << UInt64(k * 7 + weekday)) != 0 { return true }
        }
        return false
    }
}

extension UInt64 {
    /// The smallest set bit at or above `from`, if any.
    @inline(__always)
    func nextBit(from: Int) -> Int? {
        guard from < 64 else { return nil }
        let m = self >> UInt64(from)
        return m == 0 ? nil : from + m.trailingZeroBitCount
    }

    /// The largest set bit at or below `from`, if any.
    @inline(__always)
    func previousBit(from: Int) -> Int? {
        guard from >= 0 else { return nil }
        let m = from >= 63 ? self : self & ((1 << UInt64(from + 1)) - 1)
        return m == 0 ? nil : 63 - m.leadingZeroBitCount
    }
}
