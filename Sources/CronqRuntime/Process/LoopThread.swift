#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A dedicated OS thread for code that blocks on sockets (never the cooperative pool), made with
/// `pthread_create` rather than Foundation's `Thread`: the worker links `FoundationEssentials` only,
/// which has no `Thread` (docs/decisions.md, "The worker without Foundation").
enum LoopThread {
    /// Starts `body` on a new detached thread; `name` names it in the error if it cannot start.
    static func start(name: String, stackSize: Int = 4 << 20, _ body: @escaping @Sendable () -> Void) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        // Only when the system is out of threads or memory: nothing sensible can run without the loop.
        precondition(rc == 0, "cannot start the \(name) thread: \(String(cString: strerror(rc)))")
    }

    /// Blocks the calling thread for `seconds` (the CLI's paced loops, the ticker's reconnect wait).
    static func sleep(seconds: Double) {
        var left = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rest = timespec()
        while nanosleep(&left, &rest) != 0 && errno == EINTR { left = rest }
    }
}
