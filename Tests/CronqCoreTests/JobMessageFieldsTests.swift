import Foundation
import Testing

@testable import CronqCore

/// The worker's fast path (``JobMessage/decodeFields(_:)``) must accept only what the general path
/// accepts, and read it the same; everything else it leaves to the general path.
@Suite("Job message read straight into its fields")
struct JobMessageFieldsTests {
    static func general(_ text: String) -> JobMessage? {
        try? JobMessage(json: JSONReader.parse(Array(text.utf8)))
    }

    static let base = try! JobMessageTests.fixture("job-message-every5min.json")

    @Test(
        "the usual shapes take the fast path and read as the general path reads them",
        arguments: [
            base,
            // Keys in another order, unknown members at every level (a later producer's), spaces.
            #"{"retry":{"backoff":["10s"],"max_duration_s":60,"max_attempts":2,"x":[1,{"y":null}]},"v":1,"#
                + #""request":{"timeout_ms":500,"body":"{\"a\":\"\\u00e9\\n\"}","headers":{},"path":"/cron/a","#
                + #""method":"PUT","extra":{"deep":[true,false,1.5e3]}},"backend":"b","job":"j","#
                + #""scheduled_at":"2026-01-01T00:00:00Z","future":"yes"}"#,
            // Absent body, headers with escapes, a duplicate key (the last wins in both paths).
            " \n{\"v\":1,\"job\":\"x\",\"job\":\"j2\",\"scheduled_at\":\"2026-01-01T00:00:00Z\",\"backend\":\"b\","
                + "\"request\":{\"method\":\"GET\",\"path\":\"/p\",\"headers\":{\"X-A\":\"1\",\"X-A\":\"\\u0032\"},"
                + "\"timeout_ms\":-0},\"retry\":{\"max_attempts\":0,\"backoff\":[],\"max_duration_s\":999999999999999999}}\t",
        ])
    func usual(_ text: String) throws {
        let fast = try #require(JobMessage.decodeFields(Array(text.utf8)), "took the general path")
        #expect(fast == Self.general(text))
    }

    @Test(
        "anything unusual is left to the general path, which decides",
        arguments: [
            "", "{}", "[]", "null", #"{"v":1}"#,
            // A version other than 1, a float or exponent where an integer is due (the general path takes
            // 30000.0), an integer too long for the fast path, a null field, a wrong type, trailing data.
            base.replacingOccurrences(of: #""v":1"#, with: #""v":2"#),
            base.replacingOccurrences(of: #""timeout_ms":30000"#, with: #""timeout_ms":30000.0"#),
            base.replacingOccurrences(of: #""timeout_ms":30000"#, with: #""timeout_ms":3e4"#),
            base.replacingOccurrences(of: #""timeout_ms":30000"#, with: #""timeout_ms":1234567890123456789"#),
            base.replacingOccurrences(of: #""timeout_ms":30000"#, with: #""timeout_ms":030000"#),
            base.replacingOccurrences(of: #""job":"every5min""#, with: #""job":null"#),
            base.replacingOccurrences(of: #""job":"every5min""#, with: #""job":5"#),
            base.replacingOccurrences(of: #""backoff":["#, with: #""backoff":[1,"#),
            base + "x", base + ",", String(base.dropLast(2)),
        ])
    func unusual(_ text: String) {
        #expect(JobMessage.decodeFields(Array(text.utf8)) == nil)
    }

    @Test("on 30,000 seeded mutations of the fixture, the fast path never accepts what the general path does not")
    func mutations() {
        var rng = SplitMix64(seed: 0x5EED_F1E1D5)
        let pieces = Array("{}[]\":,.-+eE0123456789tfnul\\/ \u{1}abcdxyz".utf8) + [0xC3, 0xA9, 0xFF]
        let base = Array(Self.base.utf8)
        var fastTaken = 0
        for _ in 0..<30_000 {
            var b = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let k = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[k] = pieces.randomElement(using: &rng)!
                case 1: b.insert(pieces.randomElement(using: &rng)!, at: k)
                default: b.remove(at: k)
                }
            }
            guard let fast = JobMessage.decodeFields(b) else { continue }
            fastTaken += 1
            let general = try? JobMessage(json: JSONReader.parse(b))
            #expect(fast == general, "\(String(decoding: b, as: UTF8.self))")
        }
        // Mutations inside string values keep the shape: some must have taken the fast path.
        #expect(fastTaken > 1_000)
    }
}
