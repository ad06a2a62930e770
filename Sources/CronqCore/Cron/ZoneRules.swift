import Synchronization

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// UTC offsets and transitions of one IANA time zone, from the system's database through Foundation's
/// `TimeZone`, cached by interval: cron computations ask about the same few months over and over.
///
/// The database comes with `FoundationInternationalization` (ICU), which `FoundationEssentials` finds
/// at run time when the program links it: the ticker and the CLI do; the worker, which evaluates no
/// schedule, does not, and there only UTC and fixed offsets resolve (``databaseLoaded``).
///
/// Thread-safe (a `Mutex` around a tiny cache), so one instance can serve a whole ticker.
public final class ZoneRules: Sendable {
    public let timeZone: TimeZone
    /// True for UTC and fixed-offset zones: no transitions, no cache needed.
    let isFixed: Bool
    let fixedOffset: Int

    private struct Segment {
        var from: Int64
        var until: Int64  // next transition, exclusive
        var offset: Int
    }

    private let cache = Mutex<[Segment]>([])

    public static let utc = ZoneRules(TimeZone(identifier: "UTC")!)

    public init(_ timeZone: TimeZone) {
        self.timeZone = timeZone
        let probe = Date(timeIntervalSince1970: 1_700_000_000)
        let fixed =
            timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 0)) == nil
            && timeZone.nextDaylightSavingTimeTransition(after: probe) == nil
            && timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: 0)) == timeZone.secondsFromGMT(for: probe)
        self.isFixed = fixed
        self.fixedOffset = timeZone.secondsFromGMT(for: probe)
    }

    private static let shared = Mutex<[String: ZoneRules]>([:])

    /// Whether this process can resolve IANA zone names (it links `FoundationInternationalization`).
    public static let databaseLoaded = TimeZone(identifier: "America/New_York") != nil

    /// Whether `name` has the form of an IANA zone name (`UTC`, `Europe/London`, `America/Argentina/
    /// Buenos_Aires`, `Etc/GMT+5`), without asking the database whether it exists.
    public static func isWellFormedName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return name.utf8.count <= 64 && parts.count <= 3
            && parts.allSatisfy { part in
                guard let first = part.first, first.isASCII, first.isLetter else { return false }
                return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_+-".contains($0)) }
            }
    }

    /// The one shared instance per zone name: 100,000 jobs in one zone share one `TimeZone` and one cache.
    public static func named(_ identifier: String) -> ZoneRules? {
        if let z = shared.withLock({ $0[identifier] }) { return z }
        guard let z = ZoneRules(identifier: identifier) else { return nil }
        return shared.withLock { cache in
            if let existing = cache[identifier] { return existing }
            cache[identifier] = z
            return z
        }
    }

    /// A zone by IANA name (`Europe/London`), or nil when the system does not know it.
    /// Prefer ``named(_:)``, which shares instances.
    public convenience init?(identifier: String) {
        guard let tz = TimeZone(identifier: identifier) else { return nil }
        // Foundation maps unknown names to GMT in some versions; insist on a real match.
        guard
            tz.identifier == identifier || identifier == "UTC" || identifier == "GMT"
                || tz.identifier.lowercased() == identifier.lowercased()
        else {
            return nil
        }
        self.init(tz)
    }

    /// Seconds to add to UTC to get local time at `instant` (Unix seconds).
    @inline(__always)
    func offset(at instant: Int64) -> Int {
        if isFixed { return fixedOffset }
        return segment(at: instant).offset
    }

    /// The first instant after `instant` at which the offset changes, if any.
    func nextTransition(after instant: Int64) -> Int64? {
        if isFixed { return nil }
        let s = segment(at: instant)
        return s.until == Int64.max ? nil : s.until
    }

    private func segment(at instant: Int64) -> Segment {
        if let hit = cache.withLock({ segs in segs.first { $0.from <= instant && instant < $0.until } }) {
            return hit
        }
        let date = Date(timeIntervalSince1970: TimeInterval(instant))
        let offset = timeZone.secondsFromGMT(for: date)
        var until = Int64.max
        if let next = timeZone.nextDaylightSavingTimeTransition(after: date) {
            until = Int64(next.timeIntervalSince1970.rounded(.down))
            if until <= instant { until = instant + 1 }
        }
        let seg = Segment(from: instant, until: until, offset: offset)
        cache.withLock { segs in
            // Widen an adjacent segment with the same end instead of adding a near-duplicate.
            if let i = segs.firstIndex(where: { $0.until == until && $0.offset == offset }) {
                segs[i].from = min(segs[i].from, instant)
            } else {
                if segs.count >= 8 { segs.removeFirst() }
                segs.append(seg)
            }
        }
        return seg
    }
}
