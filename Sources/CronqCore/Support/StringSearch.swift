/// The few string searches the core and runtime need, written on UTF-8 so that neither depends on
/// Foundation's `NSString` bridge: the worker links only `FoundationEssentials`, which has no
/// `range(of:)` or `trimmingCharacters(in:)` (docs/decisions.md, "The worker without Foundation").
extension StringProtocol {
    /// The first occurrence of `needle`, compared byte for byte (no Unicode equivalence: the callers
    /// look for ASCII markers such as `:-` or `lateness_ms=`).
    package func firstRange(of needle: String) -> Range<Index>? {
        let pattern = Array(needle.utf8)
        guard let first = pattern.first else { return nil }
        let bytes = utf8
        var i = bytes.startIndex
        while let hit = bytes[i...].firstIndex(of: first) {
            var a = hit, matched = true
            for b in pattern {
                guard a < bytes.endIndex, bytes[a] == b else { matched = false; break }
                a = bytes.index(after: a)
            }
            if matched { return hit..<a }
            i = bytes.index(after: hit)
        }
        return nil
    }

    /// The last occurrence of `needle`, byte for byte.
    package func lastRange(of needle: String) -> Range<Index>? {
        var found: Range<Index>? = nil
        var from = startIndex
        while let r = self[from...].firstRange(of: needle) {
            found = r
            from = utf8.index(after: r.lowerBound)
        }
        return found
    }

    /// Without leading and trailing spaces and tabs: the one trimmer of the core (config lists, rates,
    /// durations, `Retry-After`). On UTF-8 bytes, as the worker trims every job's `timeout`; a blank is
    /// one ASCII byte, so both ends land on scalar boundaries.
    package var trimmingBlanks: SubSequence {
        let bytes = utf8
        func blank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        // One forward pass (the view is only a Collection here): the end is just after the last non-blank.
        var lo = bytes.endIndex
        var hi = bytes.endIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let next = bytes.index(after: i)
            if !blank(bytes[i]) {
                if lo == bytes.endIndex { lo = i }
                hi = next
            }
            i = next
        }
        return self[lo..<hi]
    }
}
