import Foundation
import Testing

@testable import CronqCore

/// Property tests: random valid expressions, checked against a brute-force oracle that walks real
/// instants minute by minute (second by second for 6-field expressions) and reads the local time from
/// Foundation's `Calendar` — an implementation independent of CronSchedule's field jumping and
/// offset arithmetic.
@Suite("Cron schedule properties")
struct CronPropertyTests {
    static func field(_ lo: Int, _ hi: Int, _ rng: inout SplitMix64) -> String {
        let a = Int.random(in: lo...hi, using: &rng)
        let b = Int.random(in: a...hi, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: return "*"
        case 1: return "*/\(Int.random(in: 1...max(1, (hi - lo) / 2), using: &rng))"
        case 2: return "\(a)"
        case 3: return "\(a)-\(b)"
        case 4: return "\(a)-\(b)/\(Int.random(in: 1...3, using: &rng))"
        case 5: return "\(a),\(b)"
        default: return "\(a)/\(Int.random(in: 1...5, using: &rng))"
        }
    }

    static func expression(_ rng: inout SplitMix64, seconds: Bool) -> String {
        let dom = ["*", "?", "L", "LW", "15W", "1-10", "*/3", "5,20", "28-31"].randomElement(using: &rng)!
        let dow = ["*", "?", "MON-FRI", "5L", "1#2", "SAT,SUN", "0", "*/2", "TUE#1,FRI"].randomElement(using: &rng)!
        let month = ["*", "*", "*", "3,10", "1-6", "*/2"].randomElement(using: &rng)!
        var f = [field(0, 59, &rng), field(0, 23, &rng), dom, month, dow]
        if seconds {
            // Windows are an hour or two around a DST change: keep the hour and days broad enough to fire.
            f = [
                field(0, 59, &rng), field(0, 59, &rng), ["*", "1", "0-2", "*/2", "0,1"].randomElement(using: &rng)!,
                "*", "*", "*",
            ]
        }
        return f.joined(separator: " ")
    }

    /// Fires between `from` (exclusive) and `to` (inclusive) by brute force.
    static func oracle(_ e: CronExpression, zone: TimeZone, from: Int64, to: Int64) -> [Int64] {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let step: Int64 = e.hasSeconds ? 1 : 60
        var t = (from / step + 1) * step
        var fires: [Int64] = []
        var maxLocal = Int64.min
        func matches(_ local: Int64) -> Bool {
            let l = LocalTime(seconds: local)
            let days = Civil.days(year: l.year, month: l.month, day: l.day)
            let dim = Civil.daysInMonth(year: l.year, month: l.month)
            return e.months & (1 << UInt16(l.month)) != 0
                && e.dayMatches(
                    year: l.year, month: l.month, day: l.day, weekday: Civil.weekday(days: days), daysInMonth: dim)
                && e.hours & (1 << UInt32(l.hour)) != 0 && e.minutes & (1 << UInt64(l.minute)) != 0
                && e.seconds & (1 << UInt64(l.second)) != 0
        }
        while t <= to {
            let c = cal.dateComponents(
                [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(t)))
            let local = LocalTime(
                year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!
            ).seconds
            if e.isInterval {
                if matches(local) { fires.append(t) }
            } else if local > maxLocal {
                // Local times skipped since the last step (a spring-forward gap) fire once, now.
                var skippedMatch = false
                if maxLocal != Int64.min {
                    var l = maxLocal + step
                    while l < local && !skippedMatch {
                        skippedMatch = matches(l)
                        l += step
                    }
                }
                if skippedMatch || matches(local) { fires.append(t) }
                maxLocal = local
            }
            t += step
        }
        return fires
    }

    static func check(zoneName: String, windows: [(Int64, Int64)], cases: Int, seed: UInt64, seconds: Bool) throws {
        var rng = SplitMix64(seed: seed)
        let zone = TimeZone(identifier: zoneName)!
        var checked = 0
        var firing = 0
        defer {
            // The generator must produce mostly valid expressions that fire inside the windows,
            // or this test would prove little.
            #expect(checked >= cases * 3 / 4, "only \(checked) of \(cases) expressions parsed")
            #expect(firing >= checked / 4, "only \(firing) of \(checked) expressions fired in their window")
        }
        for i in 0..<cases {
            let text = expression(&rng, seconds: seconds)
            guard let e = try? CronExpression(text) else { continue }
            let schedule = CronSchedule(e, zone: ZoneRules(zone))
            let (from, to) = windows[i % windows.count]
            let expected = oracle(e, zone: zone, from: from, to: to)
            checked += 1
            if !expected.isEmpty { firing += 1 }
            var got: [Int64] = []
            var t = from
            while let n = schedule.next(after: t), n <= to {
                got.append(n)
                t = n
            }
            #expect(got == expected, "\(text) in \(zoneName) from \(iso(from))")
            if got != expected { return }
            if let after = schedule.next(after: t) {
                #expect(after > to, "\(text): a fire past the window must be past it")
            }
            // previous(next(t)) is the fire before it: the two searches agree.
            for k in got.indices.dropFirst() {
                #expect(schedule.previous(before: got[k]) == got[k - 1], "\(text): previous(\(iso(got[k])))")
            }
            if let first = got.first { #expect(schedule.previous(before: first).map { $0 <= from } ?? true) }
        }
    }

    @Test("UTC: random 5-field expressions match brute force over random 4-day windows")
    func utcFiveField() throws {
        var rng = SplitMix64(seed: 7)
        let windows = (0..<10).map { _ -> (Int64, Int64) in
            let start = Int64.random(in: utc("2024-01-01T00:00:00Z")...utc("2030-12-31T00:00:00Z"), using: &rng)
            return (start, start + 4 * 86_400)
        }
        try Self.check(zoneName: "UTC", windows: windows, cases: 120, seed: 1, seconds: false)
    }

    @Test("Europe/London and America/New_York: random expressions across both DST changes")
    func dstZones() throws {
        let london = [
            ("2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"), ("2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"),
        ]
        let ny = [("2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z"), ("2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z")]
        try Self.check(
            zoneName: "Europe/London", windows: london.map { (utc($0.0), utc($0.1)) }, cases: 80, seed: 2,
            seconds: false)
        try Self.check(
            zoneName: "America/New_York", windows: ny.map { (utc($0.0), utc($0.1)) }, cases: 80, seed: 3, seconds: false
        )
    }

    @Test("southern hemisphere and half-hour DST: Australia/Sydney, Australia/Lord_Howe")
    func southern() throws {
        let sydney = [
            ("2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z"), ("2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z"),
        ]
        try Self.check(
            zoneName: "Australia/Sydney", windows: sydney.map { (utc($0.0), utc($0.1)) }, cases: 60, seed: 4,
            seconds: false)
        try Self.check(
            zoneName: "Australia/Lord_Howe", windows: sydney.map { (utc($0.0), utc($0.1)) }, cases: 60, seed: 5,
            seconds: false)
    }

    @Test("6-field expressions with seconds across the London changes")
    func withSeconds() throws {
        let windows = [
            ("2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"), ("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"),
        ]
        try Self.check(
            zoneName: "Europe/London", windows: windows.map { (utc($0.0), utc($0.1)) }, cases: 40, seed: 6,
            seconds: true)
    }
}
