import Foundation
import StoreConformance
import Testing

@testable import Orion

/// Keeps the article *What the store promises* true: every test it names exists, and every
/// wrong input in its table gives the error written there.
@Suite("What the store promises: the article's tables")
struct PromisesTests {
    struct Item: Decodable {
        let id: Int
        let title: Int
    }

    struct Child: Decodable {
        let parentId: Int
    }

    struct TodoRow: Decodable, RowDecodable {
        let id: Int
        let title: String
        init(row: RowReader) throws {
            id = try row.int(0)
            title = try row.string(1)
        }
    }

    @Test("every test the guarantees name exists")
    func provingTestsExist() throws {
        let page = try PromisesPage()
        let titles = try PromisesPage.testTitles()
        #expect(page.provingTests.count > 20)
        for title in page.provingTests {
            #expect(titles.contains(title), "the article names a test that does not exist: \"\(title)\"")
        }
    }

    /// Each wrong input of the table, as SQLite sees it: the error it throws and the path that
    /// `<path>` stands for.
    func cases(_ dir: TempDir, other: TempDir) throws -> [String: () throws -> Void] {
        let store = try todoStore(dir)
        try store.migrate("people", ["create table people (id integer primary key, name text)"])
        try Todos.insert(store, "a")
        let todos = store.scoped(to: "todos")
        return [
            "parameter-count": { try store.exec("insert into todos (title) values (?)") },
            "unbindable-date": { try store.exec("insert into todos (title) values (?)", Date(timeIntervalSince1970: 1e14)) },
            "unknown-column": { try store.exec("insert into todos (titel) values (?)", "a") },
            "syntax": { try store.exec("insrt into todos (title) values (?)", "a") },
            "two-statements": { try store.exec("insert into todos (title) values ('a'); delete from todos") },
            "transaction-control": { try store.exec("begin") },
            "null-in-not-null": { try store.exec("insert into todos (title) values (?)", nil as String?) },
            "decoding-type": { let _: [Item] = try store.query("select id, title from todos") },
            "decoding-column": { let _: [Child] = try store.query("select id as parent_id from todos") },
            "row-column-past-end": { let _: [TodoRow] = try store.query("select id from todos") },
            "feature-name": { try store.migrate("Todos!", ["create table x (a)"]) },
            "scoped-feature-name": { try store.scoped(to: "Todos!").exec("insert into todos (title) values ('x')") },
            "edited-entry": { try store.migrate("todos", ["create table todos (id integer primary key, title text)"]) },
            "removed-entry": { try store.migrate("todos", []) },
            "foreign-table": { let _: [String] = try todos.query("select name from people") },
            "schema-change": { try todos.exec("create table y (a)") },
            "pragma-setting": { try todos.exec("pragma foreign_keys = off") },
            "attach": { try store.exec("attach database ':memory:' as other") },
            "read-only-store": {
                try SQLiteStore(path: dir.path(), mode: .readOnly).exec("insert into todos (title) values ('x')")
            },
            "closed": {
                let closing = try SQLiteStore(path: dir.path())
                try closing.close()
                try closing.exec("insert into todos (title) values ('x')")
            },
            "time-limit": {
                let limited = try SQLiteStore(path: dir.path(), statementTimeLimit: .milliseconds(50))
                let _: Int? = try limited.one("with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n")
            },
            "close-inside-tx": { try store.tx { try store.close() } },
            "no-such-folder": { _ = try SQLiteStore(path: "/nonexistent/dir/x.db") },
            "not-a-database": {
                try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: other.path()))
                _ = try SQLiteStore(path: other.path())
            },
        ]
    }

    @Test("every wrong input in the table gives the error written there (SQLite)")
    func wrongInputs() throws {
        let dir = TempDir()
        let other = TempDir()
        let cases = try cases(dir, other: other)
        let rows = try PromisesPage().wrongInputs(for: "SQLite")
        #expect(rows.count >= 20)
        // unwritable-file needs a file root cannot write: FullDiskTests' "a file this process
        // may not write" makes one and checks the same words.
        try PromisesPage().check("SQLite", cases: cases, elsewhere: ["unwritable-file"], path: other.path())
    }
}
