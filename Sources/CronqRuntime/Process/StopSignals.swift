import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// SIGTERM and SIGINT as a flag (and an optional callback): the one place cronq turns stop signals into
/// something a loop polls. The first signal asks for a graceful stop; a second one while stopping exits
/// at once with `secondSignalExitCode` (an operator pressing Ctrl-C twice means it).
///
/// Used by the services (``SignalledRun``) and by the CLI's long operations (`dead replay`, `tail`), which
/// poll ``isRaised`` between steps so they stop at a safe point, never in the middle of a publish.
public final class StopSignals: @unchecked Sendable {
    private let count = Mutex(0)
    private var sources: [any DispatchSourceSignal] = []

    /// - Parameters:
    ///   - secondSignalExitCode: the exit status when a second signal arrives.
    ///   - onStop: called (on a dispatch queue) at the first signal.
    public init(secondSignalExitCode: Int32, onStop: (@Sendable () -> Void)? = nil) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in
                guard let self else { return }
                let n = self.count.withLock { n in
                    n += 1
                    return n
                }
                if n > 1 {
                    StandardError.write("second signal: exiting now\n")
                    exit(secondSignalExitCode)
                }
                onStop?()
            }
            s.resume()
            sources.append(s)
        }
    }

    /// Whether a stop signal has arrived.
    public var isRaised: Bool {
        count.withLock { $0 > 0 }
    }

    /// Stops listening (the default handlers are not restored: the process is ending).
    public func cancel() {
        for s in sources { s.cancel() }
    }
}
