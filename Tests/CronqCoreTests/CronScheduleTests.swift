import Foundation
import Testing

@testable import CronqCore

/// Formats and parses `YYYY-MM-DDTHH:MM:SSZ` without Foundation's formatters (they are the slow part).
func iso(_ t: Int64) -> String {
    let l = LocalTime(seconds: t)
    return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", l.year, l.month, l.day, l.hour, l.minute, l.second)
}

func utc(_ s: String) -> Int64 {
    let p = s.split(whereSeparator: { "-T:Z".contains($0) }).map { Int($0)! }
    return LocalTime(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4], second: p[5]).seconds
}

func fires(_ expr: String, tz: String = "UTC", from: String, count: Int) throws -> [String] {
    let s = try CronSchedule(expr, timeZone: tz)
    var t = utc(from)
    var out: [String] = []
    for _ in 0..<count {
        guard let n = s.next(after: t) else { break }
        out.append(iso(n))
        t = n
    }
    return out
}

@Suite("Cron schedule: next and previous")
struct CronScheduleTests {
    @Test("every five minutes, strictly after --from even when it is a fire instant")
    func strictlyAfter() throws {
        #expect(
            try fires("*/5 * * * *", from: "2026-11-28T10:05:00Z", count: 3)
                == ["2026-11-28T10:10:00Z", "2026-11-28T10:15:00Z", "2026-11-28T10:20:00Z"])
        #expect(try fires("*/5 * * * *", from: "2026-11-28T10:04:59Z", count: 1) == ["2026-11-28T10:05:00Z"])
    }

    @Test("the template's four jobs")
    func templateJobs() throws {
        #expect(
            try fires("6 2 * * *", from: "2026-11-28T10:00:00Z", count: 2) == [
                "2026-11-29T02:06:00Z", "2026-11-30T02:06:00Z",
            ])
        #expect(try fires("23 23 * * *", from: "2026-11-28T23:23:00Z", count: 1) == ["2026-11-29T23:23:00Z"])
        #expect(try fires("33 23 * * *", from: "2026-11-28T23:00:00Z", count: 1) == ["2026-11-28T23:33:00Z"])
    }

    @Test("year boundary")
    func yearBoundary() throws {
        #expect(
            try fires("0 0 1 1 *", from: "2026-12-31T23:59:59Z", count: 2) == [
                "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z",
            ])
        #expect(try fires("59 23 31 12 *", from: "2026-06-01T00:00:00Z", count: 1) == ["2026-12-31T23:59:00Z"])
    }

    @Test("29 February over eight years fires in leap years only")
    func leapYears() throws {
        #expect(
            try fires("0 0 29 2 *", from: "2025-01-01T00:00:00Z", count: 2) == [
                "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z",
            ])
        // 2100 is not a leap year.
        #expect(try fires("0 0 29 2 *", from: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00Z"])
    }

    @Test("L is the last day in months of 28, 29, 30 and 31 days")
    func lastDay() throws {
        #expect(
            try fires("0 0 L * *", from: "2027-01-15T00:00:00Z", count: 4)
                == ["2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z", "2027-04-30T00:00:00Z"])
        #expect(try fires("0 0 L 2 *", from: "2028-01-01T00:00:00Z", count: 1) == ["2028-02-29T00:00:00Z"])
    }

    @Test("LW: last weekday of the month")
    func lastWorkday() throws {
        // 2026-05-31 is a Sunday → Friday 29; 2026-01-31 is a Saturday → Friday 30; 2026-02-28 Saturday → 27.
        #expect(
            try fires("0 0 LW * *", from: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z",
            ])
        #expect(try fires("0 0 LW 5 *", from: "2026-01-01T00:00:00Z", count: 1) == ["2026-05-29T00:00:00Z"])
    }

    @Test("nW: nearest weekday, never leaving the month")
    func nearestWeekday() throws {
        // 2026-08-15 is a Saturday → Friday 14. 2026-03-15 is a Sunday → Monday 16.
        #expect(try fires("0 0 15W 8 *", from: "2026-01-01T00:00:00Z", count: 1) == ["2026-08-14T00:00:00Z"])
        #expect(try fires("0 0 15W 3 *", from: "2026-01-01T00:00:00Z", count: 1) == ["2026-03-16T00:00:00Z"])
        // 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday in July.
        #expect(try fires("0 0 1W 8 *", from: "2026-07-01T00:00:00Z", count: 1) == ["2026-08-03T00:00:00Z"])
        // 2026-05-31 is a Sunday: 31W is Friday the 29th.
        #expect(try fires("0 0 31W 5 *", from: "2026-05-01T00:00:00Z", count: 1) == ["2026-05-29T00:00:00Z"])
        // 31W in a 30-day month does not fire.
        #expect(try fires("0 0 31W 4,5 *", from: "2026-04-01T00:00:00Z", count: 1) == ["2026-05-29T00:00:00Z"])
    }

    @Test("nL and n#k")
    func nthAndLastWeekday() throws {
        // Third Friday: 2026-01-16, 2026-02-20. Last Friday of Feb 2026: 27th; of Jan: 30th.
        #expect(
            try fires("0 0 * * 5#3", from: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-16T00:00:00Z", "2026-02-20T00:00:00Z",
            ])
        #expect(
            try fires("0 0 * * FRIL", from: "2026-01-01T00:00:00Z", count: 2) == [
                "2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z",
            ])
        // Fifth Sunday: only in months that have one (2026-03-29, 2026-05-31).
        #expect(
            try fires("0 0 * * 0#5", from: "2026-03-01T00:00:00Z", count: 2) == [
                "2026-03-29T00:00:00Z", "2026-05-31T00:00:00Z",
            ])
    }

    @Test("day-of-month and day-of-week: OR when both restricted, AND when either starts with *")
    func vixieRule() throws {
        // 1st of the month OR Monday.
        #expect(
            try fires("0 0 1 * MON", from: "2026-06-26T00:00:00Z", count: 3)
                == ["2026-06-29T00:00:00Z", "2026-07-01T00:00:00Z", "2026-07-06T00:00:00Z"])
        // */2 days AND Monday: odd days that are Mondays (2026-06-29 odd? 29 → yes, 1+2k).
        #expect(
            try fires("0 0 */2 * MON", from: "2026-06-20T00:00:00Z", count: 2) == [
                "2026-06-29T00:00:00Z", "2026-07-13T00:00:00Z",
            ])
        #expect(
            try fires("0 9 * * MON-FRI", from: "2026-11-27T09:00:00Z", count: 2) == [
                "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z",
            ])
    }

    @Test("seconds field")
    func secondsField() throws {
        #expect(
            try fires("*/10 * * * * *", from: "2026-11-28T10:00:55Z", count: 3)
                == ["2026-11-28T10:01:00Z", "2026-11-28T10:01:10Z", "2026-11-28T10:01:20Z"])
        #expect(try fires("30 0 12 * * *", from: "2026-11-28T10:00:00Z", count: 1) == ["2026-11-28T12:00:30Z"])
    }

    @Test("a zone without DST, and zones with 30- and 45-minute offsets")
    func fixedOffsets() throws {
        #expect(
            try fires("0 9 * * *", tz: "Asia/Kolkata", from: "2026-11-28T00:00:00Z", count: 1) == [
                "2026-11-28T03:30:00Z"
            ])
        #expect(
            try fires("0 9 * * *", tz: "Asia/Kathmandu", from: "2026-11-28T00:00:00Z", count: 1) == [
                "2026-11-28T03:15:00Z"
            ])
        #expect(
            try fires("0 9 * * *", tz: "Asia/Tokyo", from: "2026-11-28T00:00:00Z", count: 1) == ["2026-11-29T00:00:00Z"]
        )
    }

    @Test("Europe/London spring forward: wall-clock 30 1 fires at the gap's end; interval jobs skip the gap")
    func londonSpring() throws {
        #expect(
            try fires("30 1 * * *", tz: "Europe/London", from: "2026-03-28T12:00:00Z", count: 2)
                == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        // */15: 00:45 GMT, then local 02:00 BST = 01:00Z. No fire for the missing 01:xx local times.
        #expect(
            try fires("*/15 * * * *", tz: "Europe/London", from: "2026-03-29T00:30:00Z", count: 3)
                == ["2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"])
        // 0 2 exists (02:00 BST is the gap's end, local time 02:00 exists): 01:00Z.
        #expect(
            try fires("0 2 * * *", tz: "Europe/London", from: "2026-03-28T12:00:00Z", count: 1) == [
                "2026-03-29T01:00:00Z"
            ])
        // Several matches inside one gap collapse to one fire.
        #expect(
            try fires("0,15,30,45 1 * * *", tz: "Europe/London", from: "2026-03-28T12:00:00Z", count: 2)
                == ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"])
    }

    @Test("Europe/London fall back: wall-clock fires once at the first pass; interval jobs fire in both passes")
    func londonAutumn() throws {
        #expect(
            try fires("30 1 * * *", tz: "Europe/London", from: "2026-10-24T12:00:00Z", count: 2)
                == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        // From inside the second pass, the repeated 01:30 is not fired again.
        #expect(
            try fires("30 1 * * *", tz: "Europe/London", from: "2026-10-25T01:10:00Z", count: 1) == [
                "2026-10-26T01:30:00Z"
            ])
        #expect(
            try fires("*/30 * * * *", tz: "Europe/London", from: "2026-10-24T23:45:00Z", count: 5)
                == [
                    "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z",
                    "2026-10-25T02:00:00Z",
                ])
        #expect(
            try fires("0 2 * * *", tz: "Europe/London", from: "2026-10-24T12:00:00Z", count: 1) == [
                "2026-10-25T02:00:00Z"
            ])
    }

    @Test("America/New_York: 0 2 * * * in the spring gap and the autumn repeat")
    func newYork() throws {
        // 2026-03-08 02:00 EST does not exist → gap end 03:00 EDT = 07:00Z.
        #expect(
            try fires("0 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00Z", count: 2)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"])
        // 2026-11-01 01:30 repeats: first pass 01:30 EDT = 05:30Z.
        #expect(
            try fires("30 1 * * *", tz: "America/New_York", from: "2026-10-31T12:00:00Z", count: 2)
                == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    }

    @Test("southern hemisphere: Australia/Sydney and the 30-minute DST of Lord Howe")
    func southern() throws {
        // Sydney springs forward 2026-10-04 02:00 AEST → 03:00 AEDT (16:00Z on 10-03).
        #expect(
            try fires("30 2 * * *", tz: "Australia/Sydney", from: "2026-10-03T00:00:00Z", count: 2)
                == ["2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"])
        // Sydney falls back 2026-04-05 03:00 AEDT → 02:00 AEST: 02:30 local first pass = 15:30Z on 04-04.
        #expect(
            try fires("30 2 * * *", tz: "Australia/Sydney", from: "2026-04-04T00:00:00Z", count: 2)
                == ["2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"])
        #expect(
            try fires("*/30 2 * * *", tz: "Australia/Sydney", from: "2026-04-04T15:00:00Z", count: 4)
                == ["2026-04-04T15:30:00Z", "2026-04-04T16:00:00Z", "2026-04-04T16:30:00Z", "2026-04-05T16:00:00Z"])
        // Lord Howe: +10:30 / +11, 30-minute change at 02:00 local on 2026-10-04 (15:30Z on 10-03).
        #expect(
            try fires("15 2 * * *", tz: "Australia/Lord_Howe", from: "2026-10-03T00:00:00Z", count: 1) == [
                "2026-10-03T15:30:00Z"
            ])
    }

    @Test("seconds across DST: interval seconds follow real time; wall-clock seconds fire at the gap's end")
    func secondsDST() throws {
        #expect(
            try fires("*/20 59 0 * * *", tz: "Europe/London", from: "2026-03-29T00:59:30Z", count: 2)
                == ["2026-03-29T00:59:40Z", "2026-03-29T23:59:00Z"])
        #expect(
            try fires("10 30 1 * * *", tz: "Europe/London", from: "2026-03-28T12:00:00Z", count: 1) == [
                "2026-03-29T01:00:00Z"
            ])
    }

    @Test("previous(before:)")
    func previous() throws {
        let s = try CronSchedule("*/5 * * * *")
        #expect(s.previous(before: utc("2026-11-28T10:05:00Z")).map(iso) == "2026-11-28T10:00:00Z")
        #expect(s.previous(before: utc("2026-11-28T10:05:01Z")).map(iso) == "2026-11-28T10:05:00Z")
        let leap = try CronSchedule("0 0 29 2 *")
        #expect(leap.previous(before: utc("2031-01-01T00:00:00Z")).map(iso) == "2028-02-29T00:00:00Z")
        let london = try CronSchedule("30 1 * * *", timeZone: "Europe/London")
        #expect(london.previous(before: utc("2026-03-29T12:00:00Z")).map(iso) == "2026-03-29T01:00:00Z")
        #expect(london.previous(before: utc("2026-10-25T12:00:00Z")).map(iso) == "2026-10-25T00:30:00Z")
        let interval = try CronSchedule("*/30 * * * *", timeZone: "Europe/London")
        #expect(interval.previous(before: utc("2026-10-25T01:15:00Z")).map(iso) == "2026-10-25T01:00:00Z")
        #expect(interval.previous(before: utc("2026-03-29T01:00:00Z")).map(iso) == "2026-03-29T00:30:00Z")
    }

    @Test("a rare schedule is found quickly and an impossible one returns nil without looping")
    func rare() throws {
        // Fifth Friday in February: only when Feb 1 of a leap year is a Friday.
        let s = try CronSchedule("0 0 * 2 5#5")
        let start = ContinuousClock.now
        let n = s.next(after: utc("2026-01-01T00:00:00Z"))
        #expect(n.map(iso) == "2036-02-29T00:00:00Z")
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test("unknown time zone is an error naming it")
    func unknownZone() {
        #expect(throws: CronError.self) { try CronSchedule("* * * * *", timeZone: "Mars/Olympus") }
    }
}
