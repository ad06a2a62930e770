/// One `key=value` of a log line, for a caller whose fields are fixed and already sorted by key (the
/// worker's records, a line a job): ``LogfmtHandler/write(level:message:fields:)`` renders them without
/// building swift-log's metadata dictionary, hashing its keys and sorting them again. Numbers stay numbers
/// until they are written.
public struct LogField: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case number(Int)
    }

    public var key: String
    public var value: Value

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = .text(value)
    }

    public init(_ key: String, _ value: Int) {
        self.key = key
        self.value = .number(value)
    }

    /// The value as swift-log's metadata carries it.
    public var text: String {
        switch value {
        case .text(let s): return s
        case .number(let n): return String(n)
        }
    }
}
