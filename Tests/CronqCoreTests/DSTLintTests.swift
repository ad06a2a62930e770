import Testing

@testable import CronqCore

@Suite("DST lint")
struct DSTLintTests {
    static let jan2026: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z

    func findings(_ cron: String, _ zone: String) throws -> [DSTLint.Finding] {
        try DSTLint.check(
            job: "j", CronExpression(cron), zone: ZoneRules.named(zone)!, from: Self.jan2026,
            until: Self.jan2026 + 365 * 86_400)
    }

    @Test(
        "London 01:30 daily: the March gap (fires at its end) and the October repeated hour (fires at the first pass)")
    func london() throws {
        let f = try findings("30 1 * * *", "Europe/London")
        #expect(f.count == 2)
        #expect(f[0].kind == .gap && f[0].localFrom == "2026-03-29 01:00" && f[0].localUntil == "2026-03-29 02:00")
        #expect(Timestamp.iso(f[0].firesAt) == "2026-03-29T01:00:00Z", "02:00 BST, the gap's end")
        #expect(f[1].kind == .repeated && f[1].localFrom == "2026-10-25 01:00" && f[1].localUntil == "2026-10-25 02:00")
        #expect(Timestamp.iso(f[1].firesAt) == "2026-10-25T00:30:00Z", "01:30 BST, the first pass")
        #expect(f[0].description.contains("does not exist (DST gap)") && f[1].description.contains("happens twice"))
    }

    @Test(
        "no findings for times DST does not touch, interval jobs, or UTC",
        arguments: [
            ("0 12 * * *", "Europe/London"), ("0 3 * * *", "Europe/London"), ("30 1 * * *", "UTC"),
            ("30 2 * * *", "Asia/Tokyo"),
        ])
    func none(cron: String, zone: String) throws {
        #expect(try findings(cron, zone).isEmpty)
    }

    @Test("interval jobs are exempt through the config check; disabled jobs too")
    func configLevel() throws {
        let c = try ConfigLoader(environment: [:]).parse(
            """
            [backends.default]
            base_url = "https://x.example"
            token = "t"
            [[jobs]]
            name = "interval"
            schedule = "*/5 * * * *"
            timezone = "Europe/London"
            path = "/a"
            [[jobs]]
            name = "nightly"
            schedule = "30 1 * * *"
            timezone = "Europe/London"
            path = "/b"
            [[jobs]]
            name = "off"
            schedule = "30 1 * * *"
            timezone = "Europe/London"
            path = "/c"
            enabled = false
            """, path: "t.toml")
        let f = DSTLint.check(c, now: Self.jan2026)
        #expect(Set(f.map(\.job)) == ["nightly"])
    }

    @Test("Lord Howe's half-hour shift: 02:15 falls in the October gap only")
    func lordHowe() throws {
        let f = try findings("15 2 * * *", "Australia/Lord_Howe")
        #expect(f.map(\.kind) == [.gap], "\(f)")
        #expect(f.first?.localFrom == "2026-10-04 02:00" && f.first?.localUntil == "2026-10-04 02:30")
    }
}
