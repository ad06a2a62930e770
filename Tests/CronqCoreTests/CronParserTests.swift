import Testing

@testable import CronqCore

@Suite("Cron parser")
struct CronParserTests {
    func bits(_ m: UInt64) -> [Int] { (0..<64).filter { m & (1 << UInt64($0)) != 0 } }

    @Test("lists, ranges, steps, names")
    func grammar() throws {
        let e = try CronExpression("*/15 1-3,5 1,15 JAN-mar mon-FRI")
        #expect(bits(e.minutes) == [0, 15, 30, 45])
        #expect(bits(UInt64(e.hours)) == [1, 2, 3, 5])
        #expect(bits(UInt64(e.daysOfMonth)) == [1, 15])
        #expect(bits(UInt64(e.months)) == [1, 2, 3])
        #expect(bits(UInt64(e.daysOfWeek)) == [1, 2, 3, 4, 5])
        #expect(bits(e.seconds) == [0])
        #expect(!e.hasSeconds)
        #expect(e.isInterval)
    }

    @Test("six fields with seconds; a/n and a-b/n steps")
    func seconds() throws {
        let e = try CronExpression("5/20 10-40/10 * * * *")
        #expect(e.hasSeconds)
        #expect(bits(e.seconds) == [5, 25, 45])
        #expect(bits(e.minutes) == [10, 20, 30, 40])
    }

    @Test("day-of-week: 0 and 7 are Sunday; a/n runs to 7; 5-7 wraps to Sunday")
    func sunday() throws {
        #expect(bits(UInt64(try CronExpression("0 0 * * 7").daysOfWeek)) == [0])
        #expect(bits(UInt64(try CronExpression("0 0 * * 0").daysOfWeek)) == [0])
        #expect(bits(UInt64(try CronExpression("0 0 * * 5-7").daysOfWeek)) == [0, 5, 6])
        #expect(bits(UInt64(try CronExpression("0 0 * * 1/2").daysOfWeek)) == [0, 1, 3, 5])
        #expect(bits(UInt64(try CronExpression("0 0 * * 0-7").daysOfWeek)) == [0, 1, 2, 3, 4, 5, 6])
    }

    @Test("equal ranges are single values")
    func equalRange() throws {
        #expect(bits(try CronExpression("5-5 * * * *").minutes) == [5])
        #expect(bits(try CronExpression("5-5/10 * * * *").minutes) == [5])
    }

    @Test("? means * in the day fields")
    func question() throws {
        let e = try CronExpression("0 12 ? * MON")
        #expect(e.flags & CronExpression.domStarFlag != 0)
        #expect(bits(UInt64(e.daysOfMonth)).count == 31)
    }

    @Test(
        "macros",
        arguments: [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
        ])
    func macros(macro: String, same: String) throws {
        let a = try CronExpression(macro)
        let b = try CronExpression(same)
        #expect(a.minutes == b.minutes && a.hours == b.hours && a.daysOfMonth == b.daysOfMonth)
        #expect(a.months == b.months && a.daysOfWeek == b.daysOfWeek && a.flags == b.flags)
    }

    @Test("L, LW, nW, nL, n#k")
    func specials() throws {
        let a = try CronExpression("0 0 L * *")
        #expect(a.flags & CronExpression.lastDayFlag != 0)
        let b = try CronExpression("0 0 LW * *")
        #expect(b.flags & CronExpression.lastWorkdayFlag != 0)
        let c = try CronExpression("0 0 15W,1W * *")
        #expect(bits(UInt64(c.nearestWeekdays)) == [1, 15])
        let d = try CronExpression("0 0 * * 5L,FRI#3,0#1")
        #expect(bits(UInt64(d.lastWeekdays)) == [5])
        #expect(bits(d.nthWeekdays) == [0, 2 * 7 + 5])
    }

    @Test(
        "interval or wall-clock job",
        arguments: [
            ("*/15 * * * *", true), ("0 */2 * * *", true), ("* 3 * * *", true), ("30 1 * * *", false),
            ("0 1-23/2 * * *", false), ("*/10 * * * * *", true), ("0 30 1 * * *", false), ("@hourly", true),
            ("@daily", false),
        ])
    func interval(expr: String, isInterval: Bool) throws {
        #expect(try CronExpression(expr).isInterval == isInterval)
    }

    @Test(
        "every error names the field, the token and why",
        arguments: [
            ("60 * * * *", "minute: 60 is out of range 0-59"),
            ("* 24 * * *", "hour: 24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
            ("* * 32 * *", "day-of-month: 32 is out of range 1-31"),
            ("* * * 13 *", "month: 13 is out of range 1-12"),
            ("* * * * 8", "day-of-week: 8 is out of range 0-7"),
            ("60 * * * * *", "second: 60 is out of range 0-59"),
            ("5-1 * * * *", "minute: '5-1' is a descending range; write the smaller value first"),
            ("*/0 * * * *", "minute: step 0 in '*/0': a step must be at least 1"),
            ("*/61 * * * *", "minute: step 61 in '*/61' is larger than the field's 60 values"),
            ("*/x * * * *", "minute: step 'x' in '*/x' is not a number"),
            ("a * * * *", "minute: 'a' is not a number"),
            ("* * * FOO *", "month: 'FOO' is not a number or a name (JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC)"),
            ("* * * * MON-FOO", "day-of-week: 'FOO' is not a number or a name (SUN MON TUE WED THU FRI SAT)"),
            ("1,,2 * * * *", "minute: empty item in list '1,,2'"),
            (
                "* * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second, got 4"
            ),
            (
                "* * * * * * *",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second, got 7"
            ),
            ("", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second, got 0"),
            (
                "@fortnightly",
                "unknown macro @fortnightly (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)"
            ),
            ("0 0 30 2 *", "day-of-month: 30 never occurs in month(s) 2: the schedule can never fire"),
            ("0 0 31 APR,JUN *", "day-of-month: 31 never occurs in month(s) APR,JUN: the schedule can never fire"),
            ("0 0 * * 5#6", "day-of-week: '5#6': the week number after # must be 1-5"),
            ("0 0 5X * *", "day-of-month: '5X' is not a number"),
            ("0 0 L5 * *", "day-of-month: 'L5' is not valid: use L, LW or nW (1-31)"),
            ("0 0 32W * *", "day-of-month: 32 is out of range 1-31"),
            ("? * * * *", "minute: '?' is not a number"),
            ("0 0 ?/2 * *", "day-of-month: '?' takes no step"),
        ])
    func errors(expr: String, message: String) {
        #expect(throws: CronError.self) { try CronExpression(expr) }
        do {
            _ = try CronExpression(expr)
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test("29 February parses and fires in leap years only")
    func leapDay() throws {
        let s = try CronSchedule("0 0 29 2 *")
        #expect(s.next(after: utc("2027-01-01T00:00:00Z")) == utc("2028-02-29T00:00:00Z"))
        #expect(
            s.next(after: utc("2028-02-29T00:00:00Z")) == utc("2032-02-29T00:00:00Z"), "2029-2031 have no 29 February")
    }

    @Test("a parsed expression is small")
    func size() {
        #expect(MemoryLayout<CronExpression>.size <= 128)
    }
}
