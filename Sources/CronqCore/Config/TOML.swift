/// A TOML 1.0 reader for what configuration files use: tables, arrays of tables, dotted and quoted
/// keys, basic and literal strings (single- and multi-line), integers, floats, booleans, arrays and
/// inline tables. Dates and times are rejected with a clear error (cronq has no date-valued key).
///
/// Written for cronq instead of wrapping a C++ parser: the wrapper used before kept its whole parse
/// tree alive (about 14× the file size, again on every SIGHUP reload).
enum TOML {
    enum Value {
        case string(String)
        case int(Int)
        case float(Double)
        case bool(Bool)
        case array([Value])
        case table(Table)

        var typeName: String {
            switch self {
            case .string: return "string"
            case .int: return "int"
            case .float: return "double"
            case .bool: return "bool"
            case .array: return "array"
            case .table: return "table"
            }
        }
        var string: String? { if case .string(let s) = self { return s }; return nil }
        var int: Int? { if case .int(let i) = self { return i }; return nil }
        var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
        var array: [Value]? { if case .array(let a) = self { return a }; return nil }
        var table: Table? { if case .table(let t) = self { return t }; return nil }
    }

    /// A table; a class so the parser can fill nested tables in place. Keys keep file order.
    ///
    /// Entries are one array, searched in order: a config's tables hold a handful of keys, and 100,000
    /// `[[jobs]]` tables each with a key array and a dictionary took about 500 bytes apiece, the peak of
    /// a big config's load (and of a ticker's takeover). A table that grows past `indexedFrom` keys (a
    /// long `headers` table, say) gets a name-to-position index, so it stays linear to build.
    final class Table {
        private var entries: [(key: String, value: Value)] = []
        private var index: [String: Int]? = nil
        static let indexedFrom = 16
        /// Defined by a `[header]` (may not be defined again), or implicitly by a dotted path.
        var explicitlyDefined = false
        /// Inline tables are closed once written.
        var isInline = false

        var keys: [String] { entries.map(\.key) }

        private func position(_ key: String) -> Int? {
            if let index { return index[key] }
            return entries.firstIndex { $0.key == key }
        }

        subscript(key: String) -> Value? {
            get { position(key).map { entries[$0].value } }
            set {
                guard let newValue else { preconditionFailure("a TOML table never loses a key (\(key))") }
                if let i = position(key) {
                    entries[i].value = newValue
                    return
                }
                entries.append((key, newValue))
                if index != nil {
                    index![key] = entries.count - 1
                } else if entries.count >= Self.indexedFrom {
                    index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
                }
            }
        }

        /// Appends a table to the array of tables at `key` in place. Taking the array out of the
        /// entry first keeps it uniquely referenced, so appending does not copy it: 100,000
        /// `[[jobs]]` stay linear instead of quadratic.
        func appendToArray(_ key: String, _ table: Table) -> Bool {
            guard let i = position(key), case .array(var items) = entries[i].value, let lastTable = items.last?.table,
                !lastTable.isInline
            else {
                return false
            }
            entries[i].value = .bool(false)
            items.append(.table(table))
            entries[i].value = .array(items)
            return true
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let line: Int
        let column: Int
        let message: String
        var description: String { message }
    }

    static func parse(_ text: String) throws(SyntaxError) -> Table {
        var p = Parser(Array(text.utf8))
        return try p.document()
    }

    struct Parser {
        let s: [UInt8]
        var i = 0
        let root = Table()
        var current: Table

        init(_ bytes: [UInt8]) {
            s = bytes
            current = root
        }

        func error(_ message: String, at pos: Int? = nil) -> SyntaxError {
            let p = min(pos ?? i, s.count)
            var line = 1
            var col = 1
            for k in 0..<p {
                if s[k] == 10 { line += 1; col = 1 } else { col += 1 }
            }
            return SyntaxError(line: line, column: col, message: message)
        }

        var atEnd: Bool { i >= s.count }
        var c: UInt8 { s[i] }

        mutating func skipSpaces() {
            while !atEnd && (c == 32 || c == 9) { i += 1 }
        }

        mutating func skipComment() {
            if !atEnd && c == UInt8(ascii: "#") { while !atEnd && c != 10 { i += 1 } }
        }

        /// Spaces, newlines and comments (inside arrays).
        mutating func skipBlank() {
            while !atEnd {
                if c == 32 || c == 9 || c == 10 || c == 13 {
                    i += 1
                } else if c == UInt8(ascii: "#") {
                    skipComment()
                } else {
                    break
                }
            }
        }

        mutating func endOfLine() throws(SyntaxError) {
            skipSpaces()
            skipComment()
            if atEnd { return }
            if c == 13 && i + 1 < s.count && s[i + 1] == 10 { i += 2; return }
            if c == 10 { i += 1; return }
            throw error("unexpected '\(Character(UnicodeScalar(c)))' after a value (one key = value per line)")
        }

        mutating func document() throws(SyntaxError) -> Table {
            while true {
                skipBlank()
                if atEnd { return root }
                if c == UInt8(ascii: "[") {
                    try header()
                } else {
                    try keyValue(into: current)
                    try endOfLine()
                }
            }
        }

        mutating func header() throws(SyntaxError) {
            let start = i
            let isArray = i + 1 < s.count && s[i + 1] == UInt8(ascii: "[")
            i += isArray ? 2 : 1
            skipSpaces()
            let path = try keyPath()
            skipSpaces()
            guard !atEnd && c == UInt8(ascii: "]") else {
                throw error("expected ] to close the table header", at: start)
            }
            i += 1
            if isArray {
                guard !atEnd && c == UInt8(ascii: "]") else {
                    throw error("expected ]] to close the array-of-tables header", at: start)
                }
                i += 1
            }
            try endOfLine()
            var t = root
            for (n, key) in path.enumerated() {
                let last = n == path.count - 1
                if last && isArray {
                    let fresh = Table()
                    fresh.explicitlyDefined = true
                    if t[key] == nil {
                        t[key] = .array([.table(fresh)])
                    } else if !t.appendToArray(key, fresh) {
                        throw error(
                            "'\(path.joined(separator: "."))' is already defined and is not an array of tables",
                            at: start)
                    }
                    current = fresh
                    return
                }
                switch t[key] {
                case nil:
                    let fresh = Table()
                    t[key] = .table(fresh)
                    t = fresh
                case .table(let existing)?:
                    if existing.isInline {
                        throw error("'\(key)' is an inline table and cannot be extended", at: start)
                    }
                    t = existing
                case .array(let items)? where !last && items.last?.table != nil:
                    t = items.last!.table!  // [[a]] then [a.b]: the latest element
                default:
                    throw error("'\(path.joined(separator: "."))' is already defined as a value", at: start)
                }
                if last {
                    if t.explicitlyDefined {
                        throw error("table [\(path.joined(separator: "."))] is defined twice", at: start)
                    }
                    t.explicitlyDefined = true
                }
            }
            current = t
        }

        mutating func keyPath() throws(SyntaxError) -> [String] {
            var parts = [try key()]
            skipSpaces()
            while !atEnd && c == UInt8(ascii: ".") {
                i += 1
                skipSpaces()
                parts.append(try key())
                skipSpaces()
            }
            return parts
        }

        mutating func key() throws(SyntaxError) -> String {
            guard !atEnd else { throw error("expected a key") }
            if c == UInt8(ascii: "\"") { return try basicString() }
            if c == UInt8(ascii: "'") { return try literalString() }
            let start = i
            while !atEnd, isBareKeyChar(c) { i += 1 }
            guard i > start else { throw error("expected a key (letters, digits, _ and -, or a quoted key)") }
            return String(decoding: s[start..<i], as: UTF8.self)
        }

        func isBareKeyChar(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || b == 45
        }

        mutating func keyValue(into table: Table) throws(SyntaxError) {
            let start = i
            let path = try keyPath()
            skipSpaces()
            guard !atEnd && c == UInt8(ascii: "=") else {
                throw error("expected = after the key '\(path.joined(separator: "."))'")
            }
            i += 1
            skipSpaces()
            let v = try value()
            var t = table
            for key in path.dropLast() {
                switch t[key] {
                case nil:
                    let fresh = Table()
                    t[key] = .table(fresh)
                    t = fresh
                case .table(let existing)? where !existing.explicitlyDefined && !existing.isInline:
                    t = existing
                default:
                    throw error("'\(key)' is already defined", at: start)
                }
            }
            let last = path.last!
            guard t[last] == nil else {
                throw error("the key '\(path.joined(separator: "."))' is defined twice", at: start)
            }
            t[last] = v
        }

        mutating func value() throws(SyntaxError) -> Value {
            guard !atEnd else { throw error("expected a value") }
            switch c {
            case UInt8(ascii: "\""): return .string(try basicString())
            case UInt8(ascii: "'"): return .string(try literalString())
            case UInt8(ascii: "["): return try arrayValue()
            case UInt8(ascii: "{"): return try inlineTable()
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                if hasPrefix("true") { i += 4; return .bool(true) }
                if hasPrefix("false") { i += 5; return .bool(false) }
                throw error("expected a value (strings need quotes)")
            default:
                return try number()
            }
        }

        func hasPrefix(_ word: String) -> Bool {
            let w = Array(word.utf8)
            return i + w.count <= s.count && Array(s[i..<(i + w.count)]) == w
        }

        mutating func number() throws(SyntaxError) -> Value {
            let start = i
            while !atEnd,
                !(c == 32 || c == 9 || c == 10 || c == 13 || c == UInt8(ascii: ",") || c == UInt8(ascii: "]")
                    || c == UInt8(ascii: "}") || c == UInt8(ascii: "#"))
            { i += 1 }
            let raw = String(decoding: s[start..<i], as: UTF8.self)
            guard !raw.isEmpty else { throw error("expected a value", at: start) }
            if raw.count >= 10, raw.dropFirst(4).first == "-", raw.prefix(4).allSatisfy(\.isNumber) {
                throw error("dates and times are not supported here; write the value as a string", at: start)
            }
            let text = raw.replacingOccurrences(of: "_", with: "")
            if text.hasPrefix("0x"), let v = Int(text.dropFirst(2), radix: 16) { return .int(v) }
            if text.hasPrefix("0o"), let v = Int(text.dropFirst(2), radix: 8) { return .int(v) }
            if text.hasPrefix("0b"), let v = Int(text.dropFirst(2), radix: 2) { return .int(v) }
            if let v = Int(text), !raw.hasPrefix("_"), !raw.hasSuffix("_"), !raw.contains("__") { return .int(v) }
            if ["inf", "+inf"].contains(text) { return .float(.infinity) }
            if text == "-inf" { return .float(-.infinity) }
            if ["nan", "+nan", "-nan"].contains(text) { return .float(.nan) }
            if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let v = Double(text) { return .float(v) }
            throw error("'\(raw.prefix(40))' is not a value (strings need quotes)", at: start)
        }

        mutating func arrayValue() throws(SyntaxError) -> Value {
            let start = i
            i += 1
            var items: [Value] = []
            while true {
                skipBlank()
                guard !atEnd else { throw error("unclosed [ (array)", at: start) }
                if c == UInt8(ascii: "]") { i += 1; return .array(items) }
                items.append(try value())
                skipBlank()
                guard !atEnd else { throw error("unclosed [ (array)", at: start) }
                if c == UInt8(ascii: ",") { i += 1; continue }
                if c == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected , or ] in the array")
            }
        }

        mutating func inlineTable() throws(SyntaxError) -> Value {
            let start = i
            i += 1
            let t = Table()
            skipSpaces()
            if !atEnd && c == UInt8(ascii: "}") {
                i += 1
                t.isInline = true
                return .table(t)
            }
            while true {
                skipSpaces()
                try keyValue(into: t)
                skipSpaces()
                guard !atEnd, c != 10 else {
                    throw error("unclosed { (inline tables are written on one line)", at: start)
                }
                if c == UInt8(ascii: ",") { i += 1; continue }
                if c == UInt8(ascii: "}") { i += 1; break }
                throw error("expected , or } in the inline table")
            }
            t.isInline = true
            return .table(t)
        }

        mutating func literalString() throws(SyntaxError) -> String {
            let start = i
            if hasPrefix("'''") {
                i += 3
                if !atEnd && c == 10 { i += 1 } else if hasPrefix("\r\n") { i += 2 }
                let body = i
                while !atEnd && !hasPrefix("'''") { i += 1 }
                guard !atEnd else { throw error("unclosed ''' string", at: start) }
                var end = i
                i += 3
                // up to two quotes belong to the string
                while !atEnd && c == UInt8(ascii: "'") && i - end < 5 { i += 1; end += 1 }
                return String(decoding: s[body..<end], as: UTF8.self)
            }
            i += 1
            let body = i
            while !atEnd && c != UInt8(ascii: "'") && c != 10 { i += 1 }
            guard !atEnd && c == UInt8(ascii: "'") else { throw error("unclosed ' string", at: start) }
            let out = String(decoding: s[body..<i], as: UTF8.self)
            i += 1
            return out
        }

        mutating func basicString() throws(SyntaxError) -> String {
            let start = i
            let multi = hasPrefix("\"\"\"")
            i += multi ? 3 : 1
            if multi { if !atEnd && c == 10 { i += 1 } else if hasPrefix("\r\n") { i += 2 } }
            var out: [UInt8] = []
            while true {
                guard !atEnd else { throw error("unclosed \(multi ? "\"\"\"" : "\"") string", at: start) }
                if multi && hasPrefix("\"\"\"") {
                    i += 3
                    var extra = 0
                    while !atEnd && c == UInt8(ascii: "\"") && extra < 2 { out.append(c); i += 1; extra += 1 }
                    break
                }
                if !multi && c == UInt8(ascii: "\"") { i += 1; break }
                if !multi && c == 10 { throw error("a \"string\" cannot span lines; use \"\"\" for that", at: start) }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard !atEnd else { throw error("unfinished escape", at: start) }
                    let e = c
                    i += 1
                    switch e {
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "\""): out.append(34)
                    case UInt8(ascii: "\\"): out.append(92)
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let n = e == UInt8(ascii: "u") ? 4 : 8
                        guard i + n <= s.count,
                            let v = UInt32(String(decoding: s[i..<(i + n)], as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(v)
                        else { throw error("bad \\\(Character(UnicodeScalar(e))) escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += n
                    case 32, 9, 10, 13:
                        // Line-ending backslash (multi-line strings): trim the newline and following whitespace.
                        guard multi else { throw error("a backslash must be followed by an escape character") }
                        i -= 1
                        while !atEnd && (c == 32 || c == 9 || c == 10 || c == 13) { i += 1 }
                    default:
                        throw error("unknown escape \\\(Character(UnicodeScalar(e))) (use \\\\ for a backslash)")
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
            guard let str = String(validating: out, as: UTF8.self) else {
                throw error("string is not valid UTF-8", at: start)
            }
            return str
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
