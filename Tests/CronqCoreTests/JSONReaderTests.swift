import Foundation
import Testing

@testable import CronqCore

@Suite("JSON reader (job messages)")
struct JSONReaderTests {
    func parse(_ s: String) throws -> JSONValue { try JSONReader.parse(Array(s.utf8)) }

    @Test("values of every kind, escapes and surrogate pairs")
    func values() throws {
        #expect(
            try parse(#" {"a": [1, -2, 0, 3.5, 1e3, true, false, null], "b": {}} "#)
                == .object([
                    "a": .array([
                        .int(1), .int(-2), .int(0), .double(3.5), .double(1000), .bool(true), .bool(false), .null,
                    ]),
                    "b": .object([:]),
                ]))
        #expect(try parse(#""q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00""#) == .string("q\"b\\s/n\nt\tué😀"))
        #expect(try parse(#""plain ascii and ünïcode""#) == .string("plain ascii and ünïcode"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("9223372036854775807") == .int(Int.max))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(
        "what RFC 8259 rejects is rejected, with a position",
        arguments: [
            "", " ", "{", "[1,]", #"{"a":1,}"#, "01", "-", "1.", ".5", "1e", "+1", "tru", "nul", #"{"a" 1}"#, #"{a:1}"#,
            "\"unterminated", "\"tab\there\"", #""\x""#, #""\ud800""#, #""\udc00x""#, #""\u12G4""#, "[1] 2", "{}{}",
            "'a'",
        ])
    func rejects(text: String) {
        #expect(throws: JSONReader.SyntaxError.self) { try parse(text) }
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        #expect(throws: JSONReader.SyntaxError.self) { try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONReader.SyntaxError.self) { try JSONReader.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
    }

    @Test("nesting is capped, so hostile input cannot exhaust the stack")
    func depth() throws {
        let ok = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 100_000)
        let e = #expect(throws: JSONReader.SyntaxError.self) { try parse(deep) }
        #expect(e?.problem.contains("nested deeper") == true)
    }

    @Test("agrees with Foundation's JSONSerialization on a corpus of valid documents")
    func agreesWithFoundation() throws {
        let docs = [
            #"{"v":1,"job":"a-b_c","scheduled_at":"2026-01-01T00:00:00Z","backend":"default","request":{"method":"POST","path":"/cron/x?y=1","headers":{"X-A":"1","B":"é"},"body":"{\"k\":[1,2]}","timeout_ms":30000},"retry":{"max_attempts":5,"backoff":["10s","1m"],"max_duration_s":21600}}"#,
            #"[1,2,{"x":[null,true,"\u0000\u001f"]}]"#,
            #"{"deep":{"er":{"still":["a","b",{"c":-0.25}]}}}"#,
        ]
        for doc in docs {
            let ours = try parse(doc)
            let theirs = try JSONSerialization.jsonObject(with: Data(doc.utf8), options: [.fragmentsAllowed])
            #expect(Self.same(ours, theirs), "\(doc)")
        }
    }

    static func same(_ a: JSONValue, _ b: Any) -> Bool {
        switch a {
        case .null: return b is NSNull
        case .bool(let x): return (b as? Bool) == x
        case .int(let x): return (b as? NSNumber)?.intValue == x
        case .double(let x): return (b as? NSNumber)?.doubleValue == x
        case .string(let x): return (b as? String) == x
        case .array(let xs):
            guard let ys = b as? [Any], ys.count == xs.count else { return false }
            return zip(xs, ys).allSatisfy { same($0, $1) }
        case .object(let xs):
            guard let ys = b as? [String: Any], ys.count == xs.count else { return false }
            return xs.allSatisfy { k, v in ys[k].map { same(v, $0) } ?? false }
        }
    }

    @Test(
        "job message fields: the first missing or mistyped one is named",
        arguments: [
            (#"{"v":1}"#, "missing field job"),
            (#"{"v":2,"job":"x"}"#, "unknown message version v=2"),
            (#"{"v":"1"}"#, "wrong type for v"),
            (#"[1]"#, "not a JSON object"),
            (
                #"{"v":1,"job":"j","scheduled_at":"2026-01-01T00:00:00Z","backend":"default","request":{"method":"POST","path":"/x","headers":{},"body":null,"timeout_ms":1000},"retry":{"max_attempts":"3","backoff":["1s"],"max_duration_s":60}}"#,
                "wrong type for retry.max_attempts"
            ),
            (
                #"{"v":1,"job":"j","scheduled_at":"2026-01-01T00:00:00Z","backend":"default","request":{"method":"POST","headers":{},"timeout_ms":1000},"retry":{"max_attempts":3,"backoff":["1s"],"max_duration_s":60}}"#,
                "missing field request.path"
            ),
            (
                #"{"v":1,"job":"j","scheduled_at":"2026-01-01T00:00:00Z","backend":"default","request":{"method":"POST","path":"/x","headers":{"A":1},"timeout_ms":1000},"retry":{"max_attempts":3,"backoff":["1s"],"max_duration_s":60}}"#,
                "wrong type for request.headers.A"
            ),
            (#"{"v":1,"job":null}"#, "null for job"),
            (#"{"v":1,"job":"j"} x"#, "not valid JSON"),
        ])
    func fieldErrors(body: String, expected: String) {
        let e = #expect(throws: MalformedMessage.self) { try JobMessage.parse(Array(body.utf8)) }
        #expect(e?.reason.contains(expected) == true, "\(e?.reason ?? "nil")")
    }

    @Test("a message without body or with body null parses; the rest of the contract is checked as before")
    func optionalBody() throws {
        let m = try JobMessage.parse(
            Array(
                #"{"v":1,"job":"j","scheduled_at":"2026-01-01T00:00:00Z","backend":"default","request":{"method":"GET","path":"/x","headers":{},"timeout_ms":1000},"retry":{"max_attempts":3,"backoff":["1s"],"max_duration_s":60}}"#
                    .utf8))
        #expect(m.request.body == nil)
        #expect(m.request.method == "GET")
        #expect(m.retry.backoff == ["1s"])
    }
}
