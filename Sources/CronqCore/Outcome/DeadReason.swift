/// Why a message was dead-lettered without (or after) calling: the `cronq-dead-reason` header and
/// the `reason` of a `dead` event. HTTP statuses read `http_<status>`; see ``OutcomeRules``.
public enum DeadReason: String, Sendable, CaseIterable {
    /// Not a job message of the contract (or a request that cannot be built from it).
    case malformed
    /// `[amqp] message_key` is set and the message is not signed with it.
    case unauthenticated
    /// `worker.accept = "configured"` and the message is not one of the configured jobs as configured.
    case unknownJob = "unknown_job"
    /// Attempts or `max_duration` used up.
    case exhausted
}
