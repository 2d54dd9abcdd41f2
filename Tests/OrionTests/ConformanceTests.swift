import Foundation
import Orion
import StoreConformance
import Testing

/// SQLite's adapters, each a fresh database per check.
enum SQLiteAdapters {
    /// One folder for the run's databases, removed when the test process exits.
    static let folder: URL = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("orion-conformance-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: SQLiteAdapters.folder) }
        return dir
    }()

    /// A fresh database file's path in the run's folder.
    static func freshPath() -> String {
        folder.appendingPathComponent("\(UUID().uuidString).db").path
    }

    /// `scoped(to:)` of a `SQLiteStore` under test.
    static let scope: @Sendable (any Store, String) -> any Store = { store, feature in
        (store as! SQLiteStore).scoped(to: feature)
    }

    /// `changes()` / `changes(to:)` of a `SQLiteStore` under test.
    static let changes: @Sendable (any Store, Set<String>?) -> Changes = { store, tables in
        let store = store as! SQLiteStore
        return tables.map { store.changes(to: $0) } ?? store.changes()
    }

    static let all: [Adapter] = [
        Adapter(name: "SQLiteStore (file)", dialect: .sqlite, make: { try SQLiteStore(path: freshPath()) }, scope: scope, changes: changes),
        Adapter(name: "SQLiteStore (:memory:)", dialect: .sqlite, make: { try SQLiteStore(path: ":memory:") }, scope: scope, changes: changes),
        Adapter(
            name: "SQLiteStore (file, write queue)", dialect: .sqlite,
            make: { try SQLiteStore(path: freshPath(), writeQueue: WriteQueue()) }, scope: scope, changes: changes),
        Adapter(
            name: "InstrumentedStore over SQLiteStore", dialect: .sqlite,
            make: {
                InstrumentedStore(try SQLiteStore(path: freshPath()), sample: 1, onQuery: { _ in })
            },
            scope: { store, feature in
                let base = (store as! InstrumentedStore).base as! SQLiteStore
                return InstrumentedStore(base.scoped(to: feature), sample: 1, onQuery: { _ in })
            }),
    ]
}

@Suite("Conformance: the Store contract on SQLite's adapters")
struct SQLiteConformanceTests {
    @Test("values round-trip", arguments: SQLiteAdapters.all)
    func values(adapter: Adapter) throws { try Conformance.values(adapter) }

    @Test("rows and scalars decode", arguments: SQLiteAdapters.all)
    func decoding(adapter: Adapter) throws { try Conformance.decoding(adapter) }

    @Test("a RowDecodable type reads the same rows by position, fenced the same", arguments: SQLiteAdapters.all)
    func rowReading(adapter: Adapter) throws { try Conformance.rowReading(adapter) }

    @Test("writes report honest results and errors are clear", arguments: SQLiteAdapters.all)
    func writes(adapter: Adapter) throws { try Conformance.writesAndErrors(adapter) }

    @Test("transactions commit and roll back exactly their level", arguments: SQLiteAdapters.all)
    func transactions(adapter: Adapter) throws { try Conformance.transactions(adapter) }

    @Test("migrations are append-only and run once", arguments: SQLiteAdapters.all)
    func migrations(adapter: Adapter) throws { try Conformance.migrations(adapter) }

    @Test("the fence holds", arguments: SQLiteAdapters.all)
    func fence(adapter: Adapter) throws { try Conformance.fence(adapter) }

    @Test("changes", arguments: SQLiteAdapters.all)
    func changes(adapter: Adapter) async throws { try await Conformance.changes(adapter) }

    @Test("threads", arguments: SQLiteAdapters.all)
    func threads(adapter: Adapter) throws { try Conformance.threads(adapter) }

    @Test("a write whose returned rows do not decode is undone, as a failed call", arguments: SQLiteAdapters.all)
    func returning(adapter: Adapter) throws { try Conformance.returningRowsThatDoNotDecode(adapter) }

    @Test("lanes: write is one tx, read refuses writes, the fence holds, cancelled callers never run", arguments: SQLiteAdapters.all)
    func lanes(adapter: Adapter) async throws { try await Conformance.lanes(adapter) }
}
