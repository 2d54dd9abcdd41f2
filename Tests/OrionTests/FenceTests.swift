import Foundation
import Testing

@testable import Orion

/// Two features: accounts (users) and todos (whose rows point at a user).
func twoFeatures(_ dir: TempDir, writeQueue: WriteQueue? = nil) throws -> SQLiteStore {
    let store = try SQLiteStore(path: dir.path(), writeQueue: writeQueue)
    try store.migrate(
        "accounts",
        [
            "create table users (id integer primary key, name text not null)",
            "insert into users (id, name) values (1, 'ada'), (2, 'bob')",
        ])
    try store.migrate(
        "todos",
        [
            "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)"
        ])
    return store
}

@Suite("The fence in migrations: one test per kind of foreign touch")
struct MigrationFenceTests {
    let dir = TempDir()
    let store: SQLiteStore

    init() throws {
        store = try twoFeatures(dir)
    }

    /// Runs a todos entry that touches accounts' table and checks the refusal and the rollback.
    func expectRefused(_ entry: String, verb: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let entries = [
            "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
            "create table scratch (id integer primary key); \(entry)",
        ]
        let error = expectStoreError(.fence, sourceLocation: sourceLocation) { try store.migrate("todos", entries) }
        #expect(error?.message.contains("todos[1]") == true, sourceLocation: sourceLocation)
        #expect(error?.message.contains("'users'") == true, sourceLocation: sourceLocation)
        #expect(error?.message.contains("'accounts'") == true, sourceLocation: sourceLocation)
        #expect(error?.message.contains(verb) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        let scratch: Int? = try store.one("select count(*) from sqlite_schema where name = 'scratch'")
        #expect(scratch == 0, "the entry must be rolled back whole", sourceLocation: sourceLocation)
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos'") == 1, sourceLocation: sourceLocation)
    }

    @Test("create index on another feature's table") func index() throws { try expectRefused("create index users_name on users(name)", verb: "index") }
    @Test("create trigger on another feature's table") func trigger() throws { try expectRefused("create trigger t after insert on users begin select 1; end", verb: "trigger") }
    @Test("alter another feature's table") func alter() throws { try expectRefused("alter table users add column email text", verb: "alter") }
    @Test("rename another feature's table") func rename() throws { try expectRefused("alter table users rename to people", verb: "alter") }
    @Test("drop another feature's table") func drop() throws { try expectRefused("drop table users", verb: "drop") }
    @Test("insert into another feature's table") func insert() throws { try expectRefused("insert into users (name) values ('eve')", verb: "insert") }
    @Test("update another feature's table") func update() throws { try expectRefused("update users set name = 'x'", verb: "update") }
    @Test("delete from another feature's table") func delete() throws { try expectRefused("delete from users", verb: "delete") }
    @Test("read another feature's table") func read() throws { try expectRefused("create table copy as select name from users", verb: "read") }
    @Test("a view over another feature's table") func view() throws { try expectRefused("create view names as select name from users", verb: "read") }
    @Test("a trigger on its own table whose body writes another feature's table") func triggerBody() throws {
        try expectRefused("create trigger t after insert on scratch begin delete from users; end", verb: "delete")
    }
    @Test("a trigger on its own table whose condition reads another feature's table") func triggerWhen() throws {
        try expectRefused("create trigger t after delete on scratch when (select count(*) from users) > 0 begin select 1; end", verb: "read")
    }

    @Test("dropping another feature's view is refused")
    func dropForeignView() throws {
        try store.migrate(
            "accounts",
            [
                "create table users (id integer primary key, name text not null)",
                "insert into users (id, name) values (1, 'ada'), (2, 'bob')",
                "create view user_names as select name from users",
            ])
        let error = expectStoreError(.fence) {
            try store.migrate(
                "todos",
                [
                    "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
                    "drop view user_names",
                ])
        }
        #expect(error?.message.contains("'user_names'") == true)
    }

    @Test("a table a feature creates is registered to it; renames and drops keep the registry true")
    func registry() throws {
        try store.migrate(
            "notes",
            [
                "create table notes (id integer primary key)",
                "create index notes_id on notes(id)",
                "create view note_ids as select id from notes",
                "alter table notes rename to memos",
                "create table trash (id integer)",
                "drop table trash",
            ])
        struct Owner: Decodable, Equatable {
            let name: String
            let type: String
            let feature: String
        }
        let owners: [Owner] = try store.query("select name, type, feature from _orion_tables where feature = 'notes' order by name")
        #expect(owners == [Owner(name: "memos", type: "table", feature: "notes"), Owner(name: "note_ids", type: "view", feature: "notes")])
    }

    @Test("a foreign key to another feature's table is integrity, not access, and is allowed")
    func foreignKeyAllowed() throws {
        try store.migrate(
            "todos",
            [
                "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
                "create table comments (id integer primary key, user_id integer not null references users(id), body text)",
            ])
    }

    @Test(
        "feature SQL cannot write the registry or the migration records",
        arguments: [
            "insert into _orion_tables (name, type, feature) values ('users', 'table', 'todos')",
            "update _orion_tables set feature = 'todos'",
            "delete from _orion_migrations",
            "drop table _orion_tables",
            "create table _orion_mine (id integer)",
        ])
    func registryIsNotForgeable(sql: String) throws {
        expectStoreError(.fence) { try store.exec(sql) }
        expectStoreError(.fence) {
            try store.migrate(
                "todos",
                [
                    "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
                    sql,
                ])
        }
        #expect(try store.one("select feature from _orion_tables where name = 'users'") == "accounts")
    }

    @Test("writable_schema is refused")
    func writableSchema() throws {
        expectStoreError(.fence) { try store.exec("pragma writable_schema = on") }
    }
}

@Suite("The fence on queries: scoped stores")
struct ScopedStoreTests {
    let dir = TempDir()
    let store: SQLiteStore
    let todos: any Store
    let accounts: any Store

    init() throws {
        store = try twoFeatures(dir)
        todos = store.scoped(to: "todos")
        accounts = store.scoped(to: "accounts")
    }

    @Test("a scoped store reads and writes its own tables")
    func ownTables() throws {
        let result = try todos.exec("insert into todos (title, user_id) values (?, ?)", "a", 1)
        #expect(result.lastId == 1)
        let titles: [String] = try todos.query("select title from todos")
        #expect(titles == ["a"])
    }

    @Test("reading another feature's table names the table and its owner")
    func foreignRead() throws {
        let error = expectStoreError(.fence) { let _: [String] = try todos.query("select name from users") }
        #expect(error?.message.contains("'users'") == true)
        #expect(error?.message.contains("'accounts'") == true)
        #expect(error?.message.contains("'todos'") == true)
    }

    @Test(
        "joins, subqueries and writes against another feature's table are refused",
        arguments: [
            "select t.title from todos t join users u on u.id = t.user_id",
            "select title from todos where user_id in (select id from users where name = 'ada')",
            "insert into users (name) values ('eve')",
            "update users set name = 'x'",
            "delete from users",
            "insert into todos (title) select name from users",
        ])
    func foreignAccess(sql: String) throws {
        expectStoreError(.fence) { try todos.exec(sql) }
    }

    @Test("tables no feature owns are open to every scope")
    func unownedTables() throws {
        try store.exec("create table settings (k text primary key, v text)")
        try todos.exec("insert into settings values ('theme', 'dark')")
        #expect(try accounts.one("select v from settings where k = ?", "theme") == "dark")
    }

    @Test("a scoped store runs no DDL, migrates only its own feature, and cannot widen itself")
    func noDDL() throws {
        expectStoreError(.fence) { try todos.exec("create table extra (id integer)") }
        expectStoreError(.fence) { try todos.exec("drop table todos") }
        expectStoreError(.fence) { try todos.exec("create index i on todos(title)") }
        expectStoreError(.fence) { try todos.migrate("accounts", ["create table x (id integer)"]) }
        try todos.migrate(
            "todos",
            [
                "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
                "create index todos_title on todos(title)",
            ])
        #expect(!(todos is SQLiteStore))
        expectStoreError(.fence) { try todos.exec("attach database ? as x", dir.path("x.db")) }
        expectStoreError(.fence) { try todos.exec("delete from _orion_tables") }
    }

    @Test("foreign-key enforcement across features passes the fence")
    func foreignKeyEnforcement() throws {
        try todos.exec("insert into todos (title, user_id) values ('a', 1), ('b', 2)")
        // The child insert reads the parent's key: enforcement, and a violation is a constraint error.
        expectStoreError(.constraint) { try todos.exec("insert into todos (title, user_id) values ('c', 99)") }
        // The parent delete cascades into the child table the other feature declared.
        try accounts.exec("delete from users where id = 1")
        #expect(try store.one("select count(*) from todos") == 1)
    }

    @Test("foreign-key enforcement also passes for a table no feature owns")
    func foreignKeyFromUnownedTable() throws {
        try store.exec("create table audit (id integer primary key, user_id integer references users(id))")
        try todos.exec("insert into audit (user_id) values (?)", 1)
        expectStoreError(.constraint) { try todos.exec("insert into audit (user_id) values (?)", 42) }
        expectStoreError(.fence) { let _: [String] = try todos.query("select u.name from audit a join users u on u.id = a.user_id") }
    }

    @Test("a statement cached for one scope is never reused by another without its check")
    func cacheCrossing() throws {
        let sql = "select count(*) from users"
        #expect(try accounts.one(sql) == 2)
        expectStoreError(.fence) { let _: Int? = try todos.one(sql) }
        #expect(try store.one(sql) == 2)
        let other = "select count(*) from todos"
        expectStoreError(.fence) { let _: Int? = try accounts.one(other) }
        #expect(try todos.one(other) == 0)
        expectStoreError(.fence) { let _: Int? = try accounts.one(other) }
    }

    @Test("scoped writes inside tx see the fence too")
    func insideTx() throws {
        try store.tx {
            try todos.exec("insert into todos (title) values ('x')")
            expectStoreError(.fence) { let _: Int? = try todos.one("select count(*) from users") }
        }
        #expect(try store.one("select count(*) from todos") == 1)
    }

    @Test("when another store changes ownership, cached statements are checked again")
    func registryReload() throws {
        try store.exec("create table shared (id integer)")
        let query = "select count(*) from shared"
        #expect(try todos.one(query) == 0)
        let other = try SQLiteStore(path: dir.path())
        try other.migrate("billing", ["alter table shared rename to shared_old", "create table shared (id integer)"])
        let error = expectStoreError(.fence) { let _: Int? = try todos.one(query) }
        #expect(error?.message.contains("'billing'") == true)
    }

    @Test("a feature reads another's data through the owner's functions on the owner's store")
    func crossFeatureThroughOwner() throws {
        enum Accounts {
            static func name(_ store: some Store, _ id: Int) throws -> String? {
                try store.one("select name from users where id = ?", id)
            }
        }
        try todos.exec("insert into todos (title, user_id) values ('a', 2)")
        let userId: Int? = try todos.one("select user_id from todos")
        #expect(try Accounts.name(accounts, userId!) == "bob")
    }
}
