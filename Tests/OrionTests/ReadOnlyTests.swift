import Foundation
import Testing

@testable import Orion

@Suite("Read-only and immutable opens")
struct ReadOnlyTests {
    let dir = TempDir()

    private func writerStore() throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("todos", ["create table todos (id integer primary key, title text not null)"])
        try store.exec("insert into todos (title) values ('a'), ('b')")
        return store
    }

    @Test("a read-only store reads, and refuses every write with a clear error before it reaches SQLite")
    func readOnly() throws {
        let writer = try writerStore()
        let store = try SQLiteStore(path: dir.path(), mode: .readOnly)
        #expect(store.mode == .readOnly)
        #expect(try store.query("select title from todos order by id") == ["a", "b"])
        let insert = expectStoreError(.readOnly) { try store.exec("insert into todos (title) values ('c')") }
        #expect(insert?.message.contains("opened read-only") == true)
        #expect(insert?.message.contains("mode: .readWrite") == true)
        expectStoreError(.readOnly) { try store.exec("update todos set title = 'x'") }
        expectStoreError(.readOnly) { try store.exec("delete from todos") }
        expectStoreError(.readOnly) { try store.exec("create table other (x)") }
        expectStoreError(.readOnly) { try store.exec("pragma user_version = 3") }
        expectStoreError(.fence) { try store.exec("create temp table scratch (x)") }  // TEMP objects: refused to every store
        // A statement that reads through `query` but writes (RETURNING) is refused as well.
        expectStoreError(.readOnly) { let _: [Int] = try store.query("insert into todos (title) values ('r') returning id") }
        // tx is a read transaction; a write in it is refused, and the reads go on.
        let count: Int = try store.tx {
            expectStoreError(.readOnly) { try store.exec("insert into todos (title) values ('in tx')") }
            return try store.one("select count(*) from todos")!
        }
        #expect(count == 2)
        // Scoped stores read their tables and write nothing.
        let todos = store.scoped(to: "todos")
        #expect(try todos.one("select count(*) from todos") == 2)
        expectStoreError(.readOnly) { try todos.exec("insert into todos (title) values ('s')") }
        #expect(try writer.one("select count(*) from todos") == 2)
        try store.close()
        try writer.close()
    }

    @Test("migrate on a read-only store checks the applied entries and applies none")
    func migrateReadOnly() throws {
        let writer = try writerStore()
        let store = try SQLiteStore(path: dir.path(), mode: .readOnly)
        try store.migrate("todos", ["create table todos (id integer primary key, title text not null)"])
        let pending = expectStoreError(.readOnly) {
            try store.migrate("todos", ["create table todos (id integer primary key, title text not null)", "alter table todos add column done integer"])
        }
        #expect(pending?.message.contains("migration todos[1] is not applied, and this store is read-only") == true)
        expectStoreError(.migration) { try store.migrate("todos", ["create table todos (id integer primary key)"]) }
        expectStoreError(.readOnly) { try store.migrate("fresh", ["create table fresh (x)"]) }
        try writer.close()
    }

    @Test("a read-only store sees and announces the commits of the program that writes")
    func seesTheWriter() async throws {
        let writer = try writerStore()
        let store = try SQLiteStore(path: dir.path(), mode: .readOnly)
        let changes = store.changes()
        try writer.exec("insert into todos (title) values ('c')")
        var iterator = changes.makeAsyncIterator()
        let change = await iterator.next()
        #expect(change?.isExternal == true)
        #expect(try store.one("select count(*) from todos") == 3)
        try writer.close()
    }

    @Test("an immutable open reads a file nothing writes, whatever its name")
    func immutable() throws {
        let writer = try writerStore()
        let name = dir.path("odd ?name#with%.db")
        try writer.backup(to: name)
        let store = try SQLiteStore(path: name, mode: .immutable)
        #expect(try store.query("select title from todos order by id") == ["a", "b"])
        expectStoreError(.readOnly) { try store.exec("delete from todos") }
        #expect(try store.one("pragma integrity_check") == "ok")
        try writer.close()
    }

    @Test("what cannot be opened read-only says why")
    func refusals() throws {
        let memory = expectStoreError(.misuse) { _ = try SQLiteStore(path: ":memory:", mode: .readOnly) }
        #expect(memory?.message.contains("in-memory database cannot be opened read-only") == true)
        _ = try writerStore()
        let queued = expectStoreError(.misuse) { _ = try SQLiteStore(path: dir.path(), writeQueue: WriteQueue(), mode: .readOnly) }
        #expect(queued?.message.contains("without a writeQueue") == true)
        let missing = expectStoreError(.io) { _ = try SQLiteStore(path: dir.path("missing.db"), mode: .readOnly) }
        #expect(missing?.message.contains("missing.db") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path("missing.db")), "a read-only open creates nothing")
    }
}
