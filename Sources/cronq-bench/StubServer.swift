import Foundation

/// A deliberately tiny HTTP/1.1 keep-alive responder for the worker benchmark, so the backend is not
/// the bottleneck being measured (the Python test backend tops out far below the broker). One thread
/// thread and epoll for all connections; it reads a request head (and a Content-Length body) and answers at once.
/// Benchmark-only: cronq itself never parses HTTP by hand.
final class StubServer: @unchecked Sendable {
    enum Mode { case noContent, fail10PercentFirstAttempt, delay(Int) }
    let mode: Mode
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var _requests = 0
    var requests: Int { lock.lock(); defer { lock.unlock() }; return _requests }

    init(mode: Mode) {
        self.mode = mode
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        listen(fd, 512)
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    private func acceptLoop() {
        if case .delay = mode { return threadPerConnection() }
        eventLoop()
    }

    /// One thread per connection: for the slow endpoint, where each request sleeps.
    private func threadPerConnection() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
            let t = Thread { [self] in
                var conn = Connection()
                while conn.serve(c, stub: self) {}
                close(c)
            }
            t.stackSize = 256 << 10
            t.start()
        }
    }

    /// One thread polling every connection: answering at once should cost the machine as little as a
    /// production web server's fast path, so that the worker and the broker are what is measured.
    private func eventLoop() {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        var connections: [Int32: Connection] = [:]
        while true {
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 { if errno == EINTR { continue } else { return } }
            var closed: Set<Int32> = []
            for k in 0..<fds.count where fds[k].revents != 0 {
                let c = fds[k].fd
                if c == fd {
                    let s = accept(fd, nil, nil)
                    if s < 0 { continue }
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
                    connections[s] = Connection()
                    fds.append(pollfd(fd: s, events: Int16(POLLIN), revents: 0))
                } else if connections[c]?.serve(c, stub: self) != true {
                    connections[c] = nil
                    close(c)
                    closed.insert(c)
                }
            }
            if !closed.isEmpty { fds.removeAll { closed.contains($0.fd) } }
        }
    }

    fileprivate func counted() {
        lock.lock(); _requests += 1; lock.unlock()
    }

    /// Reads what one connection has, answers every complete request in it; false when the peer is gone.
    private struct Connection {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)

        mutating func serve(_ c: Int32, stub: StubServer) -> Bool {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return false }
            pending.append(contentsOf: buf[0..<n])
            var out: [UInt8] = []
            var consumed = 0
            while let end = Self.find(pending, from: consumed, [13, 10, 13, 10]) {
                let head = pending[consumed..<end]
                let bodyLen = Self.contentLength(head)
                guard pending.count >= end + 4 + bodyLen else { break }
                stub.counted()
                var status = "204 No Content"
                switch stub.mode {
                case .noContent: break
                case .delay(let ms): usleep(useconds_t(ms * 1000))
                case .fail10PercentFirstAttempt:
                    let text = String(decoding: head, as: UTF8.self).lowercased()
                    if text.contains("x-cronq-attempt: 1\r"), let r = text.range(of: "idempotency-key: ") {
                        let key = text[r.upperBound...].prefix { $0 != "\r" }
                        if key.utf8.reduce(0, { ($0 &* 31 &+ Int($1)) & 0xFFFF }) % 10 == 0 {
                            status = "503 Service Unavailable"
                        }
                    }
                }
                out.append(contentsOf: "HTTP/1.1 \(status)\r\nContent-Length: 0\r\n\r\n".utf8)
                consumed = end + 4 + bodyLen
            }
            if consumed > 0 { pending.removeFirst(consumed) }
            return out.isEmpty || write(c, out, out.count) == out.count
        }

        static func find(_ b: [UInt8], from: Int, _ needle: [UInt8]) -> Int? {
            guard b.count >= from + needle.count else { return nil }
            var i = from
            while i <= b.count - needle.count {
                if b[i] == needle[0] && b[i + 1] == needle[1] && b[i + 2] == needle[2] && b[i + 3] == needle[3] {
                    return i
                }
                i += 1
            }
            return nil
        }

        /// Content-Length from a request head, matched without allocating (names are case-insensitive).
        static func contentLength(_ head: ArraySlice<UInt8>) -> Int {
            let name = Array("content-length:".utf8)
            var i = head.startIndex
            while i + name.count <= head.endIndex {
                var match = true
                for k in 0..<name.count where head[i + k] | 0x20 != name[k] | 0x20 { match = false; break }
                if match {
                    var j = i + name.count
                    var v = 0
                    while j < head.endIndex, head[j] == 32 { j += 1 }
                    while j < head.endIndex, head[j] >= 48, head[j] <= 57 { v = v * 10 + Int(head[j] - 48); j += 1 }
                    return v
                }
                i += 1
            }
            return 0
        }
    }
}

extension StubServer: BenchBackend {
    /// The stub runs in the bench's process: that process's CPU (the queue-count probe included).
    var cpuSeconds: Double { WorkerBench.cpuSeconds(getpid()) }

    /// The stub's thread lives until the bench exits (one per worker run; nothing else to release).
    func stop() {}
}
