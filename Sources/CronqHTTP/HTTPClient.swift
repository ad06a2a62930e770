internal import CCurl

#if canImport(Glibc)
    import Glibc
#endif

/// Many concurrent HTTP requests on one libcurl multi handle (connections are reused, HTTP/1.1
/// keep-alive).
///
/// **Threading.** libcurl forbids sharing a multi or easy handle between threads, so this class is not
/// `Sendable`: create it on the thread that drives it and call it only there. That thread calls
/// ``start(_:id:)`` for new requests and ``poll(timeout:extraDescriptors:)`` in its loop; the only
/// call that is safe from another thread is ``Waker/wake()``, which interrupts a poll.
///
/// **One loop for every socket.** ``poll(timeout:extraDescriptors:)`` waits on the transfers *and* on
/// other file descriptors (the AMQP sockets), so a single thread can drive the broker and the backend.
///
/// TLS peer and host verification are always on; redirects are never followed; only http and https.
public final class HTTPClient {
    /// How many body bytes a response keeps.
    public static let bodyExcerptLimit = 2048

    private let multi: UnsafeMutableRawPointer
    private var transfers: [UInt64: Transfer] = [:]
    /// Handles between requests, with the profile they are configured for (nil: unknown, reset first).
    private var idleHandles: [(handle: UnsafeMutableRawPointer, profile: Transfer.Profile?)] = []
    private var finished: [(id: UInt64, result: Result<HTTPResponse, HTTPError>)] = []

    /// Interrupts a ``HTTPClient/poll(timeout:extraDescriptors:)`` from any thread.
    public struct Waker: @unchecked Sendable {
        // curl_multi_wakeup is the one libcurl call documented as safe from another thread.
        fileprivate let multi: UnsafeMutableRawPointer
        public func wake() { _ = curl_multi_wakeup(multi) }
    }

    /// - Parameter keepConnections: how many connections (busy and idle) the client keeps open for reuse;
    ///   give at least the number of concurrent requests. libcurl's default is four times the number of
    ///   requests in flight *at the moment a request ends*: after a burst finishes together it falls to a
    ///   few, and the connections that served the burst are closed, to be opened again by the next one.
    public init(maxConnectionsPerHost: Int = 0, keepConnections: Int = 0) {
        HTTPClient.globalInit
        guard let multi = curl_multi_init() else { preconditionFailure("curl_multi_init returned NULL") }
        self.multi = multi
        if maxConnectionsPerHost > 0 {
            _ = cronq_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        }
        if keepConnections > 0 {
            _ = cronq_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, keepConnections)
        }
    }

    /// A waker bound to this client; valid as long as the client lives.
    public var waker: Waker { Waker(multi: multi) }

    deinit {
        for (_, t) in transfers {
            curl_multi_remove_handle(multi, t.handle)
            curl_easy_cleanup(t.handle)
            t.release()
        }
        for h in idleHandles { curl_easy_cleanup(h.handle) }
        curl_multi_cleanup(multi)
    }

    /// curl_global_init is not thread-safe; a lazy static runs it exactly once.
    private static let globalInit: Void = {
        let rc = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        precondition(rc == CURLE_OK, "curl_global_init failed")
    }()

    public var inFlight: Int { transfers.count }

    /// Starts a request; its result comes back from ``poll(timeout:extraDescriptors:)`` under `id`.
    /// A request that cannot even be started (bad URL scheme) completes at once with `.invalidRequest`.
    public func start(_ request: HTTPRequest, id: UInt64) {
        precondition(transfers[id] == nil, "request id \(id) is already in flight")
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            finished.append((id, .failure(HTTPError(.invalidRequest, detail: "only http:// and https:// URLs"))))
            return
        }
        // A handle last used for a request of the same profile keeps those options: only what differs per
        // request is set (a reset and the full set of options cost more than a few setopt calls).
        let profile = Transfer.Profile(request)
        let handle: UnsafeMutableRawPointer
        var configured = false
        if let i = idleHandles.lastIndex(where: { $0.profile == profile }) {
            handle = idleHandles.remove(at: i).handle
            configured = true
        } else if let h = idleHandles.popLast() {
            curl_easy_reset(h.handle)
            handle = h.handle
        } else {
            guard let h = curl_easy_init() else { preconditionFailure("curl_easy_init returned NULL") }
            handle = h
        }
        let transfer = Transfer(id: id, handle: handle, profile: profile)
        do {
            if configured { try transfer.configureRequest(request) } else { try transfer.configure(request) }
        } catch let error as HTTPError {
            transfer.release()
            idleHandles.append((handle, nil))
            finished.append((id, .failure(error)))
            return
        } catch {
            preconditionFailure("Transfer.configure throws only HTTPError")
        }
        let rc = curl_multi_add_handle(multi, handle)
        precondition(rc == CURLM_OK, "curl_multi_add_handle failed: \(rc)")
        transfers[id] = transfer
    }

    /// Drives the transfers: waits up to `timeout` for network activity on them or for one of
    /// `extraDescriptors` to become readable, performs what is ready, and returns the requests that
    /// finished. Returns early when ``Waker/wake()`` is called, or at once if results are already waiting.
    ///
    /// - Returns: finished requests, and which extra descriptors became readable.
    public func poll(timeout: Duration, extraDescriptors: [Int32] = []) -> (
        finished: [(id: UInt64, result: Result<HTTPResponse, HTTPError>)], readable: [Int32]
    ) {
        var running: Int32 = 0
        _ = curl_multi_perform(multi, &running)
        collect()
        var readable: [Int32] = []
        if finished.isEmpty {
            var numfds: Int32 = 0
            let ms = Int32(clamping: max(timeout.milliseconds, 0))
            var waits = extraDescriptors.map { curl_waitfd(fd: $0, events: Int16(CURL_WAIT_POLLIN), revents: 0) }
            _ = waits.withUnsafeMutableBufferPointer { buffer in
                curl_multi_poll(multi, buffer.baseAddress, UInt32(buffer.count), ms, &numfds)
            }
            readable = waits.filter { $0.revents != 0 }.map(\.fd)
            _ = curl_multi_perform(multi, &running)
            collect()
        }
        let done = finished
        finished.removeAll(keepingCapacity: true)
        return (done, readable)
    }

    /// Runs requests to completion on the calling thread (for the CLI and tests).
    public func perform(_ requests: [HTTPRequest]) -> [Result<HTTPResponse, HTTPError>] {
        var results = [Result<HTTPResponse, HTTPError>?](repeating: nil, count: requests.count)
        let base = UInt64.random(in: 1...(UInt64.max / 2))
        for (i, r) in requests.enumerated() { start(r, id: base + UInt64(i)) }
        var remaining = requests.count
        while remaining > 0 {
            for (id, result) in poll(timeout: .seconds(1)).finished {
                results[Int(id - base)] = result
                remaining -= 1
            }
        }
        return results.map { $0! }
    }

    private func collect() {
        var left: Int32 = 0
        while let msg = curl_multi_info_read(multi, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let handle = msg.pointee.easy_handle else { continue }
            let code = msg.pointee.data.result
            var raw: UnsafeMutableRawPointer? = nil
            _ = cronq_curl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &raw)
            guard let raw else { preconditionFailure("transfer without CURLOPT_PRIVATE") }
            let transfer = Unmanaged<Transfer>.fromOpaque(raw).takeUnretainedValue()
            curl_multi_remove_handle(multi, handle)
            transfers[transfer.id] = nil
            let result: Result<HTTPResponse, HTTPError>
            if code == CURLE_OK {
                var status: Int = 0
                _ = cronq_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
                result = .success(transfer.response(status: status))
            } else {
                result = .failure(Self.error(code))
            }
            transfer.release()
            idleHandles.append((handle, transfer.profile))
            finished.append((transfer.id, result))
        }
    }

    static func error(_ code: CURLcode) -> HTTPError {
        let text = String(cString: curl_easy_strerror(code))
        let kind: HTTPError.Code
        switch code {
        case CURLE_COULDNT_CONNECT: kind = .connectRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .dns
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            kind = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2_STREAM:
            kind = .reset
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: kind = .invalidRequest
        default: kind = .transport
        }
        return HTTPError(kind, curlCode: Int(code.rawValue), detail: text)
    }
}
