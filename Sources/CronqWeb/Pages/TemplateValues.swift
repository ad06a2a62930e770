/// Template values: a Mustache section (`{{#x}}`) shows for any present value, an empty string included,
/// so an absent value is left out of the dictionary rather than stored as "" or as a wrapped nil.
extension Dictionary where Key == String, Value == Any {
    mutating func put(_ key: String, _ value: Any?) {
        if let value { self[key] = value }
    }
}

extension String {
    /// nil for "" (for ``Swift/Dictionary/put(_:_:)``).
    var nonEmpty: String? { isEmpty ? nil : self }
}
