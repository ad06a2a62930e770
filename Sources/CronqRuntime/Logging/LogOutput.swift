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

/// Where log lines go (stderr): whole lines, one `write` each, or, while a loop turn holds the output, all
/// of the turn's lines in one `write` when it ends.
///
/// A worker at `--log-level info` logs a line per job; one system call per line was a tenth of its CPU at
/// 15,000 jobs/s. The worker holds the output for one turn of its loop (microseconds to a few milliseconds:
/// the turn never waits) and flushes it before it polls, so lines are late by at most one turn, never out of
/// order, never interleaved. A crash inside a turn loses that turn's lines: the outcome records (the
/// broker's events and history) are what is durable, not the log.
public final class LogOutput: Sendable {
    public static let standardError = LogOutput(fileDescriptor: 2)

    private struct State {
        var pending: [UInt8] = []
        var held = false
    }
    private let fd: Int32
    private let state = Mutex(State())

    public init(fileDescriptor: Int32) { fd = fileDescriptor }

    /// Writes `line` and a newline, now or at the end of the held turn.
    func write(_ line: [UInt8]) {
        state.withLock { s in
            s.pending.append(contentsOf: line)
            s.pending.append(UInt8(ascii: "\n"))
            // A turn that logs a lot still writes in bounded pieces.
            if !s.held || s.pending.count >= 1 << 16 { drain(&s.pending) }
        }
    }

    /// Gathers lines from now until ``flush()``.
    public func hold() { state.withLock { $0.held = true } }

    /// Writes what was gathered and stops gathering.
    public func flush() {
        state.withLock { s in
            s.held = false
            drain(&s.pending)
        }
    }

    private func drain(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { StandardError.writeAll($0, to: fd) }
        bytes.removeAll(keepingCapacity: bytes.capacity <= 1 << 16)
    }
}
