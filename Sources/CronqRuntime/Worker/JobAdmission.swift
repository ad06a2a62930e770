public import CronqAMQP
public import CronqCore

/// What a worker checks of a delivery before it may call anyone: the contract, the signature, the
/// configured jobs, and the config's limits. Pure: the same delivery and config always give the same
/// verdict, and nothing here sends anything.
///
/// The order matters: a message that is not signed is refused before its body is even parsed, so a
/// publisher without the key learns nothing from the worker but `unauthenticated`.
///
/// A class (immutable, so shared safely): it is consulted for every job, and a struct holding the whole
/// config was copied field by field each time a caller took it out of the worker's configuration.
public final class JobAdmission: Sendable {
    public let config: CronqConfig
    /// Where each job is in `config.jobs`: indices, not copies (a 100,000-job config would double in memory).
    private let jobIndex: [String: Int]
    private let tiers: Set<String>

    public init(config: CronqConfig) {
        self.config = config
        var jobIndex: [String: Int] = [:]
        jobIndex.reserveCapacity(config.jobs.count)
        for (i, j) in config.jobs.enumerated() { jobIndex[j.name] = i }
        self.jobIndex = jobIndex
        self.tiers = Set(config.retryTiers.map(DurationText.format))
    }

    private func job(_ name: String) -> CronqConfig.Job? { jobIndex[name].map { config.jobs[$0] } }

    /// Why a delivery is refused.
    public struct Refusal: Error, Sendable, Equatable {
        public var reason: DeadReason
        public var detail: String
        /// The body was too large to copy: the broker dead-letters it (reject), so that it keeps it whole.
        public var rejectToBroker = false
    }

    /// The job to run, its retry policy capped by the config, or why not.
    public func admit(_ message: AMQPMessage) -> Result<JobMessage, Refusal> {
        if message.droppedBodyBytes > 0 {
            return .failure(
                Refusal(
                    reason: .malformed,
                    detail: "body is \(message.droppedBodyBytes) bytes, over the \(JobMessage.maxBodyBytes)-byte limit",
                    rejectToBroker: true))
        }
        if message.properties.headersTooDeep {
            return .failure(Refusal(reason: .malformed, detail: "headers nest tables or arrays too deeply"))
        }
        if let key = config.amqp.messageKey, !MessageSignature.isSigned(message, key: key) {
            let has = message.properties.headers?[JobMessageProperties.signatureHeader] != nil
            return .failure(
                Refusal(
                    reason: .unauthenticated,
                    detail: has
                        ? "cronq-signature does not match (another key, or a changed body or message id)"
                        : "no cronq-signature (unsigned)"))
        }
        var m: JobMessage
        do {
            m = try JobMessage.parse(message.body)
        } catch {
            return .failure(Refusal(reason: .malformed, detail: error.reason))
        }
        guard config.backends[m.backend] != nil else {
            return .failure(
                Refusal(
                    reason: .malformed,
                    detail: "unknown backend '\(m.backend.prefix(64))' (not in this worker's config)"))
        }
        let job = job(m.job)
        if config.worker.accept == .configured {
            guard let job else {
                return .failure(Refusal(reason: .unknownJob, detail: "job '\(m.job)' is not configured"))
            }
            guard job.backend == m.backend, job.method == m.request.method, job.path == m.request.path else {
                return .failure(
                    Refusal(
                        reason: .unknownJob,
                        detail: "job '\(m.job)' is configured with a different backend, method or path"))
            }
        }
        // A message may ask for less than the config allows, never more.
        let limit = job?.retry ?? config.retry
        m.retry.maxAttempts = min(m.retry.maxAttempts, limit.maxAttempts)
        m.retry.maxDurationS = min(m.retry.maxDurationS, Int(clamping: limit.maxDuration.totalSeconds))
        return .success(m)
    }

    /// A metrics label for a job name: configured names only, so that messages cannot grow the
    /// metrics without bound.
    public func metricsJob(_ name: String) -> String { jobIndex[name] != nil ? name : "other" }

    /// A metrics label for a retry tier: configured tiers only.
    public func metricsTier(_ tier: String) -> String { tiers.contains(tier) ? tier : "other" }
}
