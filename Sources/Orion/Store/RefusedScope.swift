/// What `scoped(to:)` returns for a feature name `migrate` would refuse: a store whose every
/// call throws the same error, so that a wrong name never stops the process (one rule for both
/// calls: a bad feature name throws).
package struct RefusedScope: Store {
    package let error: StoreError

    package init(feature: String, problem: String) {
        error = StoreError(.migration, "scoped(to: \"\(feature)\"): \(problem)")
    }

    package func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] { throw error }
    package func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? { throw error }
    package func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult { throw error }
    package func tx<T>(_ body: () throws -> T) throws -> T { throw error }
    package func migrate(_ feature: String, _ migrations: [String]) throws { throw error }
    package func durable() async throws { throw error }
    package func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T { throw error }
    @discardableResult
    package func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T { throw error }
}
