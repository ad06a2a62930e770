#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Reads a whole UTF-8 file with POSIX calls, so that a failure names the system's reason
/// (`No such file or directory`, `Permission denied`) without Foundation's error bridging, which
/// `FoundationEssentials` alone does not have.
package enum TextFile {
    package struct ReadError: Error, CustomStringConvertible {
        /// What went wrong, ready to follow "cannot read the file: ".
        package let reason: String
        package var description: String { reason }
    }

    package static func contents(of path: String) throws(ReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: String(cString: strerror(errno)))
            }
            bytes.append(contentsOf: chunk[..<n])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReadError(reason: "it is not UTF-8 text")
        }
        return text
    }
}
