import CronqCore
import CronqCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Standard Webhooks request signing (https://www.standardwebhooks.com): headers `webhook-id`,
/// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
///
/// Secrets are in the spec's `whsec_<base64>` form (checked when the config loads, see
/// ``WebhookSecretFormat``). With several secrets (a rotation), the header carries one signature
/// per secret, space-separated, as the specification allows; a backend accepts the request when any
/// of them verifies with a secret it knows.
public enum WebhookSignature {
    public static func headers(secrets: [String], id: String, timestamp: Int64, body: [UInt8]) -> [(
        name: String, value: String
    )] {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let signatures = secrets.compactMap { secret -> String? in
            guard let key = WebhookSecretFormat.keyBytes(secret) else { return nil }
            let mac = HMACSHA256.code(key: key, message: signed)
            return "v1," + Data(mac).base64EncodedString()
        }
        return [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", signatures.joined(separator: " ")),
        ]
    }
}
