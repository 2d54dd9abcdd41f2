import Foundation
import Orion
import Testing

@Suite("Large results: rows gathered in chunks and handed over once")
struct RowCollectorTests {
    struct Entry: Decodable, Equatable {
        let id: Int
        let label: String
        let note: String?
    }

    func store(rows: Int) throws -> SQLiteStore {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("orion-collector-\(UUID().uuidString).db").path
        let store = try SQLiteStore(path: path)
        try store.migrate(
            "entries",
            [
                "create table entries (id integer primary key, label text not null, note text)",
                // Labels longer than a small string, so every row owns heap memory.
                "with recursive c(value) as (select 1 union all select value + 1 from c where value < \(rows)) insert into entries (id, label, note) select value, 'a label long enough to live on the heap ' || value, case when value % 3 = 0 then null else 'n' || value end from c",
            ])
        return store
    }

    @Test("a result far past the spill size comes back whole and in order, for Decodable and RowDecodable types")
    func large() throws {
        let store = try store(rows: 120_000)
        let rows: [Entry] = try store.query("select id, label, note from entries order by id")
        #expect(rows.count == 120_000)
        #expect(rows.enumerated().allSatisfy { i, row in row.id == i + 1 && row.label.hasSuffix(" \(i + 1)") && (row.note == nil) == ((i + 1) % 3 == 0) })
        let fast: [OnlyByPosition] = try store.query("select id, label, note from entries order by id")
        #expect(fast.count == 120_000 && fast.last?.title.hasSuffix(" 120000") == true)
    }

    @Test("a row that fails to decode past the spill size throws, and the rows gathered are freed")
    func failsMidway() throws {
        let store = try store(rows: 90_000)
        #expect {
            let _: [Entry] = try store.query("select id, case when id = 80000 then null else label end as label, note from entries order by id")
        } throws: { ($0 as? StoreError)?.code == .decoding }
        // The store goes on.
        #expect(try store.one("select count(*) from entries") == 90_000)
    }
}
