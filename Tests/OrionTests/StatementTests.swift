import Foundation
import Testing

@testable import Orion

@Suite("Statements: one statement, positional parameters, honest results")
struct StatementTests {
    let dir = TempDir()
    let store: SQLiteStore

    init() throws {
        store = try todoStore(dir)
    }

    @Test("SQL after the first statement is an error, not silently dropped")
    func trailingSQL() throws {
        let error = expectStoreError(.multipleStatements) {
            try store.exec("insert into todos (title) values ('a'); delete from todos")
        }
        #expect(error?.sql?.contains("delete from todos") == true)
        #expect(try Todos.all(store).isEmpty)
        expectStoreError(.multipleStatements) { let _: [Int] = try store.query("select 1; select 2") }
    }

    @Test("trailing semicolons, white space and comments are fine")
    func trailingNoise() throws {
        #expect(try store.one("select 1;  -- done\n /* really */ ;") == 1)
    }

    @Test("a parameter count that differs from the ? count names both counts", arguments: [0, 1, 3])
    func parameterCount(given: Int) throws {
        let params = Array(repeating: SQLValue.integer(1), count: given)
        let error = expectStoreError(.parameterCount) {
            try store.exec("update todos set done = ? where id = ?", params)
        }
        #expect(error?.message.contains("2 '?' parameters") == true)
        #expect(error?.message.contains("\(given) value") == true)
        // The variadic forms (bound without building [SQLValue]) check the same way.
        let bindables: [(any SQLBindable)?] = Array(repeating: 1, count: given)
        let variadic = expectStoreError(.parameterCount) {
            try store.exec("update todos set done = ? where id = ?", bindables: bindables)
        }
        #expect(variadic?.message == error?.message)
        expectStoreError(.parameterCount) { let _: Int? = try store.one("select ? + ?", 1) }
        expectStoreError(.parameterCount) { let _: [Int] = try store.query("select ?", 1, 2) }
    }

    @Test("named and numbered parameters are refused in favour of ?", arguments: [":id", "@id", "$id", "?1"])
    func namedParameters(name: String) throws {
        expectStoreError(.unsupportedParameter) {
            let _: [Int] = try store.query("select id from todos where id = \(name)", 1)
        }
    }

    @Test(
        "transaction control in feature SQL is refused and points to tx",
        arguments: [
            "begin", "begin immediate", "commit", "rollback", "savepoint a", "release a", "end",
        ])
    func transactionControl(sql: String) throws {
        let error = expectStoreError(.transactionControl) { try store.exec(sql) }
        #expect(error?.message.contains("tx") == true)
    }

    @Test("ATTACH is refused")
    func attach() throws {
        expectStoreError(.fence) { try store.exec("attach database ? as other", dir.path("other.db")) }
    }

    @Test("the pragmas the store sets cannot be changed by feature SQL, but can be read")
    func storePragmas() throws {
        expectStoreError(.fence) { try store.exec("pragma foreign_keys = off") }
        expectStoreError(.fence) { try store.exec("pragma journal_mode = delete") }
        expectStoreError(.fence) { try store.exec("pragma synchronous = off") }
        #expect(try store.one("pragma foreign_keys") == 1)
        #expect(try store.one("pragma journal_mode") == "wal")
    }

    @Test("double-quoted strings are identifiers, not string literals")
    func noDoubleQuotedStrings() throws {
        expectStoreError(.sql) { let _: [String] = try store.query("select title from todos where title = \"milk\"") }
    }

    @Test("a syntax error carries SQLite's message, extended code and the SQL")
    func syntaxError() throws {
        let error = expectStoreError(.sql) { try store.exec("selec 1") }
        #expect(error?.message.contains("syntax error") == true)
        #expect(error?.sqliteCode == 1)
        #expect(error?.description.contains("SQLITE_ERROR") == true)
        #expect(error?.description.contains("selec 1") == true)
    }

    @Test("a constraint error names the constraint and never the bound value")
    func constraintError() throws {
        try store.exec("create table users (email text not null unique)")
        try store.exec("insert into users (email) values (?)", "secret@example.com")
        let error = expectStoreError(.constraint) {
            try store.exec("insert into users (email) values (?)", "secret@example.com")
        }
        #expect(error?.sqliteCode == SQLiteCodes.constraintUnique)
        #expect(error?.description.contains("users.email") == true)
        #expect(error?.description.contains("secret") == false)
        #expect(error?.debugDescription.contains("secret") == false)
    }

    @Test("exec reports this statement's changes and inserted rowid")
    func execResults() throws {
        let first = try Todos.insert(store, "a")
        #expect(first == ExecResult(changes: 1, lastId: 1))
        try Todos.insert(store, "b")
        let update = try store.exec("update todos set done = 1")
        #expect(update == ExecResult(changes: 2, lastId: 0))
        let none = try store.exec("update todos set done = 1 where id = 99")
        #expect(none == ExecResult(changes: 0, lastId: 0))
        let ddl = try store.exec("create table other (id integer primary key)")
        #expect(ddl == ExecResult(changes: 0, lastId: 0))
        let read = try store.exec("select * from todos")
        #expect(read == ExecResult(changes: 0, lastId: 0))
        let delete = try store.exec("delete from todos")
        #expect(delete == ExecResult(changes: 2, lastId: 0))
    }

    @Test("an upsert that did nothing or only updated inserted no row, and says so")
    func upserts() throws {
        try store.exec("create table kv (k text primary key, v integer)")
        #expect(try store.exec("insert into kv values ('a', 1)") == ExecResult(changes: 1, lastId: 1))
        #expect(try store.exec("insert into kv values ('a', 2) on conflict do nothing") == ExecResult(changes: 0, lastId: 0))
        #expect(try store.exec("insert into kv values ('a', 3) on conflict (k) do update set v = excluded.v") == ExecResult(changes: 1, lastId: 0))
        #expect(try store.exec("insert into kv values ('b', 1) on conflict do nothing") == ExecResult(changes: 1, lastId: 2))
    }

    @Test("an insert whose trigger writes elsewhere reports the insert's own row")
    func triggers() throws {
        try store.exec("create table log (id integer primary key, note text)")
        try store.exec("insert into log (note) values ('x'), ('y'), ('z')")
        try store.exec("create trigger t after insert on todos begin insert into log (note) values ('added'); end")
        let result = try Todos.insert(store, "a")
        #expect(result == ExecResult(changes: 1, lastId: 1))
    }

    @Test("RETURNING works through query and one, on the writer")
    func returning() throws {
        let ids: [Int] = try store.query("insert into todos (title) values ('a'), ('b') returning id")
        #expect(ids == [1, 2])
        let id: Int? = try store.one("insert into todos (title) values ('c') returning id")
        #expect(id == 3)
        #expect(try Todos.all(store).count == 3)
    }

    @Test("prepared statements are cached and reused, per connection")
    func statementCache() throws {
        try Todos.insert(store, "first")
        let before = try store.writerCacheCount()
        for i in 0..<50 { try Todos.insert(store, "t\(i)") }
        #expect(try store.writerCacheCount() == before)
        try store.exec("update todos set done = 1 where id = ?", 1)
        #expect(try store.writerCacheCount() == before + 1)
    }

    @Test("a statement time limit stops a runaway query with a clear error")
    func timeLimit() throws {
        let limited = try SQLiteStore(path: dir.path("limited.db"), statementTimeLimit: .milliseconds(50))
        let error = expectStoreError(.interrupted) {
            let _: Int? = try limited.one("with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n")
        }
        #expect(error?.message.contains("time limit") == true)
        #expect(try limited.one("select 1") == 1)
    }

    @Test("a closed store throws on every call, and closing twice is fine")
    func closed() async throws {
        try store.close()
        try store.close()
        expectStoreError(.closed) { let _: [Todo] = try Todos.all(store) }
        expectStoreError(.closed) { try Todos.insert(store, "x") }
        expectStoreError(.closed) { try store.tx {} }
        expectStoreError(.closed) { try store.migrate("todos", Todos.migrations) }
        await #expect(throws: StoreError.self) { try await store.durable() }
    }

    @Test("every connection gets the store's pragmas")
    func pragmas() throws {
        let full = try SQLiteStore(path: dir.path("full.db"), synchronous: .full)
        #expect(try full.one("pragma synchronous") == 2)
        #expect(try store.one("pragma synchronous") == 1)
        #expect(try store.one("pragma busy_timeout") == 5000)
        let memory = try SQLiteStore(path: ":memory:")
        #expect(try memory.one("pragma journal_mode") == "memory")
        #expect(try memory.one("pragma foreign_keys") == 1)
    }

    @Test("opening a file that is not a database fails clearly")
    func notADatabase() throws {
        let path = dir.path("junk.db")
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
        expectStoreError(.misuse) { _ = try SQLiteStore(path: "") }
    }

    @Test("foreign keys are enforced")
    func foreignKeys() throws {
        try store.exec("create table parent (id integer primary key)")
        try store.exec("create table child (id integer primary key, parent_id integer not null references parent(id))")
        expectStoreError(.constraint) { try store.exec("insert into child (parent_id) values (1)") }
    }
}
