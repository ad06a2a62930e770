import Testing

@testable import CronqCore

@Suite("TOML reader")
struct TOMLReaderTests {
    func parse(_ s: String) throws -> TOML.Table { try TOML.parse(s) }

    func syntaxError(_ s: String) -> TOML.SyntaxError? {
        do {
            _ = try TOML.parse(s)
            return nil
        } catch {
            return error
        }
    }

    @Test("tables, dotted headers, arrays of tables, dotted and quoted keys, comments")
    func structure() throws {
        let t = try parse(
            """
            # comment
            top = 1 # trailing comment
            [a]
            x = "y"
            [a.b]
            "quoted key" = true
            'lit' = false
            c.d = 2
            [[jobs]]
            name = "one"
            [[jobs]]
            name = "two"
            [jobs.retry]
            max_attempts = 3
            """)
        #expect(t.keys == ["top", "a", "jobs"])
        #expect(t["top"]?.int == 1)
        #expect(t["a"]?.table?["x"]?.string == "y")
        let b = t["a"]?.table?["b"]?.table
        #expect(b?["quoted key"]?.bool == true && b?["lit"]?.bool == false)
        #expect(b?["c"]?.table?["d"]?.int == 2)
        let jobs = t["jobs"]?.array
        #expect(jobs?.count == 2)
        #expect(jobs?[1].table?["retry"]?.table?["max_attempts"]?.int == 3)
        #expect(jobs?[0].table?["retry"] == nil)
    }

    @Test("a table with many keys (searched through its index past 16) keeps every key, its order, and refuses repeats")
    func manyKeys() throws {
        let names = (0..<40).map { "h\(($0 * 7) % 40)" }  // not in sorted order
        let t = try parse("[headers]\n" + names.enumerated().map { "\($1) = \($0)" }.joined(separator: "\n"))
        let h = try #require(t["headers"]?.table)
        #expect(h.keys == names)
        for (i, n) in names.enumerated() { #expect(h[n]?.int == i) }
        #expect(h["h40"] == nil)
        for size in [3, 15, 16, 17, 40] {
            let text = "[t]\n" + (0..<size).map { "k\($0) = 1" }.joined(separator: "\n") + "\nk\(size / 2) = 2"
            #expect(syntaxError(text) != nil, "a repeated key in a table of \(size) keys is an error")
        }
    }

    @Test("strings: escapes, literal, multi-line, unicode")
    func strings() throws {
        let t = try parse(
            #"""
            a = "tab\there \"q\" \\ \u00e9 \U0001F600"
            b = 'C:\no\escapes'
            c = """
            line1
            line2"""
            d = '''
            raw \n '''
            e = """one \
                two"""
            f = "${VAR:-default}"
            """#)
        #expect(t["a"]?.string == "tab\there \"q\" \\ é 😀")
        #expect(t["b"]?.string == #"C:\no\escapes"#)
        #expect(t["c"]?.string == "line1\nline2")
        #expect(t["d"]?.string == #"raw \n "#)
        #expect(t["e"]?.string == "one two")
        #expect(t["f"]?.string == "${VAR:-default}")
    }

    @Test("numbers, booleans, arrays, inline tables")
    func values() throws {
        let t = try parse(
            """
            i = -1_000
            h = 0xff
            f = 1.5e3
            yes = true
            arr = [
              "10s", # first tier
              "1m",
            ]
            empty = []
            inline = { X-Source = "cronq", n = 1 }
            """)
        #expect(t["i"]?.int == -1000)
        #expect(t["h"]?.int == 255)
        if case .float(let f)? = t["f"] { #expect(f == 1500) } else { Issue.record("f is not a float") }
        #expect(t["yes"]?.bool == true)
        #expect(t["arr"]?.array?.compactMap(\.string) == ["10s", "1m"])
        #expect(t["empty"]?.array?.isEmpty == true)
        #expect(t["inline"]?.table?["X-Source"]?.string == "cronq")
    }

    @Test(
        "errors say what and where",
        arguments: [
            ("a = ", 1, "expected a value"),
            ("a = \"open", 1, "unclosed \" string"),
            ("a = 1\na = 2", 2, "the key 'a' is defined twice"),
            ("[t]\n[t]", 2, "table [t] is defined twice"),
            ("a = 1 2", 1, "unexpected '2' after a value"),
            ("a = bareword", 1, "'bareword' is not a value (strings need quotes)"),
            ("a = 2026-11-28", 1, "dates and times are not supported"),
            ("[a\nb = 1", 1, "expected ] to close the table header"),
            ("arr = [1, 2", 1, "unclosed [ (array)"),
            ("t = { a = 1", 1, "unclosed { (inline tables are written on one line)"),
            ("a = \"bad \\q escape\"", 1, "unknown escape \\q"),
            ("= 1", 1, "expected a key"),
            ("x = 1\n[x]", 2, "already defined as a value"),
        ])
    func errors(text: String, line: Int, message: String) {
        let e = syntaxError(text)
        #expect(e != nil, "\(text) was accepted")
        #expect(e?.line == line, "\(text): line \(e?.line ?? 0)")
        #expect(e?.message.contains(message) == true, "\(text): \(e?.message ?? "")")
    }

    @Test("a table may not be reopened through an inline table, and dotted keys may not redefine")
    func redefinition() {
        #expect(syntaxError("t = { a = 1 }\n[t]") != nil)
        #expect(syntaxError("a.b = 1\na.b.c = 2") != nil)
    }
}
