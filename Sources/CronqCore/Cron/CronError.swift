/// Why a cron expression was rejected: the field, the offending token, and the reason,
/// e.g. `minute: 60 is out of range 0-59`.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field the error is in; nil for errors about the whole expression (wrong field count).
    public let field: CronField?
    /// The token that is wrong, as written.
    public let token: String
    public let reason: String

    public init(field: CronField?, token: String, reason: String) {
        self.field = field
        self.token = token
        self.reason = reason
    }

    public var description: String {
        if let field { return "\(field.name): \(reason)" }
        return reason
    }
}
