import CronqCore
public import CronqRuntime
import Foundation
import Hummingbird

extension Dashboard {
    func livePage(_ request: Request, _ context: WebContext) -> Response {
        let job = request.uri.queryParameters["job"].map(String.init) ?? ""
        return renderer.page(
            "live", title: "Live", nav: "live", context: context, dashboard: self,
            values: ["job": job, "jobQuery": job.isEmpty ? "" : "?job=\(Self.queryValue(job))"])
    }

    /// Server-Sent Events: one `data:` line of JSON per outcome event (optionally of one job), a comment
    /// every 15 s so proxies keep the stream open. A browser that falls behind by more than the feed's
    /// buffer (``LiveFeed/buffer``) misses the oldest events, not the newest.
    func liveEvents(_ request: Request) -> Response {
        let job = request.uri.queryParameters["job"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let stream = follower.feed.subscribe()
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": cronq live tail\n\n"))
            for await item in stream {
                switch item {
                case .ping:
                    try await writer.write(ByteBuffer(string: ": ping\n\n"))
                case .event(let e):
                    guard job == nil || e.job == job else { continue }
                    try await writer.write(ByteBuffer(string: LiveLine.format(e)))
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .init("X-Accel-Buffering")!: "no"],
            body: body)
    }

}

/// One outcome event as a Server-Sent Events message: `data: <one line of JSON>` and a blank line. JSON
/// escapes newlines, so no event text can end the `data:` line early or forge another field.
public enum LiveLine {
    public static func format(_ e: OutcomeEvent) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "data: \(json)\n\n"
    }
}
