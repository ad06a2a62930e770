public import CronqCore
public import CronqHTTP

/// Builds the HTTP request for one attempt of a job (DESIGN.md "Worker outcome rules").
///
/// This is the only place a token is revealed: into the `Authorization` header of a request to the
/// backend's own origin. The path was checked by ``JobMessage/parse(_:)`` so it cannot change the host.
public enum BackendRequest {
    public static let userAgent = "cronq-worker/\(CronqVersion.string)"

    /// - Parameter now: Unix seconds, for the Standard Webhooks timestamp when the backend signs requests.
    public static func make(
        _ message: JobMessage, messageID: String, attempt: Int, backend: CronqConfig.Backend, now: Int64
    ) -> HTTPRequest {
        var headers: [(name: String, value: String)] = []
        // Room for cronq's own (up to seven, three more when signing): growing 1, 2, 4, 8 cost four copies a job.
        headers.reserveCapacity(message.request.headers.count + 10)
        for (k, v) in message.request.headers.sorted(by: { $0.key < $1.key }) { headers.append((k, v)) }
        if !backend.token.isEmpty { headers.append(("Authorization", "Bearer \(backend.token.reveal())")) }
        headers.append(("Idempotency-Key", messageID))
        headers.append(("X-Cronq-Job", message.job))
        headers.append(("X-Cronq-Scheduled-At", message.scheduledAt))
        headers.append(("X-Cronq-Attempt", String(attempt)))
        headers.append(("User-Agent", userAgent))
        let body = message.request.body.map { Array($0.utf8) }
        if body != nil && !message.request.headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/json"))
        }
        if !backend.signingSecrets.isEmpty {
            headers += WebhookSignature.headers(
                secrets: backend.signingSecrets.map { $0.reveal() }, id: messageID, timestamp: now, body: body ?? [])
        }
        let timeout = min(Duration.milliseconds(message.request.timeoutMs), backend.timeout)
        return HTTPRequest(
            method: message.request.method, url: backend.baseURL + message.request.path, headers: headers, body: body,
            timeout: timeout, connectTimeout: min(backend.connectTimeout, timeout), caFile: backend.caFile,
            proxy: backend.proxy ?? "")
    }

    /// The outcome rules' view of what the HTTP layer returned.
    public static func callResult(_ result: Result<HTTPResponse, HTTPError>) -> CallResult {
        switch result {
        case .success(let r): return .response(status: r.status, retryAfter: r.retryAfter)
        case .failure(let e): return .failure(retryable: e.code != .invalidRequest, error: e.description)
        }
    }
}
