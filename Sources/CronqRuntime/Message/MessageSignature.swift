public import CronqAMQP
public import CronqCore
import CronqCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Job-message authentication (DESIGN.md "Message authentication and hostile input"): with
/// `[amqp] message_key`, every job message cronq produces (ticker, `cronq trigger`, `cronq dead replay`)
/// carries `cronq-signature: v1,<base64 HMAC-SHA256 of "message_id.body">`, and a worker with the key
/// calls for nothing else.
///
/// Why: publish rights to `cronq.jobs` or `cronq.retry` (which the worker's own user must have) would
/// otherwise be call rights, with the backend's token, to any method, path and body. The id and the body
/// never change across retries, so the signature survives every re-publish as it is.
public enum MessageSignature {
    public static let version = "v1"

    /// The header value for a message.
    public static func sign(messageID: String, body: [UInt8], key: Secret) -> String {
        version + "," + Data(mac(messageID: messageID, body: body, key: key)).base64EncodedString()
    }

    /// Whether `header` holds a valid signature of this message (one of several, space-separated,
    /// may match: room for a future key rotation). Compared in constant time.
    public static func verify(_ header: String?, messageID: String?, body: [UInt8], key: Secret) -> Bool {
        guard let header, let messageID, header.utf8.count <= 1024 else { return false }
        let expected = mac(messageID: messageID, body: body, key: key)
        for candidate in header.split(separator: " ") where candidate.hasPrefix(version + ",") {
            guard let given = Data(base64Encoded: String(candidate.dropFirst(version.count + 1))) else { continue }
            if HMACSHA256.equal(Array(given), expected) { return true }
        }
        return false
    }

    /// Adds the signature to a job message's headers, when a key is configured.
    public static func apply(to message: inout AMQPMessage, key: Secret?) {
        guard let key, let id = message.properties.messageID else { return }
        var h = message.properties.headers ?? AMQPTable()
        h[JobMessageProperties.signatureHeader] = .string(sign(messageID: id, body: message.body, key: key))
        message.properties.headers = h
    }

    /// Whether a delivered message is signed with `key`.
    public static func isSigned(_ message: AMQPMessage, key: Secret) -> Bool {
        verify(
            message.properties.headers?[JobMessageProperties.signatureHeader]?.stringValue,
            messageID: message.properties.messageID,
            body: message.body, key: key)
    }

    static func mac(messageID: String, body: [UInt8], key: Secret) -> [UInt8] {
        var signed = Array(messageID.utf8)
        signed.append(UInt8(ascii: "."))
        signed.append(contentsOf: body)
        return HMACSHA256.code(key: Array(key.reveal().utf8), message: signed)
    }
}
