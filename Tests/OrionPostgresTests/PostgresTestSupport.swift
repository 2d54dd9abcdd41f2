import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Synchronization
import Testing

/// The PostgreSQL server of the run: `ORION_POSTGRES_URL` (set by `scripts/test` and `.ci/run`,
/// which start a throwaway cluster). Every test gets a database of its own, created from it.
enum PG {
    static let url = ProcessInfo.processInfo.environment["ORION_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static var available: Bool { url != nil }
    static let skipReason: Comment = "ORION_POSTGRES_URL is not set; scripts/test sets it when PostgreSQL is installed"

    private static let counter = Locked(0)

    /// Databases this run created, dropped when the process exits.
    private static let created = Locked<[String]>([])

    /// The base URL with its database name replaced.
    static func url(database: String) -> String {
        var parts = URLComponents(string: url!)!
        parts.path = "/" + database
        return parts.string!
    }

    /// A new, empty database; its URL.
    static func freshDatabase() throws -> String {
        let n = counter.withLock { value in
            value += 1
            return value
        }
        let name = "orion_test_\(getpid())_\(n)"
        try admin.exec("create database \(name)")
        created.withLock { $0.append(name) }
        return url(database: name)
    }

    /// A store on the run's base database, for creating and dropping test databases.
    static let admin: PostgresStore = {
        let store = try! PostgresStore(url: url!, poolSize: 2)
        atexit {
            for name in PG.created.withLock({ $0 }) {
                _ = try? PG.admin.exec("drop database if exists \(name) with (force)")
            }
        }
        return store
    }()

    /// A store on a fresh database.
    /// Holds one of `store`'s connections in a `tx` on another thread until the returned
    /// function is called.
    static func holdConnection(of store: PostgresStore) -> @Sendable () -> Void {
        let holding = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? store.tx {
                holding.signal()
                done.wait()
            }
        }
        holding.wait()
        return { done.signal() }
    }

    static func freshStore(poolSize: Int = 8, poolTimeout: Duration = .seconds(10), statementTimeLimit: Duration? = nil) throws -> PostgresStore {
        try PostgresStore(url: freshDatabase(), poolSize: poolSize, poolTimeout: poolTimeout, statementTimeLimit: statementTimeLimit)
    }

    static let scope: @Sendable (any Store, String) -> any Store = { store, feature in
        (store as! PostgresStore).scoped(to: feature)
    }

    static let adapters: [Adapter] =
        available
        ? [
            Adapter(name: "PostgresStore", dialect: .postgres, make: { try freshStore() }, scope: scope),
            Adapter(
                name: "InstrumentedStore over PostgresStore", dialect: .postgres,
                make: {
                    InstrumentedStore(try freshStore(), sample: 1, onQuery: { _ in })
                },
                scope: { store, feature in
                    let base = (store as! InstrumentedStore).base as! PostgresStore
                    return InstrumentedStore(base.scoped(to: feature), sample: 1, onQuery: { _ in })
                }),
        ] : []
}

@Suite("PostgreSQL is there when CI says it is")
struct PostgresAvailabilityTests {
    @Test("CI runs the PostgreSQL suites, never skips them")
    func ciHasPostgres() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(PG.available, "CI must export ORION_POSTGRES_URL (.ci/run starts a cluster)")
        }
    }
}
