import Testing

@testable import CronqCore

@Suite("Outcome rules")
struct OutcomeRulesTests {
    static let policy = JobMessage.Retry(maxAttempts: 5, backoff: ["10s", "1m", "5m"], maxDurationS: 21600)
    static let now: Int64 = 1_800_000_000

    func classify(_ r: CallResult, attempt: Int = 1, first: Int64 = now, policy: JobMessage.Retry = policy) -> Decision
    {
        OutcomeRules.classify(r, attempt: attempt, firstAttemptAt: first, now: Self.now, policy: policy)
    }

    @Test("2xx succeeds", arguments: [200, 201, 202, 204, 299])
    func success(status: Int) {
        #expect(classify(.response(status: status, retryAfter: nil)) == .succeed)
    }

    @Test("retryable statuses go to the tier for the attempt", arguments: [408, 425, 429, 500, 502, 503, 504])
    func retryable(status: Int) {
        #expect(
            classify(.response(status: status, retryAfter: nil))
                == .retry(tier: "10s", delay: .seconds(10), nextAttempt: 2))
    }

    @Test(
        "any other status is dead at once with http_<status>",
        arguments: [301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 422, 501, 505])
    func permanent(status: Int) {
        #expect(
            classify(.response(status: status, retryAfter: nil), attempt: 1)
                == .dead(reason: "http_\(status)", status: status, error: "HTTP \(status)"))
    }

    @Test("tiers by attempt: 10s, 1m, 5m, then the last tier again")
    func tiers() {
        let r = CallResult.response(status: 503, retryAfter: nil)
        #expect(classify(r, attempt: 2) == .retry(tier: "1m", delay: .seconds(60), nextAttempt: 3))
        #expect(classify(r, attempt: 3) == .retry(tier: "5m", delay: .seconds(300), nextAttempt: 4))
        #expect(classify(r, attempt: 4) == .retry(tier: "5m", delay: .seconds(300), nextAttempt: 5))
    }

    @Test("max_attempts: attempt 5 of 5 is exhausted; attempt 4 still retries")
    func attemptBoundary() {
        let r = CallResult.response(status: 500, retryAfter: nil)
        #expect(
            classify(r, attempt: 4) != .dead(reason: "exhausted", status: 500, error: "HTTP 500 after 4 attempt(s)"))
        #expect(
            classify(r, attempt: 5) == .dead(reason: "exhausted", status: 500, error: "HTTP 500 after 5 attempt(s)"))
        let once = JobMessage.Retry(maxAttempts: 1, backoff: ["10s"], maxDurationS: 100)
        #expect(
            classify(r, attempt: 1, policy: once)
                == .dead(reason: "exhausted", status: 500, error: "HTTP 500 after 1 attempt(s)"))
    }

    @Test("max_duration_s: a retry that would start after it is exhausted")
    func maxDuration() {
        let p = JobMessage.Retry(maxAttempts: 10, backoff: ["10s", "1m"], maxDurationS: 120)
        let r = CallResult.response(status: 503, retryAfter: nil)
        #expect(
            classify(r, attempt: 2, first: Self.now - 60, policy: p)
                == .retry(tier: "1m", delay: .seconds(60), nextAttempt: 3))
        #expect(
            classify(r, attempt: 2, first: Self.now - 61, policy: p)
                == .dead(reason: "exhausted", status: 503, error: "HTTP 503; max_duration_s 120 passed"))
    }

    @Test("transport failures are retryable; a request that cannot be made is dead")
    func transport() {
        #expect(
            classify(.failure(retryable: true, error: "connection refused"))
                == .retry(tier: "10s", delay: .seconds(10), nextAttempt: 2))
        #expect(
            classify(.failure(retryable: true, error: "timed out"), attempt: 5)
                == .dead(reason: "exhausted", status: nil, error: "timed out after 5 attempt(s)"))
        #expect(
            classify(.failure(retryable: false, error: "bad header"))
                == .dead(reason: "malformed", status: nil, error: "bad header"))
    }

    @Test("Retry-After longer than the tier picks the smallest tier that covers it")
    func retryAfterSeconds() {
        #expect(
            classify(.response(status: 429, retryAfter: "30"))
                == .retry(tier: "1m", delay: .seconds(60), nextAttempt: 2))
        #expect(
            classify(.response(status: 429, retryAfter: "5"))
                == .retry(tier: "10s", delay: .seconds(10), nextAttempt: 2))
        #expect(
            classify(.response(status: 503, retryAfter: "86400"))
                == .retry(tier: "5m", delay: .seconds(300), nextAttempt: 2))
        #expect(
            classify(.response(status: 503, retryAfter: "soon"))
                == .retry(tier: "10s", delay: .seconds(10), nextAttempt: 2))
    }

    @Test("Retry-After as an HTTP-date")
    func retryAfterDate() {
        // now = 2027-01-15T08:00:00Z; 4 minutes later → the 5m tier.
        #expect(RetryAfter.seconds("Fri, 15 Jan 2027 08:04:00 GMT", now: Self.now) == 240)
        #expect(
            classify(.response(status: 503, retryAfter: "Fri, 15 Jan 2027 08:04:00 GMT"))
                == .retry(tier: "5m", delay: .seconds(300), nextAttempt: 2))
        #expect(RetryAfter.seconds("Fri, 15 Jan 2027 07:00:00 GMT", now: Self.now) == 0)
        #expect(RetryAfter.seconds("Friday, 15-Jan-27 08:04:00 GMT", now: Self.now) == nil)
    }
}
