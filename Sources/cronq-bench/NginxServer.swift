import CronqHTTP
import Foundation

/// Debian's nginx (`nginx-light`, installed by `make bench`) answering 204 on loopback: the real web server
/// the worker is measured against, beside the stub. Keep-alive connections are never closed by it
/// (`keepalive_requests` above any run), as a production reverse proxy in front of a backend would keep them.
/// Requests are counted by nginx itself (`stub_status` on a second port), so the bench knows when every job
/// was called without logging each request.
final class NginxServer: BenchBackend, @unchecked Sendable {
    let port: Int
    private let statusPort: Int
    private let process: Process
    private let dir: URL
    private let status = HTTPClient()
    private var statusCalls = 0

    init() throws {
        guard let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: FileManager.default.isExecutableFile)
        else { throw BenchError("nginx is not installed (apt-get install nginx-light; `make bench` does)") }
        port = Self.freePort()
        statusPort = Self.freePort()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cronq-bench-nginx-\(getpid())-\(port)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // One worker process: the machine has two cores for the broker, the worker and the backend.
        try """
        worker_processes 1;
        daemon off;
        pid \(dir.path)/nginx.pid;
        error_log \(dir.path)/error.log warn;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(dir.path)/body;
            proxy_temp_path \(dir.path)/proxy;
            fastcgi_temp_path \(dir.path)/fastcgi;
            uwsgi_temp_path \(dir.path)/uwsgi;
            scgi_temp_path \(dir.path)/scgi;
            keepalive_requests 100000000;
            keepalive_timeout 600s;
            server {
                listen 127.0.0.1:\(port);
                location / { return 204; }
            }
            server {
                listen 127.0.0.1:\(statusPort);
                location / { stub_status; }
            }
        }
        """.write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", dir.path, "-c", dir.appendingPathComponent("nginx.conf").path, "-e", "stderr"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where totalRequests() == nil { usleep(20_000) }
        guard totalRequests() != nil else {
            stop()
            let log = (try? String(contentsOf: dir.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
            throw BenchError("nginx did not start on 127.0.0.1:\(port): \(log)")
        }
    }

    /// Calls to the 204 server: nginx's request count less the status queries it answered (it counts a request
    /// when it begins, so the count includes the query asking).
    var requests: Int { totalRequests().map { $0 - statusCalls } ?? 0 }

    private func totalRequests() -> Int? {
        guard
            case .success(let r)? = status.perform([HTTPRequest(method: "GET", url: "http://127.0.0.1:\(statusPort)/")])
                .first,
            r.status == 200
        else { return nil }
        statusCalls += 1
        // "Active connections: 1 \nserver accepts handled requests\n 5 5 7 \n…": the third number of line 3.
        let lines = String(decoding: r.bodyExcerpt, as: UTF8.self).split(separator: "\n")
        guard lines.count > 2 else { return nil }
        return lines[2].split(separator: " ").dropFirst(2).first.flatMap { Int($0) }
    }

    /// CPU seconds of nginx's master and worker processes so far.
    var cpuSeconds: Double {
        let children =
            (try? String(
                contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
                encoding: .utf8)) ?? ""
        let pids = [process.processIdentifier] + children.split(separator: " ").compactMap { Int32($0) }
        return pids.map { WorkerBench.cpuSeconds($0) }.reduce(0, +)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// What the worker bench calls: the stub or nginx.
protocol BenchBackend: AnyObject {
    var port: Int { get }
    /// Requests answered so far.
    var requests: Int { get }
    /// CPU seconds the backend has used so far.
    var cpuSeconds: Double { get }
    func stop()
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
