public import Foundation

/// A helper program (the test backend, the TCP proxy, a cronq executable) started by a test and
/// stopped by it. Every one listens on 127.0.0.1 only.
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    private let stdoutPipe = Pipe()
    private let stdinPipe = Pipe()
    /// The port from the program's first line, `listening 127.0.0.1:<port>`, when it prints one.
    public private(set) var port: Int = 0

    /// Starts `executable` with `arguments`; when `waitForListening`, reads the first stdout line for the port.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        waitForListening: Bool = true, stderr: FileHandle? = nil, stdin: Bool = false
    ) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = stdoutPipe
        process.standardError = stderr ?? FileHandle.standardError
        if stdin { process.standardInput = stdinPipe }
        try process.run()
        if waitForListening {
            let line = readLine()
            guard let r = line.range(of: "listening 127.0.0.1:"), let p = Int(line[r.upperBound...]) else {
                process.terminate()
                throw TestSupportError("\(executable) did not report its port (got '\(line)')")
            }
            port = p
        }
    }

    /// Reads one line of the child's stdout (blocking).
    public func readLine() -> String {
        var bytes: [UInt8] = []
        let h = stdoutPipe.fileHandleForReading
        while true {
            let d = h.readData(ofLength: 1)
            if d.isEmpty || d.first == UInt8(ascii: "\n") { break }
            bytes.append(d.first!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes one line to the child's stdin (started with `stdin: true`).
    public func writeLine(_ line: String) {
        stdinPipe.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Everything the child wrote to stdout until it exits (call after it has been stopped or has exited).
    public func readRemainingOutput() -> String {
        String(decoding: stdoutPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Stops the child (SIGTERM, then SIGKILL after 5 s) and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGCONT)
        process.terminate()
        let exited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { [process] in
            process.waitUntilExit()
            exited.signal()
        }
        if exited.wait(timeout: .now() + 5) == .timedOut {
            kill(pid, SIGKILL)
            exited.wait()
        }
    }

    deinit { stop() }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Paths of the repository, found from this source file's location.
public enum Repo {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    public static func script(_ name: String) -> String { root + "/scripts/" + name }
}

/// Starts the test backend (`scripts/backend.py`) on a free loopback port.
public func startBackend(token: String = "", log: String? = nil, port: Int = 0, tls: (cert: String, key: String)? = nil)
    throws -> ChildProcess
{
    var args = [Repo.script("backend.py")]
    if let tls { args += ["--tls-cert", tls.cert, "--tls-key", tls.key] }
    if port != 0 { args += ["--port", "\(port)"] }
    if !token.isEmpty { args += ["--token", token] }
    if let log { args += ["--log", log] }
    return try ChildProcess("/usr/bin/env", ["python3"] + args)
}

/// Starts a loopback TCP proxy to `target` (`scripts/tcp_proxy.py`), on `port` if not 0.
public func startProxy(to target: String, port: Int = 0) throws -> ChildProcess {
    try ChildProcess("/usr/bin/env", ["python3", Repo.script("tcp_proxy.py"), target] + (port == 0 ? [] : ["\(port)"]))
}

/// Runs one of the package's executables (`cronq`, `cronq-worker`, …) to completion.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public func runCommand(
    _ name: String, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60
) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Repo.root + "/.build/debug/" + name)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes while the child runs, so a full pipe cannot block it.
    // each written by one reader, read after the group waits
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave()
    }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        p.terminate()
        throw TestSupportError("\(name) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
    }
    p.waitUntilExit()
    return CommandResult(
        status: p.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self),
        stderr: String(decoding: errBox.data, as: UTF8.self))
}
