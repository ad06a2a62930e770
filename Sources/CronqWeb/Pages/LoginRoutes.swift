import Foundation
import Hummingbird
import Logging

extension Dashboard {
    func loginPage(_ request: Request, _ context: WebContext) -> Response {
        if context.session.authenticated {
            return .redirect(to: safeNext(request.uri.queryParameters["next"].map(String.init)), type: .found)
        }
        return renderer.page(
            "login", title: "Log in", nav: "", context: context, dashboard: self,
            values: ["next": request.uri.queryParameters["next"].map(String.init) ?? "/jobs"])
    }

    /// Checks the token; a wrong one waits a second before answering (a slow guess is a useless guess) and
    /// is logged without what was typed.
    func login(_ request: Request, _ context: WebContext) async throws -> Response {
        let next = safeNext(context.form["next"])
        guard let given = context.form["token"], signer.checkToken(given) else {
            logger.warning(
                "web login refused",
                metadata: ["peer": "\(request.headers[values: .init("X-Forwarded-For")!].first ?? "-")"])
            try await Task.sleep(for: .seconds(1))
            return renderer.page(
                "login", title: "Log in", nav: "", context: context, dashboard: self,
                values: ["next": next, "error": "That is not the dashboard's token."], status: .unauthorized)
        }
        var r = Response.redirect(to: next, type: .found)
        r.headers[SessionMiddleware.sessionHeader] = "authenticated"
        return r
    }

    /// Only a path on this site (`/jobs`), never `//elsewhere` or a URL: no open redirect.
    func safeNext(_ next: String?) -> String {
        guard let n = next, n.hasPrefix("/"), !n.hasPrefix("//"), !n.contains("\\") else { return "/jobs" }
        return n
    }
}
