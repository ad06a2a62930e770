internal import CLibCrypto

/// HMAC-SHA256 and SHA-256 from the system's OpenSSL (libcrypto), the one Swift layer over it.
///
/// Why OpenSSL and not swift-crypto: libcurl already loads libcrypto into every process for TLS, and
/// swift-crypto imports Foundation, which the worker does not load (about 6.5 MiB of resident pages
/// per worker; docs/decisions.md, "The worker without Foundation").
public enum HMACSHA256 {
    public static let byteCount = 32

    /// The authentication code of `message` under `key`.
    public static func code(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = key.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, o.baseAddress, &length)
                }
            }
        }
        // HMAC fails only when libcrypto cannot allocate a context: nothing can be signed or checked then.
        precondition(done != nil && length == UInt32(byteCount), "libcrypto HMAC-SHA256 failed")
        return Array(out.prefix(byteCount))
    }

    /// Whether `a` and `b` are equal, in time that depends on their length only.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) }
        }
            == 0
    }
}
