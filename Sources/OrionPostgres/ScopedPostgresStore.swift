import Orion

/// A feature's view of a ``PostgresStore``: the same pool, each statement run as the feature's role.
struct ScopedPostgresStore: Store, FeatureScoped {
    let store: PostgresStore
    let feature: String
    let role: String

    var scopeFeature: String { feature }
    private var access: PostgresStore.Access { .scoped(feature: feature, role: role) }

    func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        try store.query(sql, params, access: access)
    }

    func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        try store.one(sql, params, access: access)
    }

    @discardableResult
    func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        try store.exec(sql, params, access: access)
    }

    @discardableResult
    func tx<T>(_ body: () throws -> T) throws -> T {
        try store.tx(body)
    }

    func migrate(_ feature: String, _ migrations: [String]) throws {
        guard feature == self.feature else {
            throw FenceRefusal.foreignMigrate(scope: self.feature, feature: feature)
        }
        try store.migrate(feature, migrations)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await store.read(body)
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await store.write(body)
    }
}
