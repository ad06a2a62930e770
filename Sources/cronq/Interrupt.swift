import Foundation

/// Ctrl-C (SIGINT) and SIGTERM as a flag that long operations poll between steps, so they stop at a
/// safe point instead of in the middle of a publish.
final class Interrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let again = self.raised
                self.raised = true
                self.lock.unlock()
                if again { exit(130) }
            }
            s.resume()
            sources.append(s)
        }
    }

    var isRaised: Bool {
        lock.lock()
        defer { lock.unlock() }
        return raised
    }
}
