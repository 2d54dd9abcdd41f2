/// A feature's view of a ``SQLiteStore``: the same connections, fenced to what the feature may
/// touch. Made by ``SQLiteStore/scoped(to:)``; it offers only the five methods, so it cannot
/// widen its scope, flush, or close the store it came from.
struct ScopedSQLiteStore: Store {
    let store: SQLiteStore
    let scope: Scope

    func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        try store.query(sql, .values(params), access: .scoped(scope))
    }

    func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        try store.one(sql, .values(params), access: .scoped(scope))
    }

    @discardableResult
    func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        try store.exec(sql, .values(params), access: .scoped(scope))
    }

    func query<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> [T] {
        try store.query(sql, .bindables(params), access: .scoped(scope))
    }

    func one<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> T? {
        try store.one(sql, .bindables(params), access: .scoped(scope))
    }

    @discardableResult
    func exec(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> ExecResult {
        try store.exec(sql, .bindables(params), access: .scoped(scope))
    }

    @discardableResult
    func tx<T>(_ body: () throws -> T) throws -> T {
        try store.tx(body)
    }

    func durable() async throws {
        try await store.durable()
    }

    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await store.read(body)
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await store.write(body)
    }

    func migrate(_ feature: String, _ migrations: [String]) throws {
        guard feature == scope.feature else {
            throw FenceRefusal.foreignMigrate(scope: scope.feature, feature: feature)
        }
        try store.migrate(feature, migrations)
    }
}
