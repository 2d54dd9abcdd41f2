// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import Testing

// "Getting started", verbatim. DocsCheckTests fails when a block of the article is not here.

enum GettingStartedDocs {
    // Sources/App/Features/Todos/TodosSQL.swift
    struct Todo: Decodable, Sendable { let id: Int; let title: String; let done: Bool }

    enum Todos {
        static let migrations = [
            "create table todos (id integer primary key, title text not null, done integer not null default 0)",
            "alter table todos add column created_at text not null default (datetime('now'))",
        ]

        static func all(_ store: some Store) throws -> [Todo] {
            try store.query("select id, title, done from todos order by id")
        }

        @discardableResult
        static func insert(_ store: some Store, _ title: String) throws -> ExecResult {
            try store.exec("insert into todos (title) values (?)", title)
        }
    }
}

struct GettingStartedLanes {
    typealias Todo = GettingStartedDocs.Todo
    typealias Todos = GettingStartedDocs.Todos

    func board(_ store: SQLiteStore, todos: any Store) async throws -> [Todo] {
        try await store.read { try Todos.all(todos) }
    }

    func add(_ store: SQLiteStore, todos: any Store, title: String) async throws -> Int64 {
        let id = try await store.write { try Todos.insert(todos, title).lastId }
        try await store.durable()   // with a write queue: committed, every reader sees it
        return id
    }
}

struct OpenTodo: Decodable, RowDecodable {
    let id: Int
    let title: String
    let done: Bool

    init(row: RowReader) throws {
        id = try row.int(0)
        title = try row.string(1)
        done = try row.bool(2)
    }
}

@Suite("Getting started: its examples run", .serialized)
struct GettingStartedExamples {
    typealias Todos = GettingStartedDocs.Todos

    @Test("the composition root, rows and a transfer do what the article says")
    func examples() async throws {
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db")  // WAL, synchronous = normal
            try store.migrate("todos", Todos.migrations)  // at boot, once per feature
            let todos = store.scoped(to: "todos")  // the fence: todos' tables only
            try Todos.insert(todos, "buy milk")
            try Todos.insert(todos, "")
            #expect(try Todos.all(todos).map(\.title) == ["buy milk", ""])

            let n: Int? = try store.one("select count(*) from todos")
            let top: Int? = try store.one("select max(id) from todos")  // nil on an empty table
            let titles: [String] = try store.query("select title from todos")
            let maybe: [String?] = try store.query("select nullif(title, '') from todos")  // NULLs need an optional
            let rows: [Row] = try store.query("select * from todos")  // columns in order, row["title"]
            #expect(n == 2 && top == 2 && titles == ["buy milk", ""] && maybe == ["buy milk", nil])
            #expect(rows[0]["title"] == .text("buy milk"))
            let open: [OpenTodo] = try store.query("select id, title, done from todos where done = 0 order by id")
            #expect(open.map(\.title) == ["buy milk", ""])
            let empty = try SQLiteStore(path: "empty.db")
            try empty.migrate("todos", Todos.migrations)
            #expect(try empty.one("select max(id) from todos") as Int? == nil)

            try store.migrate("accounts", ["create table accounts (id integer primary key, balance integer not null)", "insert into accounts values (1, 100), (2, 0)"])
            let (a, b, x) = (1, 2, 30)
            try store.tx {
                let balance: Int = try store.one("select balance from accounts where id = ?", a) ?? 0
                try store.exec("update accounts set balance = balance - ? where id = ?", x, a)
                try store.exec("update accounts set balance = balance + ? where id = ?", x, b)
            }
            #expect(try store.query("select balance from accounts order by id") == [70, 30])
        }
    }

    @Test("the lanes: a handler's read and write through the store's own threads")
    func lanes() async throws {
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db", writeQueue: WriteQueue())
            try store.migrate("todos", Todos.migrations)
            let todos = store.scoped(to: "todos")
            let lanes = GettingStartedLanes()
            let id = try await lanes.add(store, todos: todos, title: "buy milk")
            #expect(id == 1)
            #expect(try await lanes.board(store, todos: todos).map(\.title) == ["buy milk"])
        }
    }
}
