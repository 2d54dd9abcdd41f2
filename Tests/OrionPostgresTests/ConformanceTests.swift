import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Testing

@Suite("Conformance: the Store contract on PostgreSQL's adapters", .enabled(if: PG.available, PG.skipReason))
struct PostgresConformanceTests {
    @Test("values round-trip", arguments: PG.adapters)
    func values(adapter: Adapter) throws { try Conformance.values(adapter) }

    @Test("rows and scalars decode", arguments: PG.adapters)
    func decoding(adapter: Adapter) throws { try Conformance.decoding(adapter) }

    @Test("a RowDecodable type reads the same rows by position, fenced the same", arguments: PG.adapters)
    func rowReading(adapter: Adapter) throws { try Conformance.rowReading(adapter) }

    @Test("writes report honest results and errors are clear", arguments: PG.adapters)
    func writes(adapter: Adapter) throws { try Conformance.writesAndErrors(adapter) }

    @Test("transactions commit and roll back exactly their level", arguments: PG.adapters)
    func transactions(adapter: Adapter) throws { try Conformance.transactions(adapter) }

    @Test("migrations are append-only and run once", arguments: PG.adapters)
    func migrations(adapter: Adapter) throws { try Conformance.migrations(adapter) }

    @Test("the fence holds", arguments: PG.adapters)
    func fence(adapter: Adapter) throws { try Conformance.fence(adapter) }

    @Test("changes", arguments: PG.adapters)
    func changes(adapter: Adapter) async throws { try await Conformance.changes(adapter) }

    @Test("threads", arguments: PG.adapters)
    func threads(adapter: Adapter) throws { try Conformance.threads(adapter) }

    @Test("a write whose returned rows do not decode is undone, as a failed call", arguments: PG.adapters)
    func returning(adapter: Adapter) throws { try Conformance.returningRowsThatDoNotDecode(adapter) }

    @Test("lanes: write is one tx, read refuses writes, the fence holds, cancelled callers never run", arguments: PG.adapters)
    func lanes(adapter: Adapter) async throws { try await Conformance.lanes(adapter) }
}
