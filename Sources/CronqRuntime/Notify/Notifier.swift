import CronqCore
import CronqHTTP
import Dispatch
import Logging
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Delivers the leader's notices to the `[[notify]]` sinks on a thread of its own, with its own curl
/// handle, so that a slow or dead Slack never holds up a fire. Per sink: the rate limit and digest and
/// the retries of ``NotifyOutbox``; a notice that still fails after the last retry is logged (with the
/// sink's name, never its URL) and dropped.
///
/// **Ownership.** ``start()`` once; ``submit(_:)`` from the ticker's thread; ``stop()`` gives what is in
/// flight up to two seconds, then returns. Notices are in memory: the leader that decided them is the
/// one that sends them, and one that dies first loses what it had not sent (docs/decisions.md).
final class Notifier: @unchecked Sendable {
    // @unchecked: `inbox`, `stopping` and `wakerBox` are the thread-safe doors; the rest is the thread's.
    private let sinks: [NotifySink]
    private let logger: Logger
    private let inbox = Mutex<[Notice]>([])
    private let stopping = Atomic<Bool>(false)
    private let wakerBox = Mutex<HTTPClient.Waker?>(nil)
    private let done = DispatchSemaphore(value: 0)
    /// Whether ``start()`` ran and ``stop()`` has not: both are called from the ticker's thread.
    private var running = false

    init(sinks: [NotifySink], logger: Logger) {
        self.sinks = sinks
        self.logger = logger
    }

    func start() {
        running = true
        LoopThread.start(name: "cronq-notifier") { [self] in
            run()
            done.signal()
        }
    }

    func submit(_ n: Notice) {
        inbox.withLock { $0.append(n) }
        wakerBox.withLock { $0?.wake() }
    }

    func stop() {
        guard running else { return }
        stopping.store(true, ordering: .sequentiallyConsistent)
        wakerBox.withLock { $0?.wake() }
        done.wait()
        running = false
    }

    private func run() {
        let http = HTTPClient()
        wakerBox.withLock { $0 = http.waker }
        let started = ContinuousClock.now
        var outboxes = sinks.map(NotifyOutbox.init)
        var inFlight: [UInt64: (sink: Int, message: NotifyOutbox.Message)] = [:]
        var nextRequest: UInt64 = 1
        var stopDeadline: Duration?
        func send(_ sink: Int, _ messages: [NotifyOutbox.Message]) {
            for m in messages {
                inFlight[nextRequest] = (sink, m)
                http.start(request(sinks[sink], m), id: nextRequest)
                nextRequest += 1
            }
        }
        while true {
            let now = ContinuousClock.now - started
            if stopping.load(ordering: .relaxed) {
                if stopDeadline == nil { stopDeadline = now + .seconds(2) }
                if inFlight.isEmpty || now >= stopDeadline! { break }
            }
            for n in inbox.withLock({ box in
                defer { box.removeAll() }; return box
            }) {
                for i in outboxes.indices { send(i, outboxes[i].add(n, now: now)) }
            }
            for i in outboxes.indices { send(i, outboxes[i].tick(now: now)) }
            let due = outboxes.compactMap(\.nextDue).min().map { max(.zero, $0 - now) } ?? .seconds(1)
            let (results, _) = http.poll(timeout: min(due, .seconds(1)))
            for (id, result) in results {
                guard let (sink, m) = inFlight.removeValue(forKey: id) else { continue }
                let name = sinks[sink].name
                if case .success(let r) = result, (200..<300).contains(r.status) {
                    logger.info(
                        "notified", metadata: ["sink": "\(name)", "kind": "\(m.kind)", "attempt": "\(m.attempt)"])
                    continue
                }
                let error: String
                switch result {
                case .success(let r): error = "HTTP \(r.status)"
                case .failure(let e): error = e.description
                }
                if let dropped = outboxes[sink].failed(m, now: ContinuousClock.now - started) {
                    logger.error(
                        "notification not delivered; giving up",
                        metadata: [
                            "sink": "\(name)", "kind": "\(dropped.kind)", "attempts": "\(dropped.attempt)",
                            "error": "\(Printable.escaped(error))",
                        ])
                } else {
                    logger.warning(
                        "notification failed; retrying",
                        metadata: ["sink": "\(name)", "kind": "\(m.kind)", "error": "\(Printable.escaped(error))"])
                }
            }
        }
        wakerBox.withLock { $0 = nil }
    }

    /// The POST for one message; a webhook with a signing secret is signed like a backend call.
    private func request(_ sink: NotifySink, _ m: NotifyOutbox.Message) -> HTTPRequest {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let secret = sink.signingSecret {
            headers += WebhookSignature.headers(
                secrets: [secret.reveal()], id: "cronq-notify-\(m.kind)-\(m.id)",
                timestamp: Int64(Date().timeIntervalSince1970), body: m.body)
        }
        return HTTPRequest(
            method: "POST", url: sink.url.reveal(), headers: headers, body: m.body, timeout: .seconds(10),
            connectTimeout: .seconds(5))
    }
}
