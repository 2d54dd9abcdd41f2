import HTTPTypes
import Hummingbird

/// Refuses what another web site could make a visitor's browser do here.
///
/// - A form posted from another origin (a page elsewhere that submits to this server, CSRF):
///   a write whose `Origin` is not this server, or whose `Sec-Fetch-Site` says it came from
///   another site, is refused with 403 and writes nothing. Tools that send neither (curl, tests)
///   are let through.
/// - Another name for this server (DNS rebinding: a site whose name its owner points at
///   127.0.0.1 could read the board and the query panel): while listening on a loopback
///   address, a request whose `Host` is not a loopback name is refused.
struct SameOrigin<Context: RequestContext>: RouterMiddleware {
    /// Whether the server listens on a loopback address only.
    let loopbackOnly: Bool

    init(listeningOn host: String) {
        loopbackOnly = Self.isLoopback(host)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority
        if loopbackOnly, let host, !Self.isLoopback(Self.hostname(host)) {
            throw PageError(.forbidden, "This server answers to 127.0.0.1 and localhost only, not to \u{201C}\(host)\u{201D}.")
        }
        if ![.get, .head, .options].contains(request.method) {
            if let origin = request.headers[.origin] {
                let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
                guard origin != "null", let authority, authority == host else {
                    throw PageError(.forbidden, "A form from \u{201C}\(origin)\u{201D} cannot change this board; use the board's own page.")
                }
            } else if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
                throw PageError(.forbidden, "A form from another site (\(site)) cannot change this board; use the board's own page.")
            }
        }
        return try await next(request, context)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
    static func hostname(_ authority: String) -> String {
        if authority.hasPrefix("[") { return String(authority.prefix { $0 != "]" }) + "]" }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }
}
