extension CronExpression {
    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses the cron dialect of DESIGN.md: 5 fields (`minute hour day-of-month month day-of-week`)
    /// or 6 with a leading `second`, or a @macro.
    ///
    /// - Throws: ``CronError`` naming the field, the token and why, e.g. `minute: 60 is out of range 0-59`.
    ///   An expression that can never fire (`0 0 30 2 *`) is rejected here too.
    public init(_ text: String) throws {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var fieldTexts = trimmed
        var source = trimmed.joined(separator: " ")
        if trimmed.count == 1, trimmed[0].hasPrefix("@") {
            guard let expanded = Self.macros[trimmed[0].lowercased()] else {
                throw CronError(
                    field: nil, token: trimmed[0],
                    reason:
                        "unknown macro \(trimmed[0]) (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)"
                )
            }
            fieldTexts = expanded.split(separator: " ").map(String.init)
            source = trimmed[0].lowercased()
        }
        guard fieldTexts.count == 5 || fieldTexts.count == 6 else {
            throw CronError(
                field: nil, token: text,
                reason:
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second, got \(fieldTexts.count)"
            )
        }
        let hasSeconds = fieldTexts.count == 6
        if !hasSeconds { fieldTexts.insert("0", at: 0) }

        var flags: UInt8 = hasSeconds ? Self.hasSecondsFlag : 0
        let sec = try Self.parseBits(fieldTexts[0], .second)
        let min = try Self.parseBits(fieldTexts[1], .minute)
        let hour = try Self.parseBits(fieldTexts[2], .hour)
        let month = try Self.parseBits(fieldTexts[4], .month)
        let dom = try Self.parseDayOfMonth(fieldTexts[3])
        let dow = try Self.parseDayOfWeek(fieldTexts[5])
        if (hasSeconds && fieldTexts[0].hasPrefix("*")) || fieldTexts[1].hasPrefix("*") || fieldTexts[2].hasPrefix("*")
        {
            flags |= Self.intervalFlag
        }
        if fieldTexts[3].hasPrefix("*") || fieldTexts[3] == "?" { flags |= Self.domStarFlag }
        if fieldTexts[5].hasPrefix("*") || fieldTexts[5] == "?" { flags |= Self.dowStarFlag }
        flags |= dom.flags

        self.seconds = sec
        self.minutes = min
        self.hours = UInt32(truncatingIfNeeded: hour)
        self.months = UInt16(truncatingIfNeeded: month)
        self.daysOfMonth = dom.bits
        self.nearestWeekdays = dom.nearest
        self.daysOfWeek = dow.bits
        self.lastWeekdays = dow.last
        self.nthWeekdays = dow.nth
        self.flags = flags
        self.source = source
        try checkCanFire(monthText: fieldTexts[4], domText: fieldTexts[3])
    }

    /// Rejects day-of-month/month combinations that never exist when day-of-week does not widen them.
    private func checkCanFire(monthText: String, domText: String) throws {
        // With day-of-week starting with *, only day-of-month picks days (both must match).
        guard flags & Self.dowStarFlag != 0, daysOfWeek == 0x7F, flags & (Self.lastDayFlag | Self.lastWorkdayFlag) == 0
        else { return }
        let maxDays = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for m in 1...12 where months & (1 << UInt16(m)) != 0 {
            let allowed = (UInt64(1) << UInt64(maxDays[m] + 1)) - 2
            if UInt64(daysOfMonth) & allowed != 0 { return }
            if UInt64(nearestWeekdays) & allowed != 0 { return }
        }
        throw CronError(
            field: .dayOfMonth, token: domText,
            reason: "\(domText) never occurs in month(s) \(monthText): the schedule can never fire")
    }

    // MARK: - Fields

    private static func parseNumber(_ token: Substring, _ field: CronField, whole: String) throws -> Int {
        let upper = token.uppercased()
        if let v = field.names[upper] { return v }
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(token) else {
            let hint =
                field.names.isEmpty
                ? "a number"
                : "a number or a name (\(field.names.sorted { $0.value < $1.value }.map(\.key).joined(separator: " ")))"
            throw CronError(field: field, token: whole, reason: "'\(token)' is not \(hint)")
        }
        guard field.range.contains(v) else {
            throw CronError(
                field: field, token: whole,
                reason: "\(v) is out of range \(field.range.lowerBound)-\(field.range.upperBound)")
        }
        return v
    }

    /// Parses `*`, `a`, `a-b`, `*/n`, `a-b/n`, `a/n` lists into a bit set (day-of-week 7 folds to 0).
    static func parseBits(_ text: String, _ field: CronField) throws -> UInt64 {
        guard !text.isEmpty else { throw CronError(field: field, token: text, reason: "empty field") }
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits |= try parseItem(item, field, whole: text)
        }
        if field == .dayOfWeek && bits & (1 << 7) != 0 { bits = (bits | 1) & ~(1 << 7) }
        return bits
    }

    private static func parseItem(_ item: Substring, _ field: CronField, whole: String) throws -> UInt64 {
        guard !item.isEmpty else {
            throw CronError(field: field, token: whole, reason: "empty item in list '\(whole)'")
        }
        var base = item
        var step = 1
        if let slash = item.firstIndex(of: "/") {
            base = item[..<slash]
            let stepText = item[item.index(after: slash)...]
            guard let s = Int(stepText), stepText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw CronError(field: field, token: whole, reason: "step '\(stepText)' in '\(item)' is not a number")
            }
            let size = field.range.count - (field == .dayOfWeek ? 1 : 0)
            guard s >= 1 else {
                throw CronError(field: field, token: whole, reason: "step 0 in '\(item)': a step must be at least 1")
            }
            guard s <= size else {
                throw CronError(
                    field: field, token: whole,
                    reason: "step \(s) in '\(item)' is larger than the field's \(size) values")
            }
            step = s
        }
        var low: Int
        var high: Int
        if base == "*" || (base == "?" && (field == .dayOfMonth || field == .dayOfWeek)) {
            low = field.range.lowerBound
            high = field == .dayOfWeek ? 6 : field.range.upperBound
            if base == "?" && step != 1 {
                throw CronError(field: field, token: whole, reason: "'?' takes no step")
            }
        } else if let dash = base.firstIndex(of: "-") {
            low = try parseNumber(base[..<dash], field, whole: whole)
            high = try parseNumber(base[base.index(after: dash)...], field, whole: whole)
            guard low <= high else {
                throw CronError(
                    field: field, token: whole, reason: "'\(base)' is a descending range; write the smaller value first"
                )
            }
        } else {
            low = try parseNumber(base, field, whole: whole)
            // `a/n` runs to the end of the field (day-of-week: to 7, Sunday).
            high = item.contains("/") ? field.range.upperBound : low
        }
        var bits: UInt64 = 0
        var v = low
        while v <= high {
            bits |= 1 << UInt64(v)
            v += step
        }
        return bits
    }

    private static func parseDayOfMonth(_ text: String) throws -> (bits: UInt32, nearest: UInt32, flags: UInt8) {
        var plain: [Substring] = []
        var nearest: UInt32 = 0
        var flags: UInt8 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let upper = item.uppercased()
            if upper == "L" {
                flags |= lastDayFlag
            } else if upper == "LW" {
                flags |= lastWorkdayFlag
            } else if upper.hasSuffix("W") && upper.count > 1 {
                let n = try parseNumber(item.dropLast(), .dayOfMonth, whole: text)
                nearest |= 1 << UInt32(n)
            } else if upper.contains("L") || upper.contains("W") {
                throw CronError(
                    field: .dayOfMonth, token: text, reason: "'\(item)' is not valid: use L, LW or nW (1-31)")
            } else {
                plain.append(item)
            }
        }
        var bits: UInt64 = 0
        if !plain.isEmpty { bits = try parseBits(plain.joined(separator: ","), .dayOfMonth) }
        return (UInt32(truncatingIfNeeded: bits), nearest, flags)
    }

    private static func parseDayOfWeek(_ text: String) throws -> (bits: UInt8, last: UInt8, nth: UInt64) {
        var plain: [Substring] = []
        var last: UInt8 = 0
        var nth: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if let hash = item.firstIndex(of: "#") {
                var d = try parseNumber(item[..<hash], .dayOfWeek, whole: text)
                if d == 7 { d = 0 }
                let kText = item[item.index(after: hash)...]
                guard let k = Int(kText), (1...5).contains(k) else {
                    throw CronError(
                        field: .dayOfWeek, token: text, reason: "'\(item)': the week number after # must be 1-5")
                }
                nth |= 1 << UInt64((k - 1) * 7 + d)
            } else if item.count > 1, item.uppercased().hasSuffix("L") {
                var d = try parseNumber(item.dropLast(), .dayOfWeek, whole: text)
                if d == 7 { d = 0 }
                last |= 1 << UInt8(d)
            } else {
                plain.append(item)
            }
        }
        var bits: UInt64 = 0
        if !plain.isEmpty { bits = try parseBits(plain.joined(separator: ","), .dayOfWeek) }
        return (UInt8(truncatingIfNeeded: bits), last, nth)
    }
}
