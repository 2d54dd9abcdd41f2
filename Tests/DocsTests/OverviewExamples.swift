// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import OrionPostgres
import Testing

// The module overviews (Orion.md, OrionPostgres.md) and "Moving to PostgreSQL", verbatim.
// DocsCheckTests fails when a block of them is not here.

enum OverviewDocs {
    struct Todo: Decodable, Sendable {
        let id: Int
        let title: String
        let done: Bool
    }

    enum Todos {
        static let migrations = ["create table todos (id integer primary key, title text not null, done integer not null default 0)"]

        static func insert(_ store: some Store, _ title: String) throws {
            try store.exec("insert into todos (title) values (?)", title)
        }

        static func all(_ store: some Store) throws -> [Todo] {
            try store.query("select id, title, done from todos order by id")
        }
    }
}

enum PostgresOverviewDocs {
    struct Todo: Decodable { let id: Int; let title: String; let done: Bool }

    enum Todos {
        /// PostgreSQL's DDL: migrations are written per dialect.
        static let postgresMigrations = [
            "create table todos (id bigserial primary key, title text not null, done boolean not null default false)"
        ]

        /// The queries stay the same on SQLite and PostgreSQL.
        static func insert(_ store: some Store, _ title: String) throws {
            try store.exec("insert into todos (title) values (?)", title)
        }

        static func open(_ store: some Store) throws -> [Todo] {
            try store.query("select id, title, done from todos where done = ? order by id", false)
        }
    }
}

@Suite("The overviews: their examples run", .serialized)
struct OverviewExamples {
    @Test("Orion's overview: migrate, scope, insert, read")
    func orion() async throws {
        typealias Todos = OverviewDocs.Todos
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db")
            try store.migrate("todos", Todos.migrations)
            let todos = store.scoped(to: "todos")
            try Todos.insert(todos, "buy milk")
            let open = try Todos.all(todos)
            #expect(open.map(\.title) == ["buy milk"])
        }
    }

    @Test("OrionPostgres' overview: PostgreSQL's DDL, the same queries", .enabled(if: DocsPostgres.url != nil))
    func postgres() throws {
        typealias Todos = PostgresOverviewDocs.Todos
        try DocsPostgres.freshDatabase()
        let url = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgresql://app@127.0.0.1:5432/app"
        let store = try PostgresStore(url: url)
        try store.migrate("todos", Todos.postgresMigrations)
        let todos = store.scoped(to: "todos")
        try Todos.insert(todos, "buy milk")
        let open = try Todos.open(todos)
        #expect(open.map(\.title) == ["buy milk"])
        store.close()
    }

    @Test("Moving to PostgreSQL: the composition root before and after", .enabled(if: DocsPostgres.url != nil))
    func moving() async throws {
        try await inFreshFolder {
            // before
            let store = try SQLiteStore(path: "app.db")

            #expect(try store.one("select 1") == 1)
        }
        try DocsPostgres.freshDatabase()
        // after
        let url = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgresql://app:secret@db.internal:5432/app"
        let store = try PostgresStore(url: url, poolSize: 16)
        #expect(try store.one("select 1") == 1)
        store.close()
    }
}
