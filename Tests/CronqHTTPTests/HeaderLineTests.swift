import Testing

@testable import CronqHTTP

/// The header callback's byte-level matching (the end-to-end `Retry-After` and `Location` cases run
/// against a real server in `HTTPClientTests`).
@Suite("Response header lines")
struct HeaderLineTests {
    static func isName(_ text: String, _ name: StaticString) -> Bool {
        Array(text.utf8).withUnsafeBytes { Transfer.isName($0, name) }
    }

    static func value(_ text: String) -> String {
        Array(text.utf8).withUnsafeBytes { Transfer.trimmedValue($0) }
    }

    @Test("names match ignoring ASCII case only, and only whole")
    func names() {
        #expect(Self.isName("Retry-After", "retry-after") && Self.isName("RETRY-AFTER", "retry-after"))
        #expect(Self.isName("location", "location") && Self.isName("LoCaTiOn", "location"))
        #expect(!Self.isName("Retry-After2", "retry-after") && !Self.isName("Retry-Afte", "retry-after"))
        #expect(!Self.isName("Retry_After", "retry-after") && !Self.isName("X-Location", "location"))
        // Only letters fold: `\r` is not `-` in disguise, nor `M` an `m` plus 32 the other way.
        #expect(!Self.isName("retry\rafter", "retry-after") && !Self.isName("locatioN\u{0}", "location"))
        #expect(!Self.isName("", "location"))
    }

    @Test("values lose surrounding blanks and the line end, nothing inside")
    func values() {
        #expect(Self.value(" 120\r\n") == "120")
        #expect(Self.value("\t Wed, 21 Oct 2026 07:28:00 GMT \r\n") == "Wed, 21 Oct 2026 07:28:00 GMT")
        #expect(Self.value("/a b/\n") == "/a b/")
        #expect(Self.value("\r\n") == "" && Self.value("") == "")
    }
}
