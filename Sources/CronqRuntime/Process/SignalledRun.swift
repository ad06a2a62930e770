import Foundation

/// A long-running loop that owns a thread: ``run()`` blocks until the loop is done, and
/// ``requestStop()`` (any thread) asks it to finish gracefully.
public protocol StoppableLoop: AnyObject, Sendable {
    func run()
    func requestStop()
}

/// Runs a loop on a dedicated thread (never the cooperative pool: it blocks on sockets) and turns
/// SIGTERM and SIGINT into ``StoppableLoop/requestStop()``. A second signal while stopping exits at once.
public enum SignalledRun {
    public static func run(_ loop: some StoppableLoop, onReload: (@Sendable () -> Void)? = nil) {
        let stops = SignalCount()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                if stops.add(1) > 1 {
                    FileHandle.standardError.write(Data("second signal: exiting now\n".utf8))
                    exit(1)
                }
                loop.requestStop()
            }
            s.resume()
            sources.append(s)
        }
        if let onReload {
            signal(SIGHUP, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            s.setEventHandler(handler: onReload)
            s.resume()
            sources.append(s)
        }
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            loop.run()
            done.signal()
        }
        thread.stackSize = 4 << 20
        thread.start()
        done.wait()
        for s in sources { s.cancel() }
    }
}

/// Counts signals received, across the dispatch queue's threads.
final class SignalCount: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// Adds and returns the new value.
    func add(_ d: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += d
        return value
    }
}

extension WorkerLoop: StoppableLoop {}
