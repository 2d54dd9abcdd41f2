// `swift run demo`: opens app.db, migrates a todos feature, writes, reads and prints.
import Foundation
import Orion

struct Todo: Decodable, Sendable {
    let id: Int
    let title: String
    let done: Bool
    let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, title, done
        case createdAt = "created_at"
    }
}

/// The todos feature: its migrations and its queries, side by side.
enum Todos {
    static let migrations = [
        "create table todos (id integer primary key, title text not null, done integer not null default 0)",
        "alter table todos add column created_at text not null default (strftime('%Y-%m-%d %H:%M:%f', 'now'))",
    ]

    static func all(_ store: some Store) throws -> [Todo] {
        try store.query("select id, title, done, created_at from todos order by id")
    }

    static func openCount(_ store: some Store) throws -> Int {
        try store.one("select count(*) from todos where done = ?", false) ?? 0
    }

    @discardableResult
    static func insert(_ store: some Store, _ title: String) throws -> ExecResult {
        try store.exec("insert into todos (title) values (?)", title)
    }

    static func finish(_ store: some Store, _ id: Int64) throws {
        try store.exec("update todos set done = ? where id = ?", true, id)
    }
}

let path = CommandLine.arguments.dropFirst().first ?? "app.db"
do {
    let store = try SQLiteStore(path: path)
    try store.migrate("todos", Todos.migrations)
    let todos = store.scoped(to: "todos")

    let milk = try Todos.insert(todos, "buy milk")
    try store.tx {
        try Todos.insert(todos, "write the store")
        try Todos.insert(todos, "ship it")
    }
    try Todos.finish(todos, milk.lastId)

    print("orion demo — \(path)")
    for todo in try Todos.all(todos).suffix(5) {
        print("  #\(todo.id) [\(todo.done ? "x" : " ")] \(todo.title)  (\(todo.createdAt.formatted(date: .abbreviated, time: .standard)))")
    }
    print("  \(try Todos.openCount(todos)) open")

    do {
        try todos.exec("drop table todos")
    } catch let error as StoreError {
        print("  the fence holds: \(error.message)")
    }
    try store.close()
} catch {
    print("demo failed: \(error)")
    exit(1)
}
