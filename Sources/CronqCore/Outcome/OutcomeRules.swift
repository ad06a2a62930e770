/// What a call to the backend produced, as the outcome rules see it (no HTTP library types here).
public enum CallResult: Sendable, Equatable {
    /// An HTTP response.
    case response(status: Int, retryAfter: String?)
    /// No response: connect error, timeout, reset (retryable), or a request that could not even be
    /// built from the message (not retryable: dead letter `malformed`).
    case failure(retryable: Bool, error: String)
}

/// The decision for one attempt (DESIGN.md "Worker outcome rules").
public enum Decision: Sendable, Equatable {
    /// 2xx: ack.
    case succeed
    /// Publish to the retry exchange with `cronq-delay: tier` and `cronq-attempt: nextAttempt`; ack after the confirm.
    case retry(tier: String, delay: Duration, nextAttempt: Int)
    /// Publish to the dead-letter exchange; ack after the confirm.
    case dead(reason: String, status: Int?, error: String)
}

/// The pure outcome table: `classify(result, attempt, policy) -> .succeed | .retry | .dead`.
public enum OutcomeRules {
    /// Statuses worth retrying: the server may answer differently later.
    public static let retryableStatuses: Set<Int> = [408, 425, 429, 500, 502, 503, 504]

    /// - Parameters:
    ///   - attempt: the attempt that just ran (1 for the first).
    ///   - firstAttemptAt: Unix seconds of attempt 1.
    ///   - now: Unix seconds now (injected: no clock in here).
    public static func classify(
        _ result: CallResult, attempt: Int, firstAttemptAt: Int64, now: Int64, policy: JobMessage.Retry
    )
        -> Decision
    {
        let retryAfter: String?
        let status: Int?
        let error: String
        switch result {
        case .response(let s, let ra):
            if (200...299).contains(s) { return .succeed }
            guard retryableStatuses.contains(s) else {
                return .dead(reason: "http_\(s)", status: s, error: "HTTP \(s)")
            }
            retryAfter = ra
            status = s
            error = "HTTP \(s)"
        case .failure(let retryable, let e):
            guard retryable else { return .dead(reason: "malformed", status: nil, error: e) }
            retryAfter = nil
            status = nil
            error = e
        }
        let tiers = policy.backoff.compactMap { name in DurationText.parse(name).map { (name, $0) } }
        guard attempt < policy.maxAttempts, !tiers.isEmpty else {
            return .dead(reason: "exhausted", status: status, error: "\(error) after \(attempt) attempt(s)")
        }
        var chosen = tiers[min(max(attempt - 1, 0), tiers.count - 1)]
        if let ra = retryAfter, let wanted = RetryAfter.seconds(ra, now: now), Duration.seconds(wanted) > chosen.1 {
            // The smallest tier that covers the server's wish; the largest when none does.
            chosen = tiers.first { $0.1 >= .seconds(wanted) } ?? tiers[tiers.count - 1]
        }
        let startsAt = now + chosen.1.totalSeconds
        if startsAt - firstAttemptAt > Int64(policy.maxDurationS) {
            return .dead(
                reason: "exhausted", status: status, error: "\(error); max_duration_s \(policy.maxDurationS) passed")
        }
        return .retry(tier: chosen.0, delay: chosen.1, nextAttempt: attempt + 1)
    }
}

/// `Retry-After` values: delay-seconds or an HTTP-date (RFC 9110).
public enum RetryAfter {
    /// The longest wait a `Retry-After` can ask for; larger values (a year of digits, a date in the
    /// year 999999999999) saturate here. No tier is anywhere near it, so it means "the largest tier".
    public static let maximumSeconds: Int64 = 100 * 365 * 86_400

    /// Seconds to wait from `now`, or nil when the value is neither form. A date in the past is 0.
    /// The value comes from whoever answers the call: every number saturates, nothing can trap.
    public static func seconds(_ value: String, now: Int64) -> Int64? {
        let v = String(value.trimmingBlanks)
        guard v.utf8.count <= 64 else { return nil }
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return min(Int64(v) ?? maximumSeconds, maximumSeconds)
        }
        guard let t = httpDate(v) else { return nil }
        let (d, overflow) = t.subtractingReportingOverflow(now)
        return overflow ? (now < 0 ? maximumSeconds : 0) : min(max(0, d), maximumSeconds)
    }

    /// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ s: String) -> Int64? {
        let parts = s.split(separator: " ")
        // Four-digit years only (IMF-fixdate): the civil-date arithmetic is never fed an outside giant.
        guard parts.count == 6, parts[5] == "GMT", parts[3].utf8.count == 4, parts[1].utf8.count <= 2,
            let day = Int(parts[1]),
            let year = Int(parts[3]), year >= 1000
        else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let mi = months.firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, hms.allSatisfy({ $0 >= 0 }), hms[0] < 24, hms[1] < 60, hms[2] < 61, day >= 1,
            day <= Civil.daysInMonth(year: year, month: mi + 1)
        else { return nil }
        return LocalTime(year: year, month: mi + 1, day: day, hour: hms[0], minute: hms[1], second: min(hms[2], 59))
            .seconds
    }
}
