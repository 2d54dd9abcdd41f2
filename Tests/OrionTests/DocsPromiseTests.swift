import CSQLite
import Foundation
import Testing

@testable import Orion

/// What the articles promise of values, durability and feature names, each checked.
@Suite("What the articles promise: enums, durable() from a feature, decoding hints, feature names")
struct DocsPromiseTests {
    let dir = TempDir()

    enum Status: String, SQLBindable {
        case open, done
    }

    enum Priority: Int, SQLBindable {
        case low = 1
        case high = 3
    }

    @Test("an enum whose raw value binds needs only the declaration, and binds as its raw value")
    func rawValueEnums() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (status text, priority integer)"])
        try store.exec("insert into t (status, priority) values (?, ?)", Status.done, Priority.high)
        try store.exec("insert into t (status, priority) values (?, ?)", [Status.open.sqlValue, Priority.low.sqlValue])
        #expect(try store.query("select status from t order by rowid") == ["done", "open"])
        #expect(try store.query("select priority from t order by rowid") == [3, 1])
        #expect(try store.one("select typeof(priority) from t limit 1") == "integer")
        // A list for IN (…), the json_each way the SQLBindable documentation shows.
        let ids: [Int] = try store.query("select rowid from t where priority in (select value from json_each(?)) order by rowid", "[1,3]")
        #expect(ids == [1, 2])
    }

    @Test("a handler holding only its feature's store can wait for durability: durable() through a scoped and an instrumented store")
    func durableFromAFeature() async throws {
        let store = try todoStore(dir, writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)))
        let todos: any Store = store.scoped(to: "todos")
        let instrumented: any Store = InstrumentedStore(todos, sample: 1, onQuery: { _ in })
        func committed() throws -> Int {
            var db: OpaquePointer?
            sqlite3_open(dir.path(), &db)
            defer { sqlite3_close(db) }
            var statement: OpaquePointer?
            sqlite3_prepare_v2(db, "select count(*) from todos", -1, &statement, nil)
            defer { sqlite3_finalize(statement) }
            sqlite3_step(statement)
            return Int(sqlite3_column_int64(statement, 0))
        }
        try Todos.insert(todos, "a")
        #expect(try committed() == 0, "the batch is still open")
        // durable() waits for the batch; the 60 s delay is not what ends it: a commit after the
        // call started is, and the test makes one from another task.
        async let waited: Void = todos.durable()
        try await Task.sleep(for: .milliseconds(50))
        try store.flush()
        try await waited
        #expect(try committed() == 1)
        try Todos.insert(instrumented, "b")
        async let again: Void = instrumented.durable()
        try await Task.sleep(for: .milliseconds(50))
        try store.flush()
        try await again
        #expect(try committed() == 2)
        // A store whose writes commit when their call returns answers at once.
        let other = TempDir()
        let plain: any Store = try SQLiteStore(path: other.path())
        try await plain.durable()
    }

    @Test("a camelCase property over a snake_case column: the error says how to map it")
    func camelCaseHint() throws {
        struct Child: Decodable { let parentId: Int }
        let store = try SQLiteStore(path: dir.path())
        let error = expectStoreError(.decoding) { let _: [Child] = try store.query("select 1 as parent_id") }
        #expect(error?.message.contains("(parent_id as parentId)") == true, "\(String(describing: error))")
        #expect(error?.message.contains("case parentId = \"parent_id\"") == true, "\(String(describing: error))")
    }

    @Test("a feature name migrate refuses: scoped(to:) gives a store whose every call throws the same refusal")
    func badFeatureName() async throws {
        let store = try todoStore(dir)
        let migrateError = expectStoreError(.migration) { try store.migrate("bad name", ["create table x (a)"]) }
        let bad = store.scoped(to: "bad name")
        let error = expectStoreError(.migration) { let _: [Int] = try bad.query("select 1") }
        #expect(error?.message == "scoped(to: \"bad name\"): " + (migrateError?.message ?? ""))
        expectStoreError(.migration) { try bad.exec("insert into todos (title) values ('x')") }
        expectStoreError(.migration) { try bad.tx {} }
        await #expect(throws: StoreError.self) { try await bad.durable() }
        #expect(try Todos.all(store).isEmpty)
    }
}
