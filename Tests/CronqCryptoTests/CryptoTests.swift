import CronqCrypto
import Testing

@Suite("libcrypto layer")
struct CryptoTests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// RFC 4231's test cases 1, 2, 4 and 6 (a key longer than the block size is hashed first).
    @Test(
        "HMAC-SHA256 matches RFC 4231",
        arguments: [
            (
                [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
            ),
            (
                Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            ),
            (
                (1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
            ),
            (
                [UInt8](repeating: 0xaa, count: 131),
                Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
        ])
    func hmac(_ key: [UInt8], _ message: [UInt8], _ expected: String) {
        #expect(Self.hex(HMACSHA256.code(key: key, message: message)) == expected)
    }

    @Test("empty key and message still give a 32-byte code")
    func hmacEmpty() {
        #expect(
            Self.hex(HMACSHA256.code(key: [], message: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("equality in constant time: equal, one bit apart, different lengths, empty")
    func equal() {
        let a = HMACSHA256.code(key: Array("k".utf8), message: Array("m".utf8))
        var b = a
        #expect(HMACSHA256.equal(a, b))
        b[31] ^= 1
        #expect(!HMACSHA256.equal(a, b))
        #expect(!HMACSHA256.equal(a, Array(a.prefix(31))))
        #expect(HMACSHA256.equal([], []))
    }

    @Test("SHA-256 of the empty string and of 'abc' (FIPS 180-2)")
    func sha256() {
        #expect(
            Self.hex(SHA256Digest.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Self.hex(SHA256Digest.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("random bytes: the length asked for, and two draws differ")
    func random() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32 && a != b)
        #expect(SecureRandom.bytes(0).isEmpty)
    }
}
