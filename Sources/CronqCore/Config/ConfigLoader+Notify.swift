extension Builder {
    /// `[[notify]]`: every issue named by the sink's position and key; the URL is never quoted (a Slack
    /// webhook URL is a credential).
    func notifySinks(_ value: TOML.Value?) -> [NotifySink] {
        guard let value else { return [] }
        guard let array = value.array else {
            issues.add(nil, "notify", "must be an array of tables ([[notify]])")
            return []
        }
        var sinks: [NotifySink] = []
        for (i, item) in array.enumerated() {
            guard let table = item.table else {
                issues.add(nil, "notify[\(i)]", "must be a table ([[notify]])")
                continue
            }
            if let sink = notifySink(i, TableReader(table: table, prefix: "notify[\(i)]", job: nil, b: self)) {
                sinks.append(sink)
            }
        }
        return sinks
    }

    private func notifySink(_ index: Int, _ t: TableReader) -> NotifySink? {
        var ok = true
        func fail(_ key: String, _ message: String) {
            issues.add(nil, t.key(key), message)
            ok = false
        }
        let kindText = t.string("kind")
        let kind = kindText.flatMap(NotifySink.Kind.init(rawValue:))
        if kind == nil { fail("kind", "must be slack or webhook") }
        // Checked like a backend's token: a pasted newline or space would break every send.
        var url: Secret? = nil
        if let u = t.string("url") { url = secret(u, key: t.key("url")) }
        if let file = t.string("url_file") {
            if t.has("url") { fail("url_file", "set url or url_file, not both") }
            url = readSecretFile(file, key: t.key("url_file")).flatMap { secret($0.reveal(), key: t.key("url_file")) }
        }
        if let u = url?.reveal(), !u.isEmpty, !(u.hasPrefix("https://") || u.hasPrefix("http://")) {
            fail(t.has("url") ? "url" : "url_file", "must be an http:// or https:// URL")
        }
        if url == nil && !t.has("url") && !t.has("url_file") { fail("url", "is required (or url_file)") }
        var events = Set(NotifySink.Event.allCases)
        if let list = t.stringArray("events") {
            events = []
            for e in list {
                if let v = NotifySink.Event(rawValue: e) {
                    events.insert(v)
                } else {
                    let known = NotifySink.Event.allCases.map(\.rawValue).joined(separator: ", ")
                    fail("events", "'\(Printable.escaped(e))' is not one of \(known)")
                }
            }
        }
        var rateCount = 10
        var ratePeriod: Duration = .seconds(60)
        if let r = t.string("rate") {
            if let parsed = BackendLimits.Rate.parse(r) {
                (rateCount, ratePeriod) = (parsed.count, parsed.period)
            } else {
                fail("rate", "'\(Printable.escaped(r))' must be N/s, N/m or N/h with N ≥ 1 (e.g. 10/m)")
            }
        }
        let failingAfter = t.int("failing_after") ?? 3
        if failingAfter < 1 { fail("failing_after", "must be 1 or more") }
        var signing: Secret? = nil
        if let s = t.string("signing_secret") {
            if kind == .slack {
                fail("signing_secret", "Slack does not check signatures; use it with kind = \"webhook\"")
            }
            if let why = WebhookSecretFormat.problem(s) { fail("signing_secret", why) }
            signing = Secret(s)
        }
        let name = t.string("name") ?? "notify[\(index)]"
        t.finish(allowed: ["name", "kind", "url", "url_file", "events", "rate", "failing_after", "signing_secret"])
        guard ok, let kind, let url else { return nil }
        return NotifySink(
            name: name, kind: kind, url: url, events: events, signingSecret: signing, rateCount: rateCount,
            ratePeriod: ratePeriod, failingAfter: failingAfter)
    }
}
