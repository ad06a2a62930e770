import Dispatch

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
        let stops = StopSignals(secondSignalExitCode: 1) { loop.requestStop() }
        var reload: (any DispatchSourceSignal)? = nil
        if let onReload {
            signal(SIGHUP, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            s.setEventHandler(handler: onReload)
            s.resume()
            reload = s
        }
        let done = DispatchSemaphore(value: 0)
        LoopThread.start(name: "cronq-loop") {
            loop.run()
            done.signal()
        }
        done.wait()
        stops.cancel()
        reload?.cancel()
    }
}

extension WorkerLoop: StoppableLoop {}
