import Foundation
import Testing

@testable import CronqCore

@Suite("Job message contract")
struct JobMessageTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func every5min() throws -> CronqConfig.Job {
        let c = try ConfigLoader(environment: ["T": "x"]).parse(
            """
            [backends.default]
            base_url = "http://b"
            token = "${T}"
            [[jobs]]
            name = "every5min"
            schedule = "*/5 * * * *"
            path = "/cron/ee-recent"
            """, path: "t.toml")
        return c.jobs[0]
    }

    @Test("a fire of the template's job encodes byte for byte as the golden fixture")
    func golden() throws {
        let m = JobMessage(job: try Self.every5min(), scheduledAt: utc("2026-11-28T10:05:00Z"))
        #expect(String(decoding: m.encoded(), as: UTF8.self) == (try Self.fixture("job-message-every5min.json")))
        #expect(m.messageID == "every5min@2026-11-28T10:05:00Z")
    }

    @Test("the fixture decodes to the same message, read by the worker's own reader")
    func decode() throws {
        let m = try JobMessage.parse(Array(try Self.fixture("job-message-every5min.json").utf8))
        #expect(m == JobMessage(job: try Self.every5min(), scheduledAt: utc("2026-11-28T10:05:00Z")))
    }

    @Test("strings with quotes, backslashes, control and non-ASCII characters survive encode → decode")
    func escaping() throws {
        let m = JobMessage(
            job: "j", scheduledAt: "2026-11-28T10:05:00Z", backend: "default",
            request: .init(
                method: "POST", path: "/x", headers: ["X-Q": "a\"b\\c", "X-Z": "ü\u{1}"],
                body: "{\"k\":\"line\nbreak\ttab\"}", timeoutMs: 5),
            retry: .init(maxAttempts: 2, backoff: ["10s"], maxDurationS: 60))
        let back = try JSONDecoder().decode(JobMessage.self, from: Data(m.encoded()))
        #expect(back == m)
    }

    @Test(
        "paths that could leave the backend's origin are refused",
        arguments: [
            "//evil.example/x", "http://evil.example/x", "https://evil/x", "@evil/x", "/x@evil.example", "\\\\evil",
            "/a b",
            "/\u{0}x", "cron/x", "", "/é",
        ])
    func unsafePaths(path: String) {
        #expect(JobMessage.pathProblem(path) != nil, "\(path) must be refused")
    }

    @Test(
        "ordinary paths and queries are fine",
        arguments: ["/cron/ee-recent", "/cron/mop-recent?delta=25", "/a/b?x=1&y=%20", "/q?email=a@b.c"])
    func safePaths(path: String) {
        #expect(JobMessage.pathProblem(path) == nil)
    }

    @Test("timestamps round-trip; offsets and fractions parse; nonsense does not")
    func timestamps() {
        #expect(Timestamp.iso(utc("2026-11-28T10:05:00Z")) == "2026-11-28T10:05:00Z")
        #expect(Timestamp.parse("2026-11-28T10:05:00Z") == utc("2026-11-28T10:05:00Z"))
        #expect(Timestamp.parse("2026-11-28T11:05:00+01:00") == utc("2026-11-28T10:05:00Z"))
        #expect(Timestamp.parse("2026-11-28T10:05:00.123Z") == utc("2026-11-28T10:05:00Z"))
        for bad in [
            "2026-11-28", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z", "x",
            "2026-11-28T10:05:00",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}
