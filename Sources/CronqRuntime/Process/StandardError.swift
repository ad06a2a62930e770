#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Text for the operator on stderr before a logger exists or when the process is about to exit
/// (a config that does not load, a second stop signal). One `write(2)` per call, so lines of concurrent
/// writers do not interleave mid-line.
public enum StandardError {
    public static func write(_ text: String) {
        Array(text.utf8).withUnsafeBytes { writeAll($0, to: STDERR_FILENO) }
    }

    /// Writes all of `bytes` to `fd`, again after a signal interrupts it; gives up at any other failure
    /// (stderr closed, a full disk): a line for the operator is not worth blocking or failing for. The log
    /// output (``LogOutput``) writes its batches with this too.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if !(n < 0 && errno == EINTR) {
                return
            }
        }
    }
}
