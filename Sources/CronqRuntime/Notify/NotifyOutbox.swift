import CronqCore

/// One sink's queue of notices: its rate limit, the digest of what the limit held back, and retries
/// with backoff. Pure (every call takes `now`, a monotonic offset); the ``Notifier`` performs the sends.
struct NotifyOutbox {
    /// A body to POST, and how many times it was tried.
    struct Message: Equatable {
        var id: UInt64
        var body: [UInt8]
        /// For the signature header and logs: the notice kind, or `digest`.
        var kind: String
        var attempt = 1
    }

    static let backoff: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]

    let sink: NotifySink
    private var sentAt: [Duration] = []
    /// Notices the rate limit held back, sent as one digest once the window has room.
    private var heldBack: [Notice] = []
    private var retries: [(due: Duration, message: Message)] = []
    private var nextID: UInt64 = 1

    init(sink: NotifySink) { self.sink = sink }

    var isIdle: Bool { heldBack.isEmpty && retries.isEmpty }

    private mutating func hasRoom(_ now: Duration) -> Bool {
        sentAt.removeAll { now - $0 >= sink.ratePeriod }
        return sentAt.count < sink.rateCount
    }

    private mutating func message(_ body: [UInt8], kind: String, now: Duration) -> Message {
        sentAt.append(now)
        defer { nextID += 1 }
        return Message(id: nextID, body: body, kind: kind)
    }

    /// A notice from the leader: sent now if the sink subscribes and the rate allows, else held for the digest.
    mutating func add(_ n: Notice, now: Duration) -> [Message] {
        guard sink.events.contains(n.event) else { return [] }
        if n.event == .failing, n.consecutiveDead != sink.failingAfter { return [] }
        guard heldBack.isEmpty, hasRoom(now) else {
            heldBack.append(n)
            return []
        }
        return [message(body(n), kind: n.event.rawValue, now: now)]
    }

    /// Retries that are due, and the digest once the window has room.
    mutating func tick(now: Duration) -> [Message] {
        var out: [Message] = []
        while let i = retries.firstIndex(where: { $0.due <= now }) { out.append(retries.remove(at: i).message) }
        if !heldBack.isEmpty, hasRoom(now) {
            out.append(message(digest(), kind: "digest", now: now))
            heldBack.removeAll()
        }
        return out
    }

    /// A send failed: tried again after the backoff, or given up (returned) after the last.
    mutating func failed(_ m: Message, now: Duration) -> Message? {
        guard m.attempt <= Self.backoff.count else { return m }
        var again = m
        again.attempt += 1
        retries.append((now + Self.backoff[m.attempt - 1], again))
        return nil
    }

    /// When the next retry or digest could be due (for the notifier's wait).
    var nextDue: Duration? {
        let retry = retries.map(\.due).min()
        let digest = heldBack.isEmpty ? nil : sentAt.min().map { $0 + sink.ratePeriod }
        return [retry, digest].compactMap { $0 }.min()
    }

    func body(_ n: Notice) -> [UInt8] { sink.kind == .slack ? n.slackBody() : n.webhookBody() }

    /// One message for what the rate limit held back: how many of each kind, and for which jobs.
    func digest() -> [UInt8] {
        let byKind = Dictionary(grouping: heldBack, by: \.event)
        let parts = byKind.keys.sorted().map { kind -> String in
            let jobs = Array(Set(byKind[kind]!.map(\.job))).sorted()
            let shown = jobs.prefix(10).joined(separator: ", ") + (jobs.count > 10 ? ", …" : "")
            return "\(kind.rawValue) ×\(byKind[kind]!.count) (\(shown))"
        }
        let text =
            "cronq: \(heldBack.count) more notifications held back by the rate limit: " + parts.joined(separator: "; ")
        if sink.kind == .slack { return Notice.slack(text: text, detail: "cronq status --jobs · cronq dead list") }
        var w = JSONWriter()
        w.raw("{")
        w.key("v"); w.int(1); w.raw(",")
        w.key("event"); w.string("digest"); w.raw(",")
        w.key("count"); w.int(heldBack.count); w.raw(",")
        w.key("summary"); w.string(text); w.raw(",")
        w.key("hint"); w.string("cronq status --jobs · cronq dead list")
        w.raw("}")
        return w.bytes
    }
}
