import Foundation

/// A deliberately tiny HTTP/1.1 keep-alive responder for the worker benchmark, so the backend is not
/// the bottleneck being measured (the Python test backend tops out far below the broker). One thread
/// per connection; it reads a request head (and a Content-Length body) and answers at once.
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
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
            let t = Thread { [self] in serve(c) }
            t.stackSize = 256 << 10
            t.start()
        }
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var buf = [UInt8](repeating: 0, count: 65536)
        var pending: [UInt8] = []
        while true {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return }
            pending.append(contentsOf: buf[0..<n])
            while let end = headEnd(pending) {
                let head = String(decoding: pending[0..<end], as: UTF8.self).lowercased()
                var bodyLen = 0
                if let r = head.range(of: "content-length:") {
                    bodyLen = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)) ?? 0
                }
                guard pending.count >= end + 4 + bodyLen else { break }
                pending.removeFirst(end + 4 + bodyLen)
                lock.lock(); _requests += 1; lock.unlock()
                var status = "204 No Content"
                switch mode {
                case .noContent: break
                case .delay(let ms): usleep(useconds_t(ms * 1000))
                case .fail10PercentFirstAttempt:
                    if head.contains("x-cronq-attempt: 1\r"), let r = head.range(of: "idempotency-key: ") {
                        let key = head[r.upperBound...].prefix { $0 != "\r" }
                        if key.utf8.reduce(0, { ($0 &* 31 &+ Int($1)) & 0xFFFF }) % 10 == 0 { status = "503 Service Unavailable" }
                    }
                }
                let resp = Array("HTTP/1.1 \(status)\r\nContent-Length: 0\r\n\r\n".utf8)
                if write(c, resp, resp.count) != resp.count { return }
            }
        }
    }

    private func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}
