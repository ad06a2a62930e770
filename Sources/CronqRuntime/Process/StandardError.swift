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
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
            } else if !(n < 0 && errno == EINTR) {
                return  // stderr closed: nothing to tell the operator with
            }
        }
    }
}
