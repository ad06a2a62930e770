internal import CLibCrypto

/// Bytes from OpenSSL's CSPRNG.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        // RAND_bytes fails only when the system's entropy source does: no secure session can be made.
        precondition(ok == 1, "libcrypto RAND_bytes failed")
        return out
    }
}
