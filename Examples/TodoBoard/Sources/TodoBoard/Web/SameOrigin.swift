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
/// - Another name for this server (DNS rebinding: a site whose name its owner points at
///   127.0.0.1 could read the board and the query panel): while listening on a loopback
///   address, a request whose `Host` is not a loopback address (read as an address, exactly:
///   `127.0.0.1.attacker.example` is a name, not an address), `localhost`, or one of the names
///   configured in `HOST_NAMES` is refused.
struct SameOrigin<Context: RequestContext>: RouterMiddleware {
    /// Whether the server listens on a loopback address only.
    let loopbackOnly: Bool
    /// Other names the server answers to (lowercased), from `HOST_NAMES`.
    let names: Set<String>

    init(listeningOn host: String, names: [String] = []) {
        loopbackOnly = Self.isLoopback(host)
        self.names = Set(names.map { $0.lowercased() })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority
        if loopbackOnly, let host {
            let name = Self.hostname(host)
            guard Self.isLoopback(name) || names.contains(name.lowercased()) else {
                let others = names.isEmpty ? "" : ", " + names.sorted().joined(separator: ", ")
                throw PageError(.forbidden, "This server answers to 127.0.0.1 and localhost\(others) only, not to \u{201C}\(host)\u{201D}.")
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

    /// Whether `host` is `localhost`, or a loopback address written as one: an IPv4 address
    /// of four decimal parts in 127.0.0.0/8, or IPv6 `::1` (bracketed or not).
    static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, bare, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { $0.elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) }
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
