import Crypto
import Foundation

/// Standard Webhooks request signing (https://www.standardwebhooks.com): headers `webhook-id`,
/// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
///
/// The secret may be given raw or in the spec's `whsec_<base64>` form (then the decoded bytes are the key).
public enum WebhookSignature {
    public static func headers(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> [(name: String, value: String)] {
        let key = SymmetricKey(data: keyBytes(secret))
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", "v1," + Data(mac).base64EncodedString()),
        ]
    }

    static func keyBytes(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let d = Data(base64Encoded: String(secret.dropFirst(6))) { return Array(d) }
        return Array(secret.utf8)
    }
}
