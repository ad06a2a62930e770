/// `[web]`: the dashboard (`cronq web`). Its token is the one credential a browser is asked for; without one
/// the dashboard serves loopback only (see ``CronqConfig/WebSettings/listen``).
extension CronqConfig {
    public struct WebSettings: Sendable {
        /// The login token (`token`, or `token_file`); nil: no login (loopback listeners only).
        public var token: Secret? = nil
        /// `host:port` to listen on (the `--listen` flag overrides it).
        public var listen = "127.0.0.1:8080"
        /// No actions at all: run now, pause, resume, replay and purge are neither shown nor routed.
        public var readOnly = false
        /// The session cookie's lifetime; a browser logs in again after it.
        public var sessionLifetime: Duration = .seconds(12 * 3600)

        public init() {}
    }
}

extension Builder {
    /// `[web]`. A token shorter than 16 bytes is refused: it is all that stands between the network and
    /// "replay every dead letter".
    func webSettings(_ t: TableReader?) -> CronqConfig.WebSettings {
        var web = CronqConfig.WebSettings()
        guard let t else { return web }
        if let v = t.string("token") { web.token = secret(v, key: t.key("token"), minimumBytes: 16) }
        // Empty: no file (an unset `${VAR:-}`, as a shared config gives the services that do not serve pages).
        if let file = t.string("token_file"), !file.isEmpty {
            if t.has("token") { issues.add(nil, t.key("token_file"), "set token or token_file, not both") }
            web.token = readSecretFile(file, key: t.key("token_file")).flatMap {
                secret($0.reveal(), key: t.key("token_file"), minimumBytes: 16)
            }
        }
        if web.token?.isEmpty == true { web.token = nil }  // an unset `${VAR:-}`: no token
        if let l = t.string("listen") {
            if WebListen.parse(l) == nil {
                issues.add(nil, t.key("listen"), "'\(Printable.escaped(l))' is not host:port (e.g. 127.0.0.1:8080)")
            } else {
                web.listen = l
            }
        }
        if let r = t.bool("read_only") { web.readOnly = r }
        if let d = t.duration("session") {
            if d < .seconds(60) {
                issues.add(nil, t.key("session"), "must be at least 1m")
            } else {
                web.sessionLifetime = d
            }
        }
        t.finish(allowed: ["token", "token_file", "listen", "read_only", "session"])
        return web
    }
}

/// A `host:port` listen address, and whether it is loopback (where a dashboard without a token may listen).
public struct WebListen: Sendable, Equatable {
    public var host: String
    public var port: Int

    public static func parse(_ text: String) -> WebListen? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        return WebListen(host: host, port: port)
    }

    /// 127.0.0.0/8, ::1 and `localhost`: reachable from this machine only.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
