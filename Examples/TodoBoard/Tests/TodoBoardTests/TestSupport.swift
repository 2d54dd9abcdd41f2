import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Orion
import OrionPostgres
import Synchronization
import Testing

@testable import TodoBoard

/// A fresh folder per test.
func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("todoboard-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The app on a fresh SQLite file (or PostgreSQL database), with its live pages for inspection.
struct Harness {
    let folder: URL
    let settings: Settings
    let backend: Backend
    let live: LivePages
    let app: any ApplicationProtocol

    init(heartbeat: Duration = .seconds(15), querySample: Double = 1, postgres: String? = nil, hostNames: [String] = []) throws {
        folder = temporaryFolder()
        var settings = Settings()
        settings.port = 0
        settings.database = folder.appendingPathComponent("app.db").path
        settings.postgresURL = postgres
        settings.heartbeat = heartbeat
        settings.querySample = querySample
        settings.hostNames = hostNames
        self.settings = settings
        backend = try openBackend(settings)
        var logger = Logger(label: "todos-test")
        logger.logLevel = .warning
        live = LivePages(backend: backend, settings: settings, logger: logger)
        app = makeApplication(settings: settings, backend: backend, live: live, logger: logger)
    }

    func test<Value>(_ setup: TestingSetup, _ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await app.test(setup, body)
    }

    /// The titles of every todo, in id order.
    func titles() throws -> [String] {
        try backend.todos.query("select title from todos order by id")
    }

    func todoCount() throws -> Int {
        try backend.todos.one("select count(*) from todos") ?? 0
    }

    func peopleCount() throws -> Int {
        try backend.people.one("select count(*) from people") ?? 0
    }
}

/// A form body, percent-encoded as a browser sends it.
func form(_ fields: KeyValuePairs<String, String>) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let body = fields.map { key, value in
        "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
    }.joined(separator: "&")
    return ByteBuffer(string: body)
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

extension TestClientProtocol {
    /// POSTs a form.
    func post(_ uri: String, _ fields: KeyValuePairs<String, String>) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: formHeaders, body: form(fields))
    }

    func get(_ uri: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}

/// The run's PostgreSQL server (`ORION_POSTGRES_URL`, which `scripts/test` sets), when there is one.
enum PG {
    static let url = ProcessInfo.processInfo.environment["ORION_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let created = Mutex<[String]>([])

    /// A new, empty database on it, dropped when the tests end; its URL.
    static func freshDatabase() throws -> String {
        let name = "orion_test_board_\(getpid())_\(UUID().uuidString.prefix(8).lowercased())"
        try admin.exec("create database \(name)")
        created.withLock { $0.append(name) }
        var parts = URLComponents(string: url!)!
        parts.path = "/" + name
        return parts.string!
    }

    static let admin: PostgresStore = {
        let store = try! PostgresStore(url: url!, poolSize: 1)
        atexit {
            for name in PG.created.withLock({ $0 }) {
                _ = try? PG.admin.exec("drop database if exists \(name) with (force)")
            }
        }
        return store
    }()
}
