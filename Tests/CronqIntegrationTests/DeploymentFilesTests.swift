import CronqCore
import CronqTestSupport
import Foundation
import Testing

/// What can be checked of the deployment files without a Docker engine or a booted systemd.
@Suite("Deployment files")
struct DeploymentFilesTests {
    @Test("docker/compose.yml uses only Compose Specification keys and consistent references")
    func compose() throws {
        // Debian's interpreter, with python3-yaml from `make deps`: the check runs, it is never skipped.
        let r = try spawnAndWait(
            "/usr/bin/python3", [Repo.root + "/docker/check_compose.py"],
            environment: ProcessInfo.processInfo.environment, output: NSTemporaryDirectory() + "check_compose.out")
        let out = (try? String(contentsOfFile: NSTemporaryDirectory() + "check_compose.out", encoding: .utf8)) ?? ""
        #expect(r == 0, "\(out)")
    }

    @Test("docker/cronq.toml is a valid config whose topology matches topology/definitions.json")
    func composeConfig() throws {
        let c = try ConfigLoader(
            environment: ["CRONQ_AMQP_URLS": "amqp://rabbitmq/%2F", "BACKEND_BASE": "http://backend:8787"],
            allowMissingVariables: true
        ).load(path: Repo.root + "/docker/cronq.toml")
        #expect(c.jobs.map(\.name) == ["every5min", "partiesEC", "checkCurrent", "mopDelta25"])
        let committed = try String(contentsOfFile: Repo.root + "/topology/definitions.json", encoding: .utf8)
        #expect(
            Topology(config: c).definitionsJSON() == committed,
            "the definitions RabbitMQ loads at boot are the ones the services declare")
    }

    @Test(
        "systemd units pass systemd-analyze verify",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func systemd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("units"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["cronq-ticker.service", "cronq-worker@.service"] {
            let text = try String(contentsOfFile: Repo.root + "/deploy/systemd/" + name, encoding: .utf8)
            // Point ExecStart at the binaries this build produced, so verify can check they exist.
            try text.replacingOccurrences(of: "/usr/local/bin", with: Repo.root + "/.build/debug")
                .write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            #expect(text.contains("Restart=on-failure") && text.contains("KillSignal=SIGTERM"))
        }
        let worker = try String(contentsOfFile: Repo.root + "/deploy/systemd/cronq-worker@.service", encoding: .utf8)
        #expect(
            worker.contains("TimeoutStopSec=45s") && worker.contains("--grace 30s")
                && worker.contains("LoadCredential="))
        let out = dir.appendingPathComponent("verify.out").path
        let r = try spawnAndWait(
            "/usr/bin/systemd-analyze",
            [
                "verify", dir.appendingPathComponent("cronq-ticker.service").path,
                dir.appendingPathComponent("cronq-worker@.service").path,
            ],
            environment: ProcessInfo.processInfo.environment, output: out)
        #expect(r == 0, "\((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")")
    }
}
