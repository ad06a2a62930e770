#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `${VAR}` and `${VAR:-default}` expansion from the environment, so secrets stay out of the file.
public enum EnvironmentExpansion {
    public struct MissingVariable: Error, Equatable {
        public let name: String
    }

    public struct Malformed: Error, Equatable {
        public let reason: String
    }

    /// Expands every `${…}` in `text`. `$` not followed by `{` is kept as is; `$${` is a literal `${`.
    /// - Throws: ``MissingVariable`` for an unset variable without a default; ``Malformed`` for a bad reference.
    public static func expand(_ text: String, environment: [String: String]) throws -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$" {
                let next = text.index(after: i)
                if next < text.endIndex && text[next] == "$" {
                    out.append("$")
                    i = text.index(after: next)
                    continue
                }
                if next < text.endIndex && text[next] == "{" {
                    guard let close = text[next...].firstIndex(of: "}") else {
                        throw Malformed(reason: "unclosed ${ in '\(text.prefix(40))'")
                    }
                    let inner = text[text.index(after: next)..<close]
                    var name = Substring(inner)
                    var fallback: Substring? = nil
                    if let sep = inner.firstRange(of: ":-") {
                        name = inner[..<sep.lowerBound]
                        fallback = inner[sep.upperBound...]
                    }
                    guard !name.isEmpty, name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
                    else {
                        throw Malformed(
                            reason: "'${\(inner)}' is not a variable reference (use ${NAME} or ${NAME:-default})")
                    }
                    if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                        out += value
                    } else if let fallback {
                        out += fallback
                    } else {
                        throw MissingVariable(name: String(name))
                    }
                    i = text.index(after: close)
                    continue
                }
            }
            out.append(c)
            i = text.index(after: i)
        }
        return out
    }
}
