import Foundation
import Testing

@testable import CronqCore

/// The worker's per-job text work was rewritten on bytes (docs/benchmarks.md, eleventh session). Each
/// rewrite is checked here against the form it replaced, kept below as the reference, on fixed and seeded
/// random inputs: same answers, only cheaper.
@Suite("Byte-level rewrites agree with the forms they replaced")
struct FastPathEquivalenceTests {
    /// `DurationText.parse` as it was before the byte rewrite.
    static func referenceDuration(_ text: String) -> Duration? {
        var t = Substring(text)  // (the Character-based trim it had then)
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, ms) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(number),
                n <= Int64.max / ms / 1000
            else { continue }
            return .milliseconds(n * ms)
        }
        return nil
    }

    /// `Timestamp.iso` as it was before the byte rewrite.
    static func referenceISO(_ unixSeconds: Int64) -> String {
        let l = LocalTime(seconds: unixSeconds)
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let y =
            l.year < 1000 ? String(repeating: "0", count: 4 - String(l.year).count) + String(l.year) : String(l.year)
        return "\(y)-\(p2(l.month))-\(p2(l.day))T\(p2(l.hour)):\(p2(l.minute)):\(p2(l.second))Z"
    }

    @Test("durations: fixed cases and 20,000 seeded strings parse as before")
    func durations() {
        let fixed = [
            "", " ", "5", "s", "ms", "0s", "30s", " 30s ", "\t5m\t", "500ms", "2h", "1d", "007s", "1.5s", "-1s", "+1s",
            "5 s", "5 min", "1w", "5sm", "5msm", "٣s", "５s", "9223372036854775807ms", "9223372036854775s",
            "9223372036854775808ms", "99999999999999999999s", "1m ", " ms", "s5",
        ]
        var rng = SplitMix64(seed: 11)
        let alphabet: [Character] = ["0", "1", "5", "9", " ", "\t", "m", "s", "h", "d", "w", ".", "-", "+", "٣", "é"]
        let units = ["ms", "s", "m", "h", "d", "w", "", "sm", " s"]
        let blanks = ["", " ", "\t", "  "]
        let random = (0..<20_000).map { k -> String in
            if k % 2 == 0 {
                return String(
                    (0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            }
            let digits = String(
                (0..<Int.random(in: 0...21, using: &rng)).map { _ in "0123456789".randomElement(using: &rng)! })
            return blanks.randomElement(using: &rng)! + digits + units.randomElement(using: &rng)!
                + blanks.randomElement(using: &rng)!
        }
        var accepted = 0
        for text in fixed + random {
            let got = DurationText.parse(text)
            #expect(got == Self.referenceDuration(text), "\(text.debugDescription)")
            if got != nil { accepted += 1 }
        }
        #expect(accepted > 2000, "the random inputs include enough valid durations to compare")
    }

    @Test("timestamps: the edges of the fast path and 20,000 seeded instants format as before")
    func timestamps() {
        let fixed: [Int64] = [
            0, -1, 59, 86_399, 951_782_400, 1_709_251_199, 4_102_444_800, -62_167_219_200, -62_167_219_201,
            253_402_300_799, 253_402_300_800, -30_610_224_000,
        ]
        var rng = SplitMix64(seed: 12)
        let random = (0..<20_000).map { _ in Int64.random(in: -70_000_000_000...300_000_000_000, using: &rng) }
        for t in fixed + random {
            #expect(Timestamp.iso(t) == Self.referenceISO(t), "\(t)")
        }
        #expect(Timestamp.iso(0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.iso(253_402_300_799) == "9999-12-31T23:59:59Z")
        #expect(Timestamp.iso(253_402_300_800) == "10000-01-01T00:00:00Z", "past year 9999: the general form")
    }

    @Test("byte appends: decimals as String(n) writes them, text as its UTF-8 view, for edges and 20,000 seeded values")
    func byteAppends() {
        var rng = SplitMix64(seed: 13)
        let fixed = [0, 1, -1, 9, 10, -10, 99, 100, Int.max, Int.min, Int.max - 1, Int.min + 1, 1_000_000_007]
        let random = (0..<20_000).map { i in
            i % 2 == 0 ? Int.random(in: Int.min...Int.max, using: &rng) : Int.random(in: -1000...1000, using: &rng)
        }
        for n in fixed + random {
            var bytes: [UInt8] = [0x7B]  // appends after what is there
            bytes.appendDecimal(n)
            #expect(bytes == [0x7B] + Array(String(n).utf8), "\(n)")
        }
        let pieces = ["", "a", "ts=", " level=", "é", "日本", "😀", "\u{0}", "\r\n", String(repeating: "x", count: 300)]
        let texts =
            pieces
            + (0..<20_000).map { _ in
                (0..<Int.random(in: 0...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            }
            // A string that is a slice of another (shared storage) and one built from a Substring.
            + [
                "prefix-job-name".split(separator: "-").map(String.init).joined(),
                String("xxjobyy".dropFirst(2).dropLast(2)),
            ]
        for text in texts {
            var bytes = Array("k=".utf8)
            bytes.appendUTF8(text)
            #expect(bytes == Array("k=".utf8) + Array(text.utf8), "\(text.debugDescription)")
        }
    }

    /// `JobMessage.dotSegmentProblem` as it was before it read the string's bytes in place.
    static func referenceDotSegment(_ path: String) -> String? {
        let bytes = Array(path.utf8.prefix { $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") })
        var i = 0
        while i + 2 < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                let hi = bytes[i + 1], lo = bytes[i + 2] | 0x20
                if hi == UInt8(ascii: "2") && (lo == UInt8(ascii: "e") || lo == UInt8(ascii: "f"))
                    || hi == UInt8(ascii: "5") && lo == UInt8(ascii: "c")
                {
                    return "contains an encoded '.', '/' or '\\' (%2e, %2f, %5c) in its path part"
                }
            }
            i += 1
        }
        for segment in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        where segment.elementsEqual([UInt8(ascii: ".")])
            || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")])
        {
            return "contains a dot segment ('.' or '..')"
        }
        return nil
    }

    @Test("dot segments: edges and 20,000 seeded paths judged as before")
    func dotSegments() {
        var rng = SplitMix64(seed: 14)
        let fixed = [
            "", ".", "..", "...", "/", "//", "/.", "/..", "/...", "/./", "/../", "/a/.", "/a/..", "/a/../b", "/.a",
            "/a.",
            "/..a", "/a..", "/%2e", "/%2E%2e/", "/a%2fb", "/a%5Cb", "/a%5", "/a%", "/a%2", "/a?/../x", "/a#/..",
            "/a/..?x",
            "?", "#", "/a/%2e?", "/é/..", "/日本/./x",
        ]
        let alphabet = ["/", ".", "%", "2", "e", "E", "f", "5", "c", "C", "a", "?", "#", "é"]
        let random = (0..<20_000).map { _ in
            (0..<Int.random(in: 0...10, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
        }
        var refused = 0
        let paths = fixed + random
        for path in paths {
            let before = Self.referenceDotSegment(path)
            #expect(JobMessage.dotSegmentProblem(path) == before, "\(path.debugDescription)")
            if before != nil { refused += 1 }
        }
        #expect(
            refused > 500 && paths.count - refused > 500, "the seeded paths reach both verdicts: \(refused) refused")
    }
}
