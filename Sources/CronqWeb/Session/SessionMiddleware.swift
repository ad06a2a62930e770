import Foundation
import HTTPTypes
import Hummingbird

/// Sessions, login, CSRF and security headers, in front of every route.
///
/// - Every browser gets a session cookie (HttpOnly, SameSite=Strict, `Secure` when the request came over
///   TLS through a proxy that says so with `X-Forwarded-Proto: https`).
/// - With a token configured, a page needs a logged-in session (GET: a redirect to `/login`; others: 401).
/// - Every request that is not GET or HEAD carries the session's CSRF token in its form (`_csrf`), the
///   login form included (a stranger's page cannot log a browser into anything): else 403.
/// - Every answer says: no framing, no sniffing, no referrer, scripts and styles only from cronq itself
///   (no inline script), and pages are not stored (they show message bodies and errors).
struct SessionMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let signer: SessionSigner
    static let cookieName = "cronq_session"
    /// Routes a browser reaches before logging in.
    static let open: Set<String> = ["/login", "/healthz", "/assets/app.css", "/assets/app.js"]

    func handle(
        _ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response
    ) async throws -> Response {
        let now = Int64(Date().timeIntervalSince1970)
        var context = context
        var request = request
        var issue: WebSession? = nil
        if let s = request.cookies[Self.cookieName].flatMap({ signer.verify($0.value, now: now) }) {
            context.session = s
        } else {
            context.session = signer.fresh(now: now)
            issue = context.session
        }
        context.csrf = signer.csrf(context.session)
        let path = request.uri.path
        var response: Response
        if !context.session.authenticated && !Self.open.contains(path) {
            response =
                request.method == .get || request.method == .head
                ? .redirect(to: "/login?next=" + Self.queryEscaped(request.uri.description), type: .found)
                : Self.plain(.unauthorized, "log in first: /login")
        } else if request.method != .get && request.method != .head {
            let body = try await request.collectBody(upTo: 1 << 20)
            context.form = FormBody(String(buffer: body))
            if let given = context.form["_csrf"], SessionSigner.constantTimeEqual(given, context.csrf) {
                response = try await next(request, context)
            } else {
                response = Self.plain(
                    .forbidden, "the form's CSRF token does not match this session: reload the page and try again")
            }
        } else {
            response = try await next(request, context)
        }
        if let login = response.headers[Self.sessionHeader] {
            // The login route asks for a new session (a fresh nonce: no fixation).
            response.headers[Self.sessionHeader] = nil
            issue = signer.fresh(now: now, authenticated: login == "authenticated")
        }
        if let s = issue {
            let secure = request.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https" ? "; Secure" : ""
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value:
                        "\(Self.cookieName)=\(signer.cookieValue(s)); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(signer.lifetime)\(secure)"
                ))
        }
        Self.secure(&response.headers, cacheable: path.hasPrefix("/assets/"))
        return response
    }

    /// A response header a route sets to have the middleware issue a new session (`authenticated` or `anonymous`).
    static let sessionHeader = HTTPField.Name("X-Cronq-Session")!

    static func secure(_ h: inout HTTPFields, cacheable: Bool) {
        h[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        h[HTTPField.Name("X-Frame-Options")!] = "DENY"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        h[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        h[.cacheControl] = cacheable ? "private, max-age=300" : "no-store"
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func queryEscaped(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"
    }
}
