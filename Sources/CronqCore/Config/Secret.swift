/// A credential (backend token, signing secret). Printing it, interpolating it or dumping it shows
/// `***`, so it cannot leak into a log line, an event or an error by accident; ``reveal()`` is the one
/// deliberate way to get the value, and only the HTTP request builder calls it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) { self.value = value }

    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "***" }
    public var debugDescription: String { "Secret(***)" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
