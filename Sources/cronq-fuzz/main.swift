import CronqCore
import Foundation

// cronq-fuzz [cron|config|message|response] [COUNT] [SEED]: random inputs for the cron parser, the config
// loader, the worker's job-message reader (JSONReader + contract checks) and what a backend answers
// (status and `Retry-After` in both forms, through the outcome rules).
// Every input must either parse (and then compute fires without hanging) or be rejected with a typed
// error whose message is non-empty. A crash is a bug; the input is printed first.

let args = CommandLine.arguments
let what = args.count > 1 ? args[1] : "all"
let count = args.count > 2 ? Int(args[2]) ?? 1_000_000 : 1_000_000
let seed = args.count > 3 ? UInt64(args[3]) ?? 1 : 1

let cronTokens = [
    "*", "?", "/", "-", ",", "L", "W", "#", "LW", "0", "1", "5", "7", "12", "15", "23", "29", "30", "31", "59", "60",
    "99", "MON", "fri", "JAN", "dec", "SUN", "@daily", "@hourly", "@weekly", "@bogus", " ", "  ", "x", "\u{0}", "é",
    "-1", "0x1", "9999999999999999999999", "*/0", "*/5", "1-5", "5-1", "5L", "5#3", "15W",
]

let fieldItems = [
    "*", "?", "*/2", "*/7", "0", "1", "5", "7", "10-20", "1-5/2", "3/4", "1,2,3", "MON-FRI", "SAT,SUN", "JAN-MAR",
    "L", "LW", "15W", "5L", "2#3", "0#5", "31", "29", "12", "23", "59", "0-0", "5-5/3", "60", "32", "13", "8", "a",
    "1-", "-1", ",", "*/", "1#6", "L5", "",
]

func randomCron(_ rng: inout SplitMix64) -> String {
    if Bool.random(using: &rng) {
        // Structured: 5 or 6 fields of plausible items, some of them wrong for their field.
        let n = Bool.random(using: &rng) ? 5 : 6
        return (0..<n).map { _ in
            (0..<Int.random(in: 1...2, using: &rng)).map { _ in fieldItems.randomElement(using: &rng)! }.joined(
                separator: ",")
        }.joined(separator: " ")
    }
    var s = ""
    for _ in 0..<Int.random(in: 0...14, using: &rng) {
        s += cronTokens.randomElement(using: &rng)!
        if Bool.random(using: &rng) { s += " " }
    }
    return s
}

func fuzzCron(_ n: Int, _ rng: inout SplitMix64) {
    var accepted = 0
    var rejected = 0
    let start = Date()
    for seed in cronSeeds {
        do { _ = try CronExpression(seed) } catch {
            preconditionFailure("corpus expression '\(seed)' no longer parses: \(error)")
        }
    }
    for i in 0..<n {
        let text = i % 4 == 3 ? mutate(cronSeeds[i % cronSeeds.count], &rng) : randomCron(&rng)
        do {
            let e = try CronExpression(text)
            let s = CronSchedule(e, zone: ZoneRules.named(["UTC", "Europe/London", "Australia/Lord_Howe"][i % 3])!)
            var t: Int64 = 1_767_225_600 + Int64(i % 100_000) * 977
            for _ in 0..<3 {
                guard let n = s.next(after: t) else { break }
                precondition(n > t, "next(after:) went backwards for '\(text)'")
                t = n
            }
            accepted += 1
        } catch let e as CronError {
            precondition(!e.description.isEmpty, "empty error for '\(text)'")
            rejected += 1
        } catch {
            preconditionFailure("untyped error \(error) for '\(text)'")
        }
    }
    print(
        String(
            format: "cron: %d inputs (%d accepted, %d rejected with a CronError), no crash, no hang, %.1f s",
            n, accepted, rejected, Date().timeIntervalSince(start)))
}

/// The seeds in `fuzz/corpus` (see fuzz/README.md); `CRONQ_FUZZ_CORPUS` points elsewhere.
let corpusDir = ProcessInfo.processInfo.environment["CRONQ_FUZZ_CORPUS"] ?? "fuzz/corpus"
func corpus(_ name: String) -> String {
    guard let text = try? String(contentsOfFile: "\(corpusDir)/\(name)", encoding: .utf8) else {
        FileHandle.standardError.write(
            Data(
                "cronq-fuzz: cannot read \(corpusDir)/\(name) (run from the repository, or set CRONQ_FUZZ_CORPUS)\n"
                    .utf8))
        exit(1)
    }
    return text
}
let baseConfig = corpus("config.toml")
let baseMessage = Array(corpus("message.json").trimmingCharacters(in: .whitespacesAndNewlines).utf8)
let cronSeeds = corpus("cron.txt").split(separator: "\n").map(String.init).filter { !$0.isEmpty }

func mutate(_ s: String, _ rng: inout SplitMix64) -> String {
    var b = Array(s.utf8)
    let pieces = Array("[]{}=\"',.#\n\\ $-_:0123456789abcdefxyz".utf8)
    for _ in 0..<Int.random(in: 1...6, using: &rng) {
        guard !b.isEmpty else { break }
        let i = Int.random(in: 0..<b.count, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: b[i] = pieces.randomElement(using: &rng)!
        case 1: b.insert(pieces.randomElement(using: &rng)!, at: i)
        case 2: b.remove(at: i)
        default:
            let j = min(b.count, i + Int.random(in: 1...20, using: &rng))
            b.insert(contentsOf: b[i..<j], at: i)
        }
    }
    return String(decoding: b, as: UTF8.self)
}

func fuzzConfig(_ n: Int, _ rng: inout SplitMix64) {
    var accepted = 0
    var rejected = 0
    let start = Date()
    let loader = ConfigLoader(environment: [:])
    for _ in 0..<n {
        let text = mutate(baseConfig, &rng)
        do {
            _ = try loader.parse(text, path: "fuzz.toml")
            accepted += 1
        } catch let e as ConfigError {
            precondition(!e.issues.isEmpty && e.issues.allSatisfy { !$0.message.isEmpty }, "empty config error")
            rejected += 1
        } catch {
            preconditionFailure("untyped error \(error)")
        }
    }
    print(
        String(
            format:
                "config: %d inputs (%d accepted, %d rejected with a ConfigError naming file and key), no crash, %.1f s",
            n, accepted, rejected, Date().timeIntervalSince(start)))
}

func fuzzMessage(_ n: Int, _ rng: inout SplitMix64) {
    var accepted = 0
    var rejected = 0
    let start = Date()
    let pieces = Array("{}[]\":,.-+eE0123456789tfnul\\/ \u{1}abcdxyz".utf8) + [0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
    for i in 0..<n {
        var b: [UInt8]
        if i % 10 == 0 {
            b = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        } else {
            b = baseMessage
            for _ in 0..<Int.random(in: 1...5, using: &rng) {
                guard !b.isEmpty else { break }
                let k = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: b[k] = pieces.randomElement(using: &rng)!
                case 1: b.insert(pieces.randomElement(using: &rng)!, at: k)
                case 2: b.remove(at: k)
                case 3: b.insert(contentsOf: b[k..<min(b.count, k + Int.random(in: 1...30, using: &rng))], at: k)
                default:
                    b.insert(
                        contentsOf: Array(repeating: UInt8(ascii: "["), count: Int.random(in: 1...200, using: &rng)),
                        at: k)
                }
            }
        }
        // The worker's fast path must read every body it takes exactly as the general path does.
        if let fast = JobMessage.decodeFields(b) {
            precondition(fast == (try? JobMessage(json: JSONReader.parse(b))), "the two readers disagree")
        }
        do {
            let m = try JobMessage.parse(b)
            precondition(JobMessage.pathProblem(m.request.path) == nil, "accepted an unsafe path")
            precondition(
                m.request.headers.allSatisfy { HeaderPolicy.problem(name: $0.key, value: $0.value) == nil },
                "accepted a refused header")
            accepted += 1
        } catch {
            precondition(!error.reason.isEmpty, "empty reason")
            rejected += 1
        }
    }
    print(
        String(
            format: "message: %d inputs (%d accepted, %d rejected as malformed with a reason), no crash, %.1f s",
            n, accepted, rejected, Date().timeIntervalSince(start)))
}

/// What a hostile or broken backend can answer: any status, and `Retry-After` as digits of any length,
/// signs, HTTP-dates with giant, negative or missing fields, or noise. Every answer must classify
/// (retry, dead or succeed) without trapping, and a retry must pick one of the message's tiers.
func fuzzResponse(_ n: Int, _ rng: inout SplitMix64) {
    var retried = 0
    var other = 0
    let start = Date()
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Xyz", ""]
    let months = ["Jan", "Feb", "Nov", "Dec", "Foo", ""]
    func number(_ rng: inout SplitMix64) -> String {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return String(Int.random(in: 0...99, using: &rng))
        case 1: return String(Int64.random(in: Int64.min...Int64.max, using: &rng))
        case 2: return String(repeating: "9", count: Int.random(in: 1...400, using: &rng))
        case 3: return "-" + String(Int.random(in: 0...99_999, using: &rng))
        case 4: return String(UInt64.random(in: 0...UInt64.max, using: &rng)) + "0"
        default: return ["", " ", "+1", "1e9", "0x10", "٣"].randomElement(using: &rng)!
        }
    }
    let policy = JobMessage.Retry(maxAttempts: 5, backoff: ["1s", "10s", "1m", "1h"], maxDurationS: 86_400)
    for i in 0..<n {
        let value: String?
        switch i % 4 {
        case 0: value = number(&rng)
        case 1:
            value =
                "\(days.randomElement(using: &rng)!), \(number(&rng)) \(months.randomElement(using: &rng)!) \(number(&rng)) "
                + "\(number(&rng)):\(number(&rng)):\(number(&rng)) \(Bool.random(using: &rng) ? "GMT" : "UTC")"
        case 2:
            value = String(
                decoding: (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) },
                as: UTF8.self)
        default: value = nil
        }
        let status =
            i % 7 == 0
            ? Int.random(in: Int.min...Int.max, using: &rng)
            : [200, 204, 301, 404, 408, 429, 500, 502, 503, 504].randomElement(using: &rng)!
        let now = Int64.random(in: 0...4_102_444_800, using: &rng)
        if let value, let s = RetryAfter.seconds(value, now: now) {
            precondition(
                s >= 0 && s <= RetryAfter.maximumSeconds, "Retry-After out of range for \(value.debugDescription)")
        }
        let result: CallResult =
            i % 11 == 0
            ? .failure(retryable: Bool.random(using: &rng), error: value ?? "")
            : .response(status: status, retryAfter: value)
        switch OutcomeRules.classify(
            result, attempt: Int.random(in: 1...10, using: &rng),
            firstAttemptAt: now - Int64.random(in: 0...100_000, using: &rng),
            now: now, policy: policy)
        {
        case .retry(let tier, _, _):
            precondition(policy.backoff.contains(tier), "retry to a tier the message does not have")
            retried += 1
        case .succeed, .dead: other += 1
        }
    }
    print(
        String(
            format: "response: %d answers (%d retried, %d succeeded or dead), no crash, %.1f s", n, retried, other,
            Date().timeIntervalSince(start)))
}

var rng = SplitMix64(seed: seed)
if what == "cron" || what == "all" { fuzzCron(count, &rng) }
if what == "config" || what == "all" { fuzzConfig(count, &rng) }
if what == "message" || what == "all" { fuzzMessage(count, &rng) }
if what == "response" || what == "all" { fuzzResponse(count, &rng) }
