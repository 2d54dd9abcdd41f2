import Foundation

/// What the app reads from its environment, checked: a mistake stops it with a sentence that
/// names the variable and what it takes.
public struct Settings: Sendable {
    /// `HOST`: the address to listen on (default 127.0.0.1).
    public var host = "127.0.0.1"
    /// `PORT`: the port to listen on (default 8080; 0 picks a free one).
    public var port = 8080
    /// `ORION_DB`: the SQLite file (default `app.db` in the current folder).
    public var database = "app.db"
    /// `ORION_POSTGRES_URL`: when set, PostgreSQL instead of SQLite.
    public var postgresURL: String?
    /// `ORION_QUERY_SAMPLE`: the share of calls the query panel records, 0…1 (default 1; 0 turns
    /// instrumentation off).
    public var querySample = 1.0
    /// `HOST_NAMES`: the names the server answers to besides its IP addresses, `localhost` and
    /// `HOST` (comma-separated, such as `todo.local`); a request for any other name is refused.
    public var hostNames: [String] = []
    /// How often a quiet event stream sends a heartbeat.
    public var heartbeat: Duration = .seconds(15)

    public init() {}

    /// A problem with one variable.
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    public init(environment: [String: String]) throws {
        if let host = environment["HOST"] {
            guard !host.isEmpty else { throw Problem(description: "HOST is empty; give an address such as 127.0.0.1 or 0.0.0.0") }
            self.host = host
        }
        if let port = environment["PORT"] {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw Problem(description: "PORT is \"\(port)\"; give a port number from 0 to 65535 (0 picks a free one)")
            }
            self.port = value
        }
        if let database = environment["ORION_DB"] {
            guard !database.isEmpty else { throw Problem(description: "ORION_DB is empty; give the path of the SQLite file, such as app.db") }
            self.database = database
        }
        if let names = environment["HOST_NAMES"], !names.isEmpty {
            hostNames = names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let bad = hostNames.first(where: { $0.isEmpty || $0.contains(where: { ":/ ".contains($0) }) }) {
                throw Problem(description: "HOST_NAMES has \"\(bad)\"; give host names separated by commas, without ports, such as todo.local,board.lan")
            }
        }
        if let url = environment["ORION_POSTGRES_URL"], !url.isEmpty {
            postgresURL = url
        }
        if let sample = environment["ORION_QUERY_SAMPLE"] {
            guard let value = Double(sample), (0...1).contains(value) else {
                throw Problem(description: "ORION_QUERY_SAMPLE is \"\(sample)\"; give a share of calls from 0 to 1 (1 records every call, 0 none)")
            }
            querySample = value
        }
    }
}
