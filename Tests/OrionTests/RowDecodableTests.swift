import Foundation
import Testing

@testable import Orion

/// A type that can be read only by its `init(row:)`: its `Decodable` form always throws, so a
/// call that returns it took the fast path.
struct OnlyByPosition: RowDecodable, Equatable {
    struct NotByName: Error {}
    let id: Int64
    let title: String
    let note: String?

    init(id: Int64, title: String, note: String?) {
        self.id = id
        self.title = title
        self.note = note
    }

    init(from decoder: any Decoder) throws { throw NotByName() }

    init(row: RowReader) throws {
        id = try row.int64(0)
        title = try row.string(1)
        note = try row.isNull(2) ? nil : row.string(2)
    }
}

@Suite("RowDecodable: the fast path on SQLite")
struct RowDecodableTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("orion-rowdecodable-\(UUID().uuidString).db")

    func store(queue: Bool = false) throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.path() + (queue ? "-queued" : ""), writeQueue: queue ? WriteQueue() : nil)
        try store.migrate("notes", ["create table notes (id integer primary key, title text not null, note text, n real)"])
        try store.exec("insert into notes (title, note, n) values ('a', 'x', 1.5), ('b', null, 2)")
        return store
    }

    @Test("query and one read by position through every SQLite store: root, scoped, instrumented, inside tx, with the write queue")
    func everyStore() throws {
        let store = try store()
        let events = Locked<[QueryEvent]>([])
        let instrumented = InstrumentedStore(store.scoped(to: "notes"), sample: 1) { event in
            events.withLock { $0.append(event) }
        }
        let sql = "select id, title, note from notes order by id"
        let expected = [OnlyByPosition(id: 1, title: "a", note: "x"), OnlyByPosition(id: 2, title: "b", note: nil)]
        for s: any Store in [store, store.scoped(to: "notes"), instrumented] {
            #expect(try s.query(sql) == expected)
            #expect(try s.one("select id, title, note from notes where id = ?", 2) == expected[1])
            #expect(try s.one("select id, title, note from notes where id = ?", 9) as OnlyByPosition? == nil)
            #expect(try s.tx { try s.query(sql) as [OnlyByPosition] } == expected)
        }
        #expect(events.withLock { $0.map(\.rows) } == [2, 1, 0, 2])
        #expect(events.withLock { $0.allSatisfy { $0.feature == "notes" } })
        // The fence holds on the fast path.
        try store.migrate("other", ["create table other (id integer primary key)"])
        #expect { let _: [OnlyByPosition] = try store.scoped(to: "other").query(sql) } throws: { ($0 as? StoreError)?.code == .fence }
        try store.close()

        let queued = try self.store(queue: true)
        try queued.exec("insert into notes (title) values ('c')")
        #expect((try queued.query(sql) as [OnlyByPosition]).map(\.title) == ["a", "b", "c"])
        try queued.close()
    }

    @Test("a write with RETURNING read by position finishes before one returns")
    func returning() throws {
        let store = try store()
        let row: OnlyByPosition? = try store.one("insert into notes (title) values (?) returning id, title, note", "c")
        #expect(row == OnlyByPosition(id: 3, title: "c", note: nil))
        #expect(try store.one("select count(*) from notes") == 3)
        try store.tx {
            let _: OnlyByPosition? = try store.one("update notes set note = 'y' where id = 3 returning id, title, note")
        }
        #expect(try store.one("select note from notes where id = 3") == "y")
    }

    @Test("what init(row:) reads wrong throws a decoding error naming the column")
    func errors() throws {
        let store = try store()
        func problem(_ sql: String) -> String? {
            do {
                let _: [OnlyByPosition] = try store.query(sql)
                return nil
            } catch let error as StoreError {
                #expect(error.code == .decoding)
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(problem("select id, title from notes")?.contains("init(row:) read column 2, and the statement returns 2 (id, title), counted from 0") == true)
        #expect(problem("select id, note, title from notes where id = 2")?.contains("column 'note' is NULL") == true)
        #expect(problem("select title, title, note from notes")?.contains("column 'title' holds TEXT") == true)
        #expect(problem("select n, title, note from notes where id = 1")?.contains("column 'n' holds a REAL that is not a whole number") == true)
        #expect(problem("select n, title, note from notes where id = 2") == nil)
    }

    @Test("the other accessors convert as the Decodable path does")
    func accessors() throws {
        enum Mood: String, Decodable { case calm }
        struct Everything: RowDecodable {
            let values: [String]
            init(from decoder: any Decoder) throws { throw OnlyByPosition.NotByName() }
            init(row: RowReader) throws {
                values = [
                    "\(row.columnCount)", try row.name(0), "\(try row.int(0))", "\(try row.bool(1))",
                    "\(try row.data(2).count)", "\(try row.date(3).timeIntervalSince1970)", try row.uuid(4).uuidString,
                    "\(try row.value(5))", "\(try row.decode(String?.self, at: 5) as Any)", "\(try row.decode(Mood.self, at: 6))",
                ]
            }
        }
        let store = try store()
        let row: Everything? = try store.one(
            "select 7 as seven, 1, x'0102', '2024-01-02 03:04:05', '6BA7B810-9DAD-11D1-80B4-00C04FD430C8', null, 'calm'")
        #expect(
            row?.values == [
                "7", "seven", "7", "true", "2", "1704164645.0", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "NULL", "nil", "calm",
            ])
    }
}
