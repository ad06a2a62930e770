import CronqAMQP
import CronqCore
import CronqRuntime
import CronqTestSupport
import Foundation
import Testing

/// The operator's commands against a real deployment: status, dead letters, trigger, tail.
@Suite("cronq ops commands", .enabled(if: TestBroker.isConfigured, "run under `make test`, which starts the broker"))
struct OpsTests {
    func cronq(_ h: WorkerHarness, _ args: [String]) throws -> CommandResult {
        try runCommand("cronq", args + ["--config", h.configPath], environment: ["WT_TOKEN": h.token])
    }

    /// Puts dead letters straight into the dead queue, as a worker would have.
    func seedDead(_ h: WorkerHarness, _ items: [(id: String, job: String, reason: String, path: String)]) throws {
        let msgs = items.map { i -> AMQPMessage in
            var m = h.message(job: i.job, path: i.path, id: i.id)
            m = Republish.dead(
                m, reason: i.reason, status: i.reason.hasPrefix("http_") ? Int(i.reason.dropFirst(5)) : nil,
                error: "seeded",
                attempt: 1, queue: h.names.workQueue("default"), at: Int64(Date().timeIntervalSince1970))
            return m
        }
        let exchange = h.names.deadExchange
        try onThreadSync {
            let ch = try AMQPConnection(url: AMQPURL(TestBroker.url!)).openChannel()
            try ch.enableConfirms()
            let r = try ch.publishAndConfirm(
                msgs.map { OutgoingMessage(exchange: exchange, routingKey: "default", message: $0) })
            guard r.allSatisfy({ $0 == .confirmed }) else { throw TestSupportError("seed not confirmed") }
        }
    }

    @Test("status: counts, JSON fields, every threshold exits 2 when crossed and 0 when not")
    func status() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try h.publish((0..<3).map { h.message(path: "/cron/x", id: "s-\($0)") })
        try seedDead(h, [("d-1", "probe", "http_404", "/status/404"), ("d-2", "probe", "exhausted", "/status/500")])
        let r = try cronq(h, ["status", "--json"])
        #expect(r.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let queues = obj["queues"] as! [[String: Any]]
        func ready(_ q: String) -> Int? { queues.first { $0["queue"] as? String == q }?["ready"] as? Int }
        #expect(ready(h.names.workQueue("default")) == 3)
        #expect(ready(h.names.deadQueue) == 2)
        #expect(ready(h.names.retryQueue("1s")) == 0)
        #expect(obj["leader"] as? Bool == false)
        #expect(obj["oldest_dead_age_s"] as? Int != nil)
        #expect(queues.allSatisfy { $0["consumers"] is Int && $0["kind"] is String })

        #expect(try cronq(h, ["status", "--max-dead", "2"]).status == 0)
        let dead = try cronq(h, ["status", "--max-dead", "1"])
        #expect(dead.status == 2)
        #expect(dead.stderr.contains("holds 2 dead letters (max 1)"))
        #expect(try cronq(h, ["status", "--max-ready", "3"]).status == 0)
        #expect(try cronq(h, ["status", "--max-ready", "2"]).status == 2)
        let leader = try cronq(h, ["status", "--require-leader"])
        #expect(leader.status == 2 && leader.stderr.contains("no ticker holds the leader lock"))
        let consumers = try cronq(h, ["status", "--require-consumers"])
        #expect(consumers.status == 2 && consumers.stderr.contains("has no consumer"))
        try h.startWorker()
        #expect(h.eventually { (try? cronq(h, ["status", "--require-consumers"]).status) == 0 })
        #expect(
            try cronq(h, ["dead", "list"]).stdout.contains("2 dead letter(s)"), "status left the dead letters in place")
    }

    @Test(
        "status with management_url: unacked counts and rates from the management API",
        .enabled(if: ProcessInfo.processInfo.environment["CRONQ_TEST_MANAGEMENT_URL"] != nil))
    func statusManagement() throws {
        let mgmt = ProcessInfo.processInfo.environment["CRONQ_TEST_MANAGEMENT_URL"]!
        let h = try WorkerHarness(amqpExtra: "management_url = \"\(mgmt)\"")
        defer { h.stop() }
        try h.publish((0..<3).map { h.message(path: "/cron/x", id: "u-\($0)") })
        let work = h.names.workQueue("default")
        // Hold two deliveries unacked on a connection of our own (confined to its thread) while status looks.
        let ready = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = Thread {
            if let c = try? AMQPConnection(url: AMQPURL(TestBroker.url!)), let ch = try? c.openChannel() {
                _ = try? ch.get(queue: work)
                _ = try? ch.get(queue: work)
                ready.signal()
                release.wait()
                c.close()
            } else {
                ready.signal()
            }
        }
        holder.start()
        ready.wait()
        defer { release.signal() }
        var last = ""
        let seen = h.eventually(30) {
            guard let r = try? cronq(h, ["status", "--json"]), r.status == 0,
                let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
                let queues = obj["queues"] as? [[String: Any]],
                let row = queues.first(where: { $0["queue"] as? String == work })
            else { return false }
            last = r.stdout
            return row["unacked"] as? Int == 2 && row["ready"] as? Int == 1 && row["publish_rate"] is Double
        }
        #expect(seen, "\(last)")
        let table = try cronq(h, ["status"])
        #expect(table.stdout.contains("UNACKED") && table.stdout.contains("DELIVER/s"))
    }

    @Test("status against an unreachable broker exits 1 with the reason")
    func statusDown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("sd"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.toml").path
        try "[amqp]\nurl = \"amqp://guest:guest@127.0.0.1:1/%2F\"\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let r = try runCommand("cronq", ["status", "--config", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("broker unreachable"))
    }

    @Test("dead list leaves the queue as it was; filters; show prints headers and body")
    func deadList() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try seedDead(
            h,
            [
                ("a-1", "alpha", "http_404", "/x"), ("b-1", "beta", "exhausted", "/y"),
                ("a-2", "alpha", "exhausted", "/z"),
            ])
        let all = try cronq(h, ["dead", "list", "--json"])
        #expect(all.status == 0)
        let ids = all.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.compactMap { $0["message_id"] as? String }
        #expect(ids == ["a-1", "b-1", "a-2"], "oldest first, nothing lost")
        let again = try cronq(h, ["dead", "list", "--json"])
        #expect(again.stdout == all.stdout, "listing twice shows the same, in the same order")
        #expect(try h.count(h.names.deadQueue) == 3)
        #expect(try cronq(h, ["dead", "list", "--job", "alpha"]).stdout.contains("2 dead letter(s)"))
        #expect(try cronq(h, ["dead", "list", "--reason", "exhausted"]).stdout.contains("2 dead letter(s)"))
        #expect(try cronq(h, ["dead", "list", "--limit", "1"]).stdout.contains("1 dead letter(s)"))
        let show = try cronq(h, ["dead", "show", "b-1"])
        #expect(show.stdout.contains("cronq-dead-reason: exhausted") && show.stdout.contains("\"job\":\"beta\""))
        #expect(try cronq(h, ["dead", "show", "nope"]).status == 1)
    }

    @Test("selected by id, list, replay and purge wait for dead letters another reader is giving back")
    func deadByIDWhileHeld() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try seedDead(
            h,
            [
                ("held-1", "alpha", "exhausted", "/x"), ("held-2", "beta", "exhausted", "/y"),
                ("held-3", "beta", "exhausted", "/z"),
            ])
        let url = try AMQPURL(TestBroker.url!)
        let names = h.names
        /// Runs `body` while another reader (a dead list, a dashboard page) holds every dead letter unacked
        /// and gives them back half a second later; returns the queue's ready count when `body` began.
        func whileHeld<T>(_ body: @escaping @Sendable (DeadLetters) throws -> T) throws -> (ready: Int, T) {
            let taken = DispatchSemaphore(value: 0)
            let holder = Thread {
                guard let ch = try? AMQPConnection(url: url).openChannel() else {
                    taken.signal()
                    return
                }
                while (try? ch.get(queue: names.deadQueue)) ?? nil != nil {}
                taken.signal()
                Thread.sleep(forTimeInterval: 0.5)
                try? ch.nack(0, multiple: true, requeue: true)
                ch.close()
            }
            holder.start()
            taken.wait()
            return try onThreadSync {
                let c = try AMQPConnection(url: url)
                let ready = Int(try c.openChannel().inspectQueue(names.deadQueue).messageCount)
                return (ready, try body(DeadLetters(connection: c, names: names)))
            }
        }
        let (ready, found) = try whileHeld { try $0.list(.init(ids: ["held-2"]), limit: 1) }
        #expect(ready == 0, "all were held by the other reader when the lookup began")
        #expect(found.map(\.messageID) == ["held-2"], "found once given back, not 'not found'")
        let wrong = try onThreadSync {
            try DeadLetters(connection: AMQPConnection(url: url), names: names).list(.init(ids: ["nope"]))
        }
        #expect(wrong.isEmpty)
        let (_, purged) = try whileHeld { try $0.purge(.init(ids: ["held-1"])) }
        #expect(purged.purged == 1)
        let (_, replayed) = try whileHeld { try $0.replay(.init(ids: ["held-3"])) }
        #expect(replayed.replayed == 1)
        #expect(h.eventually { (try? h.count(h.names.deadQueue)) == 1 }, "held-2 alone is left")
        #expect(try h.drain(h.names.workQueue("default")).compactMap(\.message.properties.messageID) == ["held-3"])
    }

    @Test("replay: --dry-run moves nothing; filters move exactly the selected ones, which a worker then runs")
    func replayFilters() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try seedDead(
            h,
            [
                ("r-1", "probe", "http_404", "/cron/ok1"), ("r-2", "probe", "exhausted", "/cron/ok2"),
                ("r-3", "other", "exhausted", "/cron/ok3"),
            ])
        let dry = try cronq(h, ["dead", "replay", "--reason", "exhausted", "--dry-run"])
        #expect(dry.stdout.contains("2 would be replayed"))
        #expect(try h.count(h.names.deadQueue) == 3 && h.count(h.names.workQueue("default")) == 0)
        let r = try cronq(h, ["dead", "replay", "--job", "probe", "--reason", "exhausted"])
        #expect(r.status == 0 && r.stdout.contains("replayed 1, skipped 2, failed 0"), "\(r.stdout)\(r.stderr)")
        #expect(try h.count(h.names.deadQueue) == 2)
        let byID = try cronq(h, ["dead", "replay", "--id", "r-3"])
        #expect(byID.stdout.contains("replayed 1"))
        try h.startWorker()
        #expect(h.eventually { Set(h.requests().compactMap { $0["idempotency_key"] as? String }) == ["r-2", "r-3"] })
        #expect(h.eventually { (try? h.count(h.names.workQueue("default"))) == 0 })
        #expect(try h.count(h.names.deadQueue) == 1, "r-1 is still dead")
    }

    @Test("replay --limit and --to-queue; a replay the broker cannot route fails and the dead letter stays")
    func replayLimitAndQueue() throws {
        let h = try WorkerHarness(
            extraJobs: "[[jobs]]\nname = \"heavy\"\nschedule = \"@daily\"\npath = \"/cron/h\"\nqueue = \"heavy\"")
        defer { h.stop() }
        try seedDead(h, (0..<4).map { ("l-\($0)", "probe", "exhausted", "/cron/x") })
        let limited = try cronq(h, ["dead", "replay", "--limit", "2"])
        #expect(limited.stdout.contains("replayed 2"), "\(limited.stdout)")
        #expect(try h.count(h.names.workQueue("default")) == 2 && h.count(h.names.deadQueue) == 2)
        let moved = try cronq(h, ["dead", "replay", "--id", "l-2", "--to-queue", "heavy"])
        #expect(moved.stdout.contains("replayed 1"))
        #expect(try h.count(h.names.workQueue("heavy")) == 1)
        let nowhere = try cronq(h, ["dead", "replay", "--id", "l-3", "--to-queue", "nowhere"])
        #expect(nowhere.status == 1 && nowhere.stdout.contains("failed 1"), "\(nowhere.stdout)")
        #expect(
            try h.drain(h.names.deadQueue).compactMap(\.message.properties.messageID) == ["l-3"],
            "the unroutable replay left it dead")
    }

    @Test("replay --rate is honoured within 20%")
    func replayRate() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try seedDead(h, (0..<21).map { ("rate-\($0)", "probe", "exhausted", "/cron/x") })
        let start = Date()
        let r = try cronq(h, ["dead", "replay", "--rate", "10"])
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.stdout.contains("replayed 21"))
        // 21 messages at 10/s: the last is due 2.0 s after the first.
        #expect(elapsed >= 2.0 * 0.8 && elapsed <= 2.0 * 1.2 + 1.0, "took \(elapsed) s")
    }

    @Test("replay interrupted by the broker closing its connection mid-way loses nothing")
    func replayConnectionClosed() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        // 200 at 20/s: ten seconds of replay, so the cut lands in the middle even on a slow machine.
        let ids = (0..<200).map { "cut-\($0)" }
        try seedDead(h, ids.map { ($0, "probe", "exhausted", "/cron/x") })
        let out = h.dir.appendingPathComponent("replay.out").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        var env = ProcessInfo.processInfo.environment
        env["WT_TOKEN"] = h.token
        let replay = try ChildProcess(
            Repo.root + "/.build/debug/cronq", ["dead", "replay", "--rate", "20", "--config", h.configPath],
            environment: env, waitForListening: false, stderr: FileHandle(forWritingAtPath: out)!)
        #expect(h.eventually { (try? h.count(h.names.workQueue("default"))).map { $0 >= 10 } ?? false })
        try TestBroker.closeConnection(named: "cronq/\(replay.pid) dead replay")
        replay.process.waitUntilExit()
        #expect(replay.process.terminationStatus == 1, "the interrupted replay reports failure")
        let dead = try h.drain(h.names.deadQueue).compactMap(\.message.properties.messageID)
        let work = try h.drain(h.names.workQueue("default")).compactMap(\.message.properties.messageID)
        #expect(Set(dead).union(work) == Set(ids), "every id is in the dead queue or in the work queue")
        #expect(dead.count + work.count - Set(dead).union(work).count <= 1, "at most the one in flight is in both")
        print("replay cut: \(work.count) replayed, \(dead.count) still dead, 0 lost")
    }

    @Test("a broker-dead-lettered message (x-death) replayed, failing once through a retry tier, still succeeds")
    func replayThroughRetryTier() throws {
        let h = try WorkerHarness(backoff: ["1s"], maxAttempts: 3)
        defer { h.stop() }
        let key = UUID().uuidString
        let m = h.message(path: "/flaky/\(key)/1", maxAttempts: 3, backoff: ["1s"], id: "poison-1")
        try h.publish([m])
        // Redeliver it past x-delivery-limit (20): the broker dead-letters it with x-death naming the work queue.
        let work = h.names.workQueue("default")
        try onThreadSync {
            let ch = try AMQPConnection(url: AMQPURL(TestBroker.url!)).openChannel()
            for _ in 0..<30 {
                guard let d = try ch.get(queue: work) else { break }
                try ch.nack(d.deliveryTag, requeue: true)
            }
        }
        #expect(h.eventually { (try? h.count(h.names.deadQueue)) == 1 })
        let listed = try cronq(h, ["dead", "list", "--json"])
        #expect(listed.stdout.contains("broker_delivery_limit"), "\(listed.stdout)")
        let r = try cronq(h, ["dead", "replay", "--id", "poison-1"])
        #expect(r.stdout.contains("replayed 1"))
        try h.startWorker()
        #expect(
            h.eventually(30) {
                h.requests().filter { $0["idempotency_key"] as? String == "poison-1" }.compactMap {
                    $0["status"] as? Int
                } == [503, 200]
            })
        #expect(h.eventually { (try? h.count(work)) == 0 })
        #expect(try h.count(h.names.deadQueue) == 0)
    }

    @Test("purge deletes only what the filters select")
    func purge() throws {
        let h = try WorkerHarness()
        defer { h.stop() }
        try seedDead(
            h,
            [
                ("p-1", "alpha", "http_404", "/x"), ("p-2", "beta", "http_404", "/x"),
                ("p-3", "alpha", "exhausted", "/x"),
            ])
        let refused = try cronq(h, ["dead", "purge", "--job", "alpha"])
        #expect(refused.status == 1, "no terminal and no --yes: refuse")
        let r = try cronq(h, ["dead", "purge", "--job", "alpha", "--reason", "http_404", "--yes"])
        #expect(r.stdout.contains("purged 1, kept 2"))
        let older = try cronq(h, ["dead", "purge", "--older-than", "1h", "--yes"])
        #expect(older.stdout.contains("purged 0, kept 2"), "nothing is an hour old")
        let ids = try h.drain(h.names.deadQueue).compactMap(\.message.properties.messageID)
        #expect(ids == ["p-2", "p-3"])
    }

    @Test("trigger --wait: exit 0 on success, 1 when dead-lettered; tail prints the run's events")
    func triggerAndTail() throws {
        let h = try WorkerHarness(
            extraJobs: """
                [[jobs]]
                name = "broken"
                schedule = "@daily"
                path = "/status/404"
                """)
        defer { h.stop() }
        try h.startWorker()
        let tailLog = h.dir.appendingPathComponent("tail.out").path
        _ = FileManager.default.createFile(atPath: tailLog, contents: nil)
        let tail = try ChildProcess(
            Repo.root + "/.build/debug/cronq", ["tail", "--config", h.configPath, "--format", "json"],
            environment: ProcessInfo.processInfo.environment.merging(["WT_TOKEN": h.token]) { $1 },
            waitForListening: false)
        defer { tail.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        let ok = try cronq(h, ["trigger", "probe", "--wait", "--timeout", "30s"])
        #expect(ok.status == 0 && ok.stdout.contains("succeeded probe@manual-"), "\(ok.stdout)\(ok.stderr)")
        let bad = try cronq(h, ["trigger", "broken", "--wait", "--timeout", "30s"])
        #expect(
            bad.status == 1 && bad.stderr.contains("dead-lettered broken@manual-") && bad.stderr.contains("http_404"))
        let unknown = try cronq(h, ["trigger", "nope"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no job 'nope'"))
        tail.signal(SIGINT)
        tail.process.waitUntilExit()
        let lines = tail.readRemainingOutput().split(separator: "\n")
        let events = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(events.contains { $0["event"] as? String == "succeeded" && $0["job"] as? String == "probe" })
        #expect(
            events.contains {
                $0["event"] as? String == "dead" && $0["job"] as? String == "broken"
                    && $0["reason"] as? String == "http_404"
            })
        #expect(!lines.joined().contains(h.token))
    }
}
