import Foundation
import Testing

@testable import Orion

/// Todos, and orders whose rows point at todos (owned by another feature), with every kind of
/// foreign-key action: the exemption for enforcement must admit SQLite's own checks and
/// cascades, and nothing a feature writes itself.
func ordersAndTodos(_ dir: TempDir) throws -> SQLiteStore {
    let store = try SQLiteStore(path: dir.path())
    try store.migrate(
        "todos",
        [
            "create table todos (id integer primary key, title text not null, slug text unique)",
            "insert into todos (id, title, slug) values (1, 'one', 'o'), (2, 'two', 't'), (3, 'three', 'h')",
        ])
    try store.migrate(
        "orders",
        [
            """
            create table orders (
                id integer primary key,
                todo_id integer references todos(id) on delete cascade on update cascade,
                note_todo integer references todos(id) on delete set null on update set null,
                todo_slug text references todos(slug),
                secret text
            )
            """,
            "insert into orders (todo_id, note_todo, secret) values (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c')",
        ])
    return store
}

@Suite("The fence's back doors: foreign keys are SQLite's, not a way in")
struct ForeignKeyFenceTests {
    let dir = TempDir()
    let store: SQLiteStore
    let todos: any Store
    let orders: any Store

    init() throws {
        store = try ordersAndTodos(dir)
        todos = store.scoped(to: "todos")
        orders = store.scoped(to: "orders")
    }

    @Test(
        "the parent's feature cannot touch the child table through the shape of a cascade",
        arguments: [
            "delete from orders",
            "delete from orders where todo_id = 1",
            "select todo_id from orders",
            "select count(*) from orders where note_todo = 2",
            "update orders set note_todo = null",
            "update orders set todo_id = 3 where todo_id = 1",
            "delete from todos where id in (select todo_id from orders)",
        ])
    func parentSide(sql: String) throws {
        let error = expectStoreError(.fence) { try todos.exec(sql) }
        #expect(error?.message.contains("'orders'") == true)
        #expect(try store.one("select count(*) from orders") == 3)
        #expect(try store.one("select count(*) from orders where note_todo is not null") == 3)
    }

    @Test(
        "the child's feature cannot read the parent's keys",
        arguments: [
            "select slug from todos",
            "select slug from todos where slug > 'a'",
            "insert into orders (todo_slug) select slug from todos",
            "select id from todos",
            "select count(*) from todos",
            "insert into orders (todo_id) select id from todos",
            "insert into orders (todo_id, secret) values (1, (select max(id) from todos))",
            "update orders set secret = (select min(id) from todos)",
        ])
    func childSide(sql: String) throws {
        let error = expectStoreError(.fence) { try orders.exec(sql) }
        #expect(error?.message.contains("'todos'") == true)
        #expect(try store.one("select count(*) from orders") == 3)
    }

    @Test("SQLite's own enforcement passes: parent lookups, cascades, SET NULL, ON UPDATE")
    func enforcementPasses() throws {
        try orders.exec("insert into orders (todo_id, secret) values (?, ?)", 2, "d")
        expectStoreError(.constraint) { try orders.exec("insert into orders (todo_id) values (?)", 99) }
        try orders.exec("insert into orders (todo_slug) values (?)", "t")
        expectStoreError(.constraint) { try orders.exec("insert into orders (todo_slug) values (?)", "nope") }
        try orders.exec("update orders set todo_id = ? where secret = ?", 3, "d")
        try todos.exec("update todos set id = ? where id = ?", 20, 2)
        #expect(try store.one("select count(*) from orders where todo_id = 20") == 1)
        try todos.exec("delete from todos where id = ?", 1)
        #expect(try store.one("select count(*) from orders where todo_id = 1") == 0)
        #expect(try store.one("select count(*) from orders where note_todo is null") == 3)
        // Run again: the cached statements keep working.
        try orders.exec("delete from orders where todo_slug = ?", "t")
        try todos.exec("delete from todos where id = ?", 3)
        #expect(try store.one("select count(*) from orders") == 1)
    }

    @Test("a statement cached before a foreign key appeared is proven again, and still cascades")
    func proofAfterSchemaChange() throws {
        try store.migrate("labels", ["create table labels (id integer primary key, name text)"])
        let labels = store.scoped(to: "labels")
        try labels.exec("insert into labels (id, name) values (1, 'x'), (2, 'y')")
        try labels.exec("delete from labels where id = ?", 2)
        try store.migrate("tags", ["create table tags (id integer primary key, label_id integer references labels(id) on delete cascade)"])
        try store.scoped(to: "tags").exec("insert into tags (label_id) values (1)")
        // The cached delete is re-prepared with a cascade into tags: SQLite's own, so it passes.
        try labels.exec("delete from labels where id = ?", 1)
        #expect(try store.one("select count(*) from tags") == 0)
        // The same shape written by the feature itself is refused.
        expectStoreError(.fence) { try labels.exec("delete from tags") }
    }

    @Test("a migration cannot write the child table another feature owns, whatever its keys")
    func migrationHasNoExemption() throws {
        let error = expectStoreError(.fence) {
            try store.migrate(
                "todos",
                [
                    "create table todos (id integer primary key, title text not null, slug text unique)",
                    "insert into todos (id, title, slug) values (1, 'one', 'o'), (2, 'two', 't'), (3, 'three', 'h')",
                    "delete from orders",
                ])
        }
        #expect(error?.message.contains("todos[2]") == true)
        #expect(try store.one("select count(*) from orders") == 3)
    }
}

@Suite("The fence's back doors: settings, SQLite's tables, TEMP objects, pointer functions")
struct StoreWideFenceTests {
    let dir = TempDir()
    let store: SQLiteStore
    let todos: any Store

    init() throws {
        store = try SQLiteStore(path: dir.path())
        try store.migrate("todos", ["create table todos (id integer primary key autoincrement, title text not null)"])
        try store.migrate("invoices", ["create table invoices (id integer primary key autoincrement, total integer)"])
        todos = store.scoped(to: "todos")
    }

    @Test(
        "pragmas that set something are refused to every store",
        arguments: [
            "pragma max_page_count = 2", "pragma wal_autocheckpoint = 0", "pragma case_sensitive_like = 1",
            "pragma defer_foreign_keys = on", "pragma cache_size = 1", "pragma main.journal_size_limit = 0",
            "pragma foreign_keys = off", "pragma synchronous = off", "pragma query_only = 1",
        ])
    func settingPragmas(sql: String) throws {
        let scoped = expectStoreError(.fence) { try todos.exec(sql) }
        #expect(scoped?.message.contains("pragma") == true)
        expectStoreError(.fence) { try store.exec(sql) }
        // Nothing changed: writes still work and still pass every check.
        try todos.exec("insert into todos (title) values (?)", "still writable")
        #expect(try store.one("pragma defer_foreign_keys") == false)
    }

    @Test("reading a setting or describing a table works; acting pragmas are the root store's")
    func readingPragmas() throws {
        #expect(try todos.one("pragma max_page_count") ?? 0 > 2)
        let columns: [String] = try todos.query("select name from pragma_table_info('todos')")
        #expect(columns == ["id", "title"])
        let described: [Row] = try todos.query("pragma table_info(todos)")
        #expect(described.count == 2)
        expectStoreError(.fence) { try todos.exec("pragma integrity_check") }
        expectStoreError(.fence) { try todos.exec("pragma foreign_key_check(invoices)") }
        expectStoreError(.fence) { try todos.exec("pragma user_version = 7") }
        try store.exec("pragma user_version = 7")
        #expect(try todos.one("pragma user_version") == 7)
        #expect(try store.one("pragma integrity_check") == "ok")
    }

    @Test(
        "SQLite's own tables are not feature SQL's to write",
        arguments: [
            "update sqlite_sequence set seq = 1000 where name = 'invoices'",
            "delete from sqlite_sequence",
            "insert into sqlite_sequence (name, seq) values ('invoices', 5)",
        ])
    func sqliteTables(sql: String) throws {
        try store.exec("insert into invoices (total) values (1)")
        expectStoreError(.fence) { try todos.exec(sql) }
        expectStoreError(.fence) { try store.exec(sql) }
        expectStoreError(.fence) { try store.migrate("todos", ["create table todos (id integer primary key autoincrement, title text not null)", sql]) }
        #expect(try store.one("select seq from sqlite_sequence where name = 'invoices'") == 1)
        // What SQLite writes there itself still works: AUTOINCREMENT, and dropping such a table.
        try todos.exec("insert into todos (title) values ('a')")
        try store.migrate("scratch", ["create table scratch (id integer primary key autoincrement)", "insert into scratch default values", "drop table scratch"])
    }

    @Test(
        "TEMP tables, views, triggers and indexes are refused to migrations and stores",
        arguments: [
            "create temp table invoices (id integer primary key, total integer)",
            "create table temp.invoices (id integer primary key, total integer)",
            "create temp view v as select 1",
            "create temp trigger t after insert on todos begin select 1; end",
            "create temp table copy as select * from todos",
        ])
    func temporaryObjects(sql: String) throws {
        let error = expectStoreError(.fence) { try store.migrate("todos", ["create table todos (id integer primary key autoincrement, title text not null)", sql]) }
        #expect(error?.message.contains("TEMP") == true)
        expectStoreError(.fence) { try store.exec(sql) }
        expectStoreError(.fence) { try todos.exec(sql) }
        // The fence still sees the real table.
        expectStoreError(.fence) { try todos.exec("insert into invoices (total) values (9)") }
    }

    @Test(
        "functions that hand out raw pointers are refused",
        arguments: [
            "select fts3_tokenizer('simple')", "select hex(fts3_tokenizer('simple'))", "select load_extension('x')",
        ])
    func pointerFunctions(sql: String) throws {
        let error = expectStoreError(.fence) { let _: [Row] = try todos.query(sql) }
        #expect(error?.message.contains("raw pointers") == true)
        expectStoreError(.fence) { let _: [Row] = try store.query(sql) }
    }
}
