#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The Standard Webhooks secret format: `whsec_` + base64 of 24 to 64 random bytes.
///
/// Checked when the config loads: an earlier cronq took anything else as raw bytes, so a secret pasted
/// without its prefix (or cut short) made every signed call fail with 401 at the backend, far from
/// the mistake. Now it is a config error that names the key.
public enum WebhookSecretFormat {
    public static let prefix = "whsec_"

    /// Why `secret` is not a valid signing secret, or nil. Never echoes the secret.
    public static func problem(_ secret: String) -> String? {
        guard secret.hasPrefix(prefix) else {
            return
                "must be \(prefix) followed by base64 (the Standard Webhooks format; generate one with: echo whsec_$(openssl rand -base64 32))"
        }
        guard let key = keyBytes(secret) else { return "is not valid base64 after \(prefix)" }
        guard (24...64).contains(key.count) else { return "must decode to 24-64 bytes (it decodes to \(key.count))" }
        return nil
    }

    /// The HMAC key a valid secret stands for.
    public static func keyBytes(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix(prefix), let d = Data(base64Encoded: String(secret.dropFirst(prefix.count))) else {
            return nil
        }
        return Array(d)
    }
}
