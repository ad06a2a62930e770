internal import CCurl

/// The Swift side of one easy handle: its header list, its response buffer, and the retained box
/// that `CURLOPT_PRIVATE`, `CURLOPT_WRITEDATA` and `CURLOPT_HEADERDATA` point at.
final class Transfer {
    let id: UInt64
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var retained: Unmanaged<Transfer>?
    var excerpt: [UInt8] = []
    var bodyBytes = 0
    var retryAfter: String?
    var location: String?
    var bodyLimit = HTTPClient.bodyExcerptLimit

    let profile: Profile

    init(id: UInt64, handle: UnsafeMutableRawPointer, profile: Profile) {
        self.id = id
        self.handle = handle
        self.profile = profile
    }

    /// Frees the header list and drops the self-retain that kept the box alive while curl held it.
    func release() {
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        retained?.release()
        retained = nil
    }

    private func check(_ rc: CURLcode, _ what: String) throws {
        guard rc == CURLE_OK else {
            throw HTTPError(
                .invalidRequest, curlCode: Int(rc.rawValue),
                detail: "\(what): \(String(cString: curl_easy_strerror(rc)))")
        }
    }

    /// What a handle keeps between requests once set: a request with the same profile skips
    /// `curl_easy_reset` and these options (options are sticky in libcurl; the rest is set every time).
    struct Profile: Equatable {
        /// Upper case, as sent.
        var method: String
        var hasBody: Bool
        var proxy: String
        var caFile: String?

        init(_ request: HTTPRequest) {
            method = request.method.uppercased()
            hasBody = request.body != nil
            proxy = request.proxy
            caFile = request.caFile
        }

        /// Whether the request carries a body (possibly empty): all but HEAD and a GET without one.
        var sendsBody: Bool { method != "HEAD" && !(method == "GET" && !hasBody) }
    }

    /// Sets every option of `request` (whose profile is ``profile``) on a handle fresh from
    /// `curl_easy_init` or `curl_easy_reset`.
    func configure(_ request: HTTPRequest) throws {
        try check(cronq_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0), "redirects")
        // The path exactly as validated: libcurl would otherwise squash `/../` itself, and a path that
        // reaches here has no dot segments (JobMessage.pathProblem), so nothing is left to squash.
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_PATH_AS_IS, 1), "path as is")
        // "" turns off every proxy, including the ones http_proxy/https_proxy/all_proxy would choose.
        try check(cronq_curl_easy_setopt_string(handle, CURLOPT_PROXY, request.proxy), "proxy")
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1), "verify peer")
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2), "verify host")
        if let ca = request.caFile { try check(cronq_curl_easy_setopt_string(handle, CURLOPT_CAINFO, ca), "cainfo") }
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(cronq_curl_easy_setopt_write_callback(handle, transferWriteCallback), "write callback")
        try check(cronq_curl_easy_setopt_header_callback(handle, transferHeaderCallback), "header callback")
        if profile.method == "HEAD" {
            try check(cronq_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1), "head")
        } else if !profile.sendsBody {
            try check(cronq_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1), "get")
        } else if profile.method != "POST" {
            try check(cronq_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, profile.method), "method")
        }
        try configureRequest(request)
    }

    /// The options that differ from one request to the next of the same ``Profile``: set on every request.
    func configureRequest(_ request: HTTPRequest) throws {
        bodyLimit = request.bodyLimit
        let box = Unmanaged.passRetained(self)
        retained = box
        let me = box.toOpaque()
        try check(cronq_curl_easy_setopt_string(handle, CURLOPT_URL, request.url), "url")
        try check(cronq_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeout.milliseconds), "timeout")
        try check(
            cronq_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds),
            "connect timeout")
        try check(cronq_curl_easy_setopt_pointer(handle, CURLOPT_PRIVATE, me), "private")
        try check(cronq_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, me), "writedata")
        try check(cronq_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, me), "headerdata")
        if profile.sendsBody {
            let body = request.body ?? []
            try check(cronq_curl_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count), "body size")
            if body.isEmpty {
                try check(cronq_curl_easy_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, ""), "body")
            } else {
                try body.withUnsafeBufferPointer { b in
                    // COPYPOSTFIELDS copies, so the buffer need not outlive this scope.
                    let p = UnsafeMutableRawPointer(mutating: b.baseAddress!)
                    try check(cronq_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, p), "body")
                }
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        var line: [UInt8] = []
        line.reserveCapacity(256)
        var typed = false
        for (name, value) in request.headers {
            line.removeAll(keepingCapacity: true)
            guard Self.headerLine(name, value, into: &line) else {
                if let list { curl_slist_free_all(list) }
                throw HTTPError(.invalidRequest, detail: "header '\(name)' contains a line break or colon")
            }
            if !typed && name.utf8.count == 12 {
                typed = line.withUnsafeBytes { Self.isName(.init(rebasing: $0[..<12]), "content-type") }
            }
            list = line.withUnsafeBytes { curl_slist_append(list, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        }
        // No "Expect: 100-continue" round trip for small bodies.
        list = curl_slist_append(list, "Expect:")
        // libcurl labels every POST `application/x-www-form-urlencoded` unless told otherwise: a false
        // claim about a body cronq did not type (and about none at all, the usual cron call).
        if profile.sendsBody && !typed { list = curl_slist_append(list, "Content-Type:") }
        headerList = list
        try check(cronq_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list), "headers")
    }

    /// Writes `name: value` and the terminating NUL into `line`, or returns false when the name holds a
    /// line break or a colon, or the value a line break (either would let a job's header forge others).
    /// Into one reused buffer: cheaper than an interpolated `String` bridged to C per header.
    static func headerLine(_ name: String, _ value: String, into line: inout [UInt8]) -> Bool {
        // From each string's contiguous UTF-8 storage: scanned and copied as buffers, not byte by byte
        // through the strings' views (a job's eight headers cost about 7,000 instructions that way).
        var name = name
        var value = value
        return name.withUTF8 { n in
            value.withUTF8 { v in
                guard !n.contains(where: { $0 == 13 || $0 == 10 || $0 == UInt8(ascii: ":") }),
                    !v.contains(where: { $0 == 13 || $0 == 10 })
                else { return false }
                line.append(contentsOf: n)
                line.append(UInt8(ascii: ":"))
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: v)
                line.append(0)
                return true
            }
        }
    }

    func response(status: Int) -> HTTPResponse {
        HTTPResponse(
            status: status, retryAfter: retryAfter, location: location, bodyExcerpt: excerpt, bodyBytes: bodyBytes)
    }

    func appendBody(_ data: UnsafeRawBufferPointer) {
        bodyBytes += data.count
        let room = bodyLimit - excerpt.count
        if room > 0 { excerpt.append(contentsOf: data.prefix(room)) }
    }

    /// Called by curl for every response header line, so it works on bytes and makes a `String` only
    /// for the two headers cronq keeps (a `String` and a lowercased copy per line were 3-5% of the
    /// worker's CPU against nginx).
    func headerLine(_ data: UnsafeRawBufferPointer) {
        if data.starts(with: "HTTP/".utf8) {
            // A new response (after 100 Continue): forget the previous one's headers.
            retryAfter = nil
            location = nil
            return
        }
        guard let colon = data.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = UnsafeRawBufferPointer(rebasing: data[..<colon])
        let isRetryAfter = Self.isName(name, "retry-after")
        guard isRetryAfter || Self.isName(name, "location") else { return }
        let value = Self.trimmedValue(UnsafeRawBufferPointer(rebasing: data[(colon + 1)...]))
        if isRetryAfter { retryAfter = value } else { location = value }
    }

    /// Whether a header name is `lowercase`, ignoring ASCII case.
    static func isName(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        for k in 0..<bytes.count {
            let want = lowercase.utf8Start[k], got = bytes[k]
            guard got == want || (want >= UInt8(ascii: "a") && want <= UInt8(ascii: "z") && got == want - 32) else {
                return false
            }
        }
        return true
    }

    /// The value without surrounding spaces, tabs and line ends (header lines end in CRLF).
    static func trimmedValue(_ bytes: UnsafeRawBufferPointer) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        var start = 0, end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}

private let transferWriteCallback: cronq_curl_data_callback = { data, size, count, user in
    let n = size * count
    guard let user else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    t.appendBody(UnsafeRawBufferPointer(start: data, count: n))
    return n
}

private let transferHeaderCallback: cronq_curl_data_callback = { data, size, count, user in
    let n = size * count
    guard let user else { return 0 }
    let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
    t.headerLine(UnsafeRawBufferPointer(start: data, count: n))
    return n
}
