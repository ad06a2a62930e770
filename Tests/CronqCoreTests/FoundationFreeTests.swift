import Foundation
import Testing

@testable import CronqCore

/// The helpers that replace Foundation-only calls in the modules the worker links (docs/decisions.md,
/// "The worker without Foundation").
@Suite("Foundation-free helpers")
struct FoundationFreeTests {
    @Test("byte searches: first and last occurrence, absent, empty needle, needle longer than the text")
    func searches() {
        let s = "a:-b:-c"
        #expect(s.firstRange(of: ":-").map { s.distance(from: s.startIndex, to: $0.lowerBound) } == 1)
        #expect(s.lastRange(of: ":-").map { s.distance(from: s.startIndex, to: $0.lowerBound) } == 4)
        #expect(s.firstRange(of: "-:") == nil && s.lastRange(of: "x") == nil)
        #expect(s.firstRange(of: "") == nil)
        #expect("ab".firstRange(of: "abc") == nil)
        // A partial match at the end must not run past it.
        #expect("xxab".firstRange(of: "abc") == nil)
        let sub = "zz==yy"[...]
        #expect(sub.firstRange(of: "==").map { String(sub[$0.upperBound...]) } == "yy")
        // The same as Foundation's answer where Foundation is linked (these tests link it).
        let detail = "inequivalent arg 'x-max-length' for queue 'q': received '5' but current is none"
        #expect(
            detail.lastRange(of: "current is ").map { String(detail[$0.upperBound...]) }
                == detail.range(of: "current is ", options: .backwards).map { String(detail[$0.upperBound...]) })
    }

    @Test("blanks trimmed: spaces and tabs at both ends, nothing else")
    func trimming() {
        #expect(" \t amqp://a \t".trimmingBlanks == "amqp://a")
        #expect("   ".trimmingBlanks.isEmpty && "".trimmingBlanks.isEmpty)
        #expect("a b".trimmingBlanks == "a b")
        #expect("\nx\n".trimmingBlanks == "\nx\n")
        #expect("\t\u{A0}é 5/s\u{3000} ".trimmingBlanks == "\u{A0}é 5/s\u{3000}", "only ASCII blanks go")
        // A blank is a byte: one followed by a combining mark still goes, leaving the mark (which no
        // caller accepts: a URL, rate, duration or Retry-After starting with one is refused either way).
        #expect(Array(" \u{301}x ".trimmingBlanks.unicodeScalars) == ["\u{301}", "x"])
        #expect(DurationText.parse(" \u{301}5s") == nil && BackendLimits.Rate.parse("\u{301} 5/s") == nil)
        // Substrings trim within their own bounds.
        let line = "a,  b\t ,c"
        #expect(line.split(separator: ",").map { String($0.trimmingBlanks) } == ["a", "b", "c"])
    }

    @Test(
        "one decimal, rounded half away from zero",
        arguments: [
            (0.0, "0.0"), (0.04, "0.0"), (0.05, "0.1"), (12.34, "12.3"), (2.0, "2.0"), (1234.56, "1234.6"),
            (-3.45, "-3.5"), (-0.01, "0.0"),
        ])
    func oneDecimal(_ x: Double, _ text: String) {
        #expect(DecimalText.oneDecimal(x) == text)
    }

    @Test("a file's text, or the system's reason it cannot be read")
    func textFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-textfile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.toml")
        try Data("a = \"é\"\n".utf8).write(to: good)
        #expect(try TextFile.contents(of: good.path) == "a = \"é\"\n")
        let big = dir.appendingPathComponent("big")
        try Data(repeating: UInt8(ascii: "x"), count: 200_000).write(to: big)
        #expect(try TextFile.contents(of: big.path).utf8.count == 200_000)
        func reason(_ path: String) -> String? {
            do {
                _ = try TextFile.contents(of: path)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason(dir.appendingPathComponent("missing").path) == "No such file or directory")
        #expect(reason(dir.path) == "Is a directory")
        let latin1 = dir.appendingPathComponent("latin1")
        try Data([0x61, 0xE9, 0x0A]).write(to: latin1)
        #expect(reason(latin1.path) == "it is not UTF-8 text")
    }

    @Test("compact JSON: sorted keys, no spaces, escapes, nested values")
    func compactJSON() throws {
        var w = JSONWriter()
        w.value(
            .object([
                "b": .array([.int(1), .double(0.5), .bool(false), .null]), "a": .string("x\"\n/"),
                "c": .object([:]), "d": .array([]),
            ]))
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"a":"x\"\n/","b":[1,0.5,false,null],"c":{},"d":[]}"#)
        #expect(try JSONReader.parse(w.bytes)["b"]?.arrayValue?.count == 4)
    }

    @Test(
        "JSON strings: plain ones are copied whole, the rest escaped; both read back the same by Foundation and by JSONReader"
    )
    func jsonStrings() throws {
        let fixed = [
            "", "plain", "a\"b", "back\\slash", "line\nbreak\r\t", "\u{0}\u{1}\u{1F}", "é ü 日本 🎉", "slash/",
            String(repeating: "long ", count: 100), String(repeating: "é", count: 40) + "\"",
        ]
        var rng = SplitMix64(seed: 14)
        let alphabet: [Character] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{7}", "\u{7F}", "é", "日", "🎉"]
        let random = (0..<500).map { _ in
            String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        for text in fixed + random {
            var w = JSONWriter()
            w.string(text)
            let viaFoundation = try JSONSerialization.jsonObject(with: Data(w.bytes), options: .fragmentsAllowed)
            #expect(viaFoundation as? String == text, "\(Array(text.utf8))")
            #expect(try JSONReader.parse(w.bytes).stringValue == text, "\(Array(text.utf8))")
            let escaped = text.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
            #expect(escaped || w.bytes == [0x22] + Array(text.utf8) + [0x22], "a plain string is copied as it is")
        }
    }

    @Test("pretty JSON keeps JSONSerialization's layout byte for byte")
    func prettyJSON() throws {
        let doc: JSONValue = .object([
            "list": .array([.object(["k": .string("v"), "args": .object([:])]), .int(3)]), "empty": .array([]),
            "flag": .bool(true),
        ])
        var w = JSONWriter()
        w.value(doc, pretty: true)
        let foundation = try JSONSerialization.data(
            withJSONObject: [
                "list": [["k": "v", "args": [String: Any]()], 3] as [Any], "empty": [Any](), "flag": true,
            ] as [String: Any], options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(decoding: foundation, as: UTF8.self))
    }

    @Test("zone names: the database where linked, the form alone for the worker")
    func zoneNames() throws {
        #expect(ZoneRules.databaseLoaded, "these tests link Foundation, which brings the zone database")
        for good in ["UTC", "Europe/London", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "America/Port-au-Prince"] {
            #expect(ZoneRules.isWellFormedName(good), "\(good)")
        }
        for bad in [
            "", "Europe/", "/London", "Europe London", "Europe/../etc", "../../etc/passwd", "Zürich", "a/b/c/d",
        ] {
            #expect(!ZoneRules.isWellFormedName(bad), "\(bad)")
        }
        let toml = """
            [backends.default]
            base_url = "https://app.example.com/"
            token = "t0k3n"

            [[jobs]]
            name = "a"
            schedule = "0 * * * *"
            timezone = "Europe/Lodnon"
            path = "/cron/a"
            """
        // The database knows the name is misspelt; the form alone cannot, and lets the worker start.
        #expect(throws: ConfigError.self) { try ConfigLoader(environment: [:]).parse(toml, path: "t.toml") }
        let c = try ConfigLoader(environment: [:], zones: .form).parse(toml, path: "t.toml")
        #expect(c.jobs.first?.timezone == "Europe/Lodnon")
        let malformed = toml.replacingOccurrences(of: "Europe/Lodnon", with: "Europe London")
        #expect(throws: ConfigError.self) {
            try ConfigLoader(environment: [:], zones: .form).parse(malformed, path: "t.toml")
        }
    }
}
