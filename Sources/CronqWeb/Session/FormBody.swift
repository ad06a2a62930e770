import Foundation

/// An `application/x-www-form-urlencoded` body (what every dashboard form posts), with repeated keys kept
/// (the dead-letter list's checkboxes).
struct FormBody: Sendable {
    private(set) var fields: [(String, String)] = []

    init(_ text: String) {
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            fields.append((Self.decode(kv[0]), kv.count > 1 ? Self.decode(kv[1]) : ""))
        }
    }

    init() {}

    /// The first value of `key`, trimmed; nil when absent or empty.
    subscript(_ key: String) -> String? {
        let v = fields.first { $0.0 == key }?.1.trimmingCharacters(in: .whitespaces)
        return v?.isEmpty == false ? v : nil
    }

    func all(_ key: String) -> [String] { fields.filter { $0.0 == key }.map(\.1) }

    private static func decode(_ s: Substring) -> String {
        let spaced = s.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
