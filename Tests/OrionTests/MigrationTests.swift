import Foundation
import Testing

@testable import Orion

@Suite("Migrations: append-only, forward-only, once each")
struct MigrationTests {
    let dir = TempDir()
    let store: SQLiteStore

    init() throws {
        store = try SQLiteStore(path: dir.path())
    }

    struct Record: Decodable, Equatable {
        let feature: String
        let idx: Int
        let sha256: String
    }

    @Test("entries run in order, are recorded per feature, and run once")
    func appliesOnce() throws {
        let entries = [
            "create table notes (id integer primary key, body text not null)",
            "insert into notes (body) values ('seeded')",
        ]
        try store.migrate("notes", entries)
        try store.migrate("notes", entries)
        #expect(try store.one("select count(*) from notes") == 1)
        let records: [Record] = try store.query("select feature, idx, sha256 from _orion_migrations order by idx")
        #expect(
            records == [
                Record(feature: "notes", idx: 0, sha256: SHA256.hex(entries[0])),
                Record(feature: "notes", idx: 1, sha256: SHA256.hex(entries[1])),
            ])
        let appliedAt: Date? = try store.one("select applied_at from _orion_migrations where idx = 0")
        #expect(appliedAt.map { abs($0.timeIntervalSinceNow) < 60 } == true)
    }

    @Test("appending an entry runs only the new one")
    func appends() throws {
        var entries = ["create table notes (id integer primary key)", "insert into notes default values"]
        try store.migrate("notes", entries)
        entries.append("insert into notes default values")
        try store.migrate("notes", entries)
        #expect(try store.one("select count(*) from notes") == 2)
    }

    @Test("a failing entry is rolled back whole, names feature, index and SQLite's message, and earlier entries stay")
    func failingEntry() throws {
        let error = expectStoreError(.migration) {
            try store.migrate(
                "notes",
                [
                    "create table notes (id integer primary key)",
                    "create table drafts (id integer primary key); insert into drafts default values; insert into nowhere values (1)",
                ])
        }
        #expect(error?.message.contains("notes[1]") == true)
        #expect(error?.message.contains("no such table: nowhere") == true)
        let tables: [String] = try store.query("select name from sqlite_schema where type = 'table' and name not like '\\_orion%' escape '\\' order by name")
        #expect(tables == ["notes"])
        #expect(try store.one("select count(*) from _orion_migrations") == 1)
    }

    @Test("an applied entry whose text changed fails at boot naming feature and index")
    func editedEntry() throws {
        try store.migrate("notes", ["create table notes (id integer primary key)", "insert into notes default values"])
        let error = expectStoreError(.migration) {
            try store.migrate("notes", ["create table notes (id integer primary key)", "insert into notes default values -- edited"])
        }
        #expect(error?.message.contains("notes[1]") == true)
        #expect(error?.message.contains("edited") == true)
        #expect(error?.message.contains("append") == true)
    }

    @Test("applied entries missing from the list fail at boot naming feature and index")
    func missingEntry() throws {
        try store.migrate("notes", ["create table notes (id integer primary key)", "insert into notes default values"])
        let error = expectStoreError(.migration) {
            try store.migrate("notes", ["create table notes (id integer primary key)"])
        }
        #expect(error?.message.contains("notes[1]") == true)
        #expect(error?.message.contains("missing") == true)
    }

    @Test("feature names are validated", arguments: ["", " todos", "1todos", "to dos", "todos;drop", String(repeating: "a", count: 65)])
    func badFeatureNames(name: String) throws {
        expectStoreError(.migration) { try store.migrate(name, ["select 1"]) }
    }

    @Test("transaction control inside an entry is refused")
    func transactionControlInEntry() throws {
        expectStoreError(.transactionControl) { try store.migrate("notes", ["commit; create table notes (id integer)"]) }
    }

    @Test("several stores booting at once apply every entry exactly once")
    func concurrentStores() throws {
        let entries = ["create table hits (id integer primary key)"] + Array(repeating: "insert into hits default values", count: 20)
        try onThreads(6) { _ in
            let store = try SQLiteStore(path: dir.path())
            try store.migrate("hits", entries)
        }
        #expect(try store.one("select count(*) from hits") == 20)
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'hits'") == 21)
    }

    @Test("several processes booting at once apply every entry exactly once")
    func concurrentProcesses() throws {
        let children = (0..<4).map { _ in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
            child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
            child.arguments = ["migrate", dir.path(), "boot", "15"]
            child.standardOutput = FileHandle.nullDevice
            return child
        }
        for child in children { try child.run() }
        for child in children {
            child.waitUntilExit()
            #expect(child.terminationStatus == 0)
        }
        #expect(try store.one("select count(*) from boot_t") == 14)
        #expect(try store.one("select sum(n) from boot_t") == (1..<15).reduce(0, +))
    }

    @Test("rebuilding a parent table (SQLite's 12 steps) keeps the child rows")
    func tableRebuild() throws {
        try store.migrate(
            "shop",
            [
                "create table customers (id integer primary key, name text not null)",
                "create table orders (id integer primary key, customer_id integer not null references customers(id) on delete cascade)",
                "insert into customers (id, name) values (1, 'ada'), (2, 'bob'); insert into orders (customer_id) values (1), (1), (2)",
            ])
        try store.migrate(
            "shop",
            [
                "create table customers (id integer primary key, name text not null)",
                "create table orders (id integer primary key, customer_id integer not null references customers(id) on delete cascade)",
                "insert into customers (id, name) values (1, 'ada'), (2, 'bob'); insert into orders (customer_id) values (1), (1), (2)",
                """
                create table customers_new (id integer primary key, name text not null, email text);
                insert into customers_new (id, name) select id, name from customers;
                drop table customers;
                alter table customers_new rename to customers;
                """,
            ])
        #expect(try store.one("select count(*) from orders") == 3)
        #expect(try store.one("pragma foreign_keys") == 1)
        let columns: [String] = try store.query("select name from pragma_table_info('customers')")
        #expect(columns == ["id", "name", "email"])
        #expect(try store.one("select feature from _orion_tables where name = 'customers'") == "shop")
        #expect(try store.one("select count(*) from _orion_tables where name = 'customers_new'") == 0)
    }

    @Test("a column with an expression default on a table with rows: the error names the entry and what works instead")
    func nonConstantDefault() throws {
        let first = [
            "create table todos (id integer primary key, title text not null, done integer not null default 0)",
            "create table todo_notes (id integer primary key, todo_id integer not null references todos(id) on delete cascade, body text not null)",
        ]
        try store.migrate("todos", first)
        try store.exec("insert into todos (title) values ('a'), ('b')")
        try store.exec("insert into todo_notes (todo_id, body) values (1, 'n1'), (2, 'n2')")
        let error = expectStoreError(.migration) {
            try store.migrate("todos", first + ["alter table todos add column created_at text not null default (datetime('now'))"])
        }
        #expect(error?.message.contains("migration todos[2] failed and was rolled back") == true)
        #expect(error?.message.contains("cannot add a column whose default is an expression") == true)
        #expect(error?.message.contains("rebuild the table in one entry") == true)
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos'") == 2)

        // The worked example of the migrations article ("Rebuilding a table"), as it is there.
        try store.migrate(
            "todos",
            first + [
                """
                create table todos_new (
                    id integer primary key,
                    title text not null,
                    done integer not null default 0,
                    created_at text not null default (datetime('now'))
                );
                insert into todos_new (id, title, done) select id, title, done from todos;
                drop table todos;
                alter table todos_new rename to todos;
                create index todos_by_created_at on todos (created_at);
                """
            ])
        let rows: [Todo] = try store.query("select id, title, done from todos order by id")
        #expect(rows == [Todo(id: 1, title: "a", done: false), Todo(id: 2, title: "b", done: false)])
        #expect(try store.one("select count(*) from todos where created_at like '20__-__-__ __:__:__'") == 2)
        // The child rows survived (no cascade), and their foreign key still holds.
        #expect(try store.one("select count(*) from todo_notes") == 2)
        expectStoreError(.constraint) { try store.exec("insert into todo_notes (todo_id, body) values (99, 'orphan')") }
        try store.exec("delete from todos where id = 1")
        #expect(try store.one("select count(*) from todo_notes") == 1)
        // Ownership is the feature's, as before: its scoped store reads it, another's is refused.
        #expect(try store.one("select feature from _orion_tables where name = 'todos'") == "todos")
        #expect(try store.scoped(to: "todos").one("select count(*) from todos") == 1)
        try store.migrate("board", ["create table boards (id integer primary key)"])
        expectStoreError(.fence) { let _: Int? = try store.scoped(to: "board").one("select count(*) from todos") }
    }

    @Test(
        "other changes that need an empty table say so too",
        arguments: [
            ("alter table items add column code text not null", "cannot add a NOT NULL column without a default"),
            ("alter table items add column twice integer as (id * 2) stored", "Make it VIRTUAL"),
        ])
    func onlyOnEmptyTables(_ entry: String, _ says: String) throws {
        try store.migrate("items", ["create table items (id integer primary key)"])
        try store.exec("insert into items (id) values (1)")
        let error = expectStoreError(.migration) { try store.migrate("items", ["create table items (id integer primary key)", entry]) }
        #expect(error?.message.contains("migration items[1] failed and was rolled back") == true)
        #expect(error?.message.contains(says) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("rebuild the table in one entry") == true)
    }

    @Test("an entry that leaves rows without their parent is refused and rolled back")
    func foreignKeyCheck() throws {
        try store.migrate(
            "shop",
            [
                "create table customers (id integer primary key)",
                "create table orders (id integer primary key, customer_id integer references customers(id))",
                "insert into customers values (1); insert into orders (customer_id) values (1)",
            ])
        let error = expectStoreError(.constraint) {
            try store.migrate(
                "shop",
                [
                    "create table customers (id integer primary key)",
                    "create table orders (id integer primary key, customer_id integer references customers(id))",
                    "insert into customers values (1); insert into orders (customer_id) values (1)",
                    "delete from customers",
                ])
        }
        #expect(error?.message.contains("shop[3]") == true)
        #expect(error?.message.contains("orders") == true)
        #expect(try store.one("select count(*) from customers") == 1)
    }

    @Test("migrate inside tx is refused")
    func insideTx() throws {
        try store.tx {
            expectStoreError(.misuse) { try store.migrate("notes", ["create table notes (id integer)"]) }
        }
    }

    @Test("in-memory stores migrate too")
    func memory() throws {
        let memory = try SQLiteStore(path: ":memory:")
        try memory.migrate("todos", Todos.migrations)
        try memory.migrate("todos", Todos.migrations)
        try Todos.insert(memory, "a")
        #expect(try Todos.all(memory).count == 1)
    }
}
