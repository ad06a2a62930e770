public import Hummingbird

/// The request context of every dashboard route: the session the middleware checked, and the form body it
/// read (to check the CSRF token) for the handler to use.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var session = WebSession(nonce: "", expires: 0, authenticated: false)
    var form = FormBody()
    /// The session's CSRF token, for the forms a page renders.
    var csrf = ""

    public init(source: Source) { coreContext = .init(source: source) }
}
