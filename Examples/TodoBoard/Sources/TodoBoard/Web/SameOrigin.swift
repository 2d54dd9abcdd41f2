import HTTPTypes
import Hummingbird

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Refuses what another web site could make a visitor's browser do here.
///
/// - A form posted from another origin (a page elsewhere that submits to this server, CSRF):
///   a write whose `Origin` is not this server, or whose `Sec-Fetch-Site` says it came from
///   another site, is refused with 403 and writes nothing. Tools that send neither (curl, tests)
///   are let through.
/// - Another name for this server (DNS rebinding: a site whose name its owner points at this
///   machine's address could read the board and the query panel): a request whose `Host` is
///   not an IP address (read as an address, exactly: `127.0.0.1.attacker.example` is a name),
///   `localhost`, the name the server listens on, or one of the names configured in
///   `HOST_NAMES` is refused — on every address, `0.0.0.0` included.
struct SameOrigin<Context: RequestContext>: RouterMiddleware {
    /// The names the server answers to besides IP addresses and `localhost` (lowercased).
    let names: Set<String>

    init(listeningOn host: String, names: [String] = []) {
        var all = Set(names.map { $0.lowercased() })
        if !Self.isAddress(host) { all.insert(host.lowercased()) }
        self.names = all
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority
        if let host {
            let name = Self.hostname(host)
            guard Self.isAddress(name) || name.lowercased() == "localhost" || names.contains(name.lowercased()) else {
                let others = names.isEmpty ? "" : ", " + names.sorted().joined(separator: ", ")
                throw PageError(
                    .forbidden,
                    "This server answers to its addresses, localhost\(others) only, not to \u{201C}\(host)\u{201D}; to use that name, add it to HOST_NAMES.")
            }
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

    /// Whether `host` is an IP address written as one: IPv4 as four decimal parts, or IPv6
    /// (bracketed or not). A DNS name, however much it looks like one, is not.
    static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return true }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v6 = in6_addr()
        return inet_pton(AF_INET6, bare, &v6) == 1
    }

    /// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`. A bracketed address followed
    /// by anything but a port (`[::1].example`) is not an address: it is returned whole.
    static func hostname(_ authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || rest.first == ":" && rest.dropFirst().allSatisfy(\.isNumber) else { return authority }
            return String(authority[...close])
        }
        return String(authority.split(separator: ":", maxSplits: 1).first ?? "")
    }
}
