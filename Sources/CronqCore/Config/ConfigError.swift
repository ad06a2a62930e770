/// Everything wrong with a configuration file, each issue naming the file, the job and the key.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public struct Issue: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        /// The job's name (or `jobs[3]` when it has none); nil outside `[[jobs]]`.
        public var job: String?
        /// The key path, e.g. `backends.default.timeout` or `retry.backoff`.
        public var key: String
        public var message: String

        /// `amqp.message_key` names a variable or file that is missing: a ticker must not start (or
        /// reload) without it, since workers that have the key refuse unsigned messages.
        public static func missingMessageKey(_ file: String) -> Issue {
            Issue(
                file: file, job: nil, key: "amqp.message_key",
                message:
                    "is set but its variable or file is missing: job messages must be signed (workers with the key refuse unsigned ones)"
            )
        }

        public init(file: String, job: String?, key: String, message: String) {
            self.file = file
            self.job = job
            self.key = key
            self.message = message
        }

        public var description: String {
            if let job { return "\(file): job '\(job)': \(key): \(message)" }
            return "\(file): \(key): \(message)"
        }
    }

    public var issues: [Issue]

    public init(issues: [Issue]) { self.issues = issues }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
