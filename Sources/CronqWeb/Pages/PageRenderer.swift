import CronqCore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The Mustache templates and static assets, compiled into the binary (SwiftPM `embedInCode` resources:
/// nothing to install beside it, nothing fetched from a CDN), and the one way a page becomes a response.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    /// Every template, by the name pages use (`head` and `foot` are the partials every page includes).
    static let templates: [String: [UInt8]] = [
        "head": PackageResources.head_mustache, "foot": PackageResources.foot_mustache,
        "login": PackageResources.login_mustache, "jobs": PackageResources.jobs_mustache,
        "job": PackageResources.job_mustache, "queues": PackageResources.queues_mustache,
        "dead": PackageResources.dead_mustache, "dead_show": PackageResources.dead_show_mustache,
        "confirm": PackageResources.confirm_mustache, "live": PackageResources.live_mustache,
        "workers": PackageResources.workers_mustache, "message": PackageResources.message_mustache,
    ]

    static let assets: [String: (bytes: [UInt8], type: String)] = [
        "/assets/app.css": (PackageResources.app_css, "text/css; charset=utf-8"),
        "/assets/app.js": (PackageResources.app_js, "text/javascript; charset=utf-8"),
    ]

    init() throws {
        var library = MustacheLibrary()
        for (name, bytes) in Self.templates {
            try library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        self.library = library
    }

    /// Renders `template` with the page's values and the ones every page needs (navigation, CSRF token).
    func page(
        _ template: String, title: String, nav: String, context: WebContext, dashboard: Dashboard,
        values: [String: Any], status: HTTPResponse.Status = .ok
    ) -> Response {
        var all = values
        all["title"] = title
        all["nav_\(nav)"] = true
        all["csrf"] = context.csrf
        all["actions"] = !dashboard.readOnly
        all["readOnly"] = dashboard.readOnly
        all["loggedIn"] = dashboard.signer.requiresLogin && context.session.authenticated
        all["prefix"] = dashboard.names.prefix
        let html = library.render(all, withTemplate: template) ?? "template \(template) is missing"
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A short page that says what happened (an action's result, an error) with a link on.
    func message(
        _ text: String, title: String, back: String, context: WebContext, dashboard: Dashboard,
        status: HTTPResponse.Status = .ok, error: Bool = false
    ) -> Response {
        page(
            "message", title: title, nav: "", context: context, dashboard: dashboard,
            values: ["text": text, "back": back, "error": error], status: status)
    }
}
