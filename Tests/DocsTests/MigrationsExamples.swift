// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import Testing

// "Migrations and the fence", verbatim. DocsCheckTests fails when a block of the article is not here.

enum MigrationsDocs {
    enum Todos {
        static let migrations = [
            "create table todos (id integer primary key, title text not null)",
            // entry 0 ran in production — append, never edit:
            "alter table todos add column done integer not null default 0",
        ]
    }

    /// The concept's own entry, which fails on a table with rows.
    static let expressionDefault = [
        "alter table todos add column created_at text not null default (datetime('now'))"
    ]

    /// The rebuild that works instead.
    static let rebuild = [
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
    ]

    struct Todo: Decodable {
        let id: Int
        let title: String
        let userId: Int
        enum CodingKeys: String, CodingKey { case id, title, userId = "user_id" }
    }

    enum Accounts {
        static func name(_ store: some Store, _ id: Int) throws -> String? {
            try store.one("select name from users where id = ?", id)
        }
    }

    struct TodoView {
        let todos: any Store  // store.scoped(to: "todos")
        let accounts: any Store  // store.scoped(to: "accounts")

        func render(_ todo: Todo) throws -> String {
            let owner = try Accounts.name(accounts, todo.userId) ?? "nobody"
            return "\(todo.title) — \(owner)"
        }
    }
}

@Suite("Migrations and the fence: its examples run", .serialized)
struct MigrationsExamples {
    typealias Todos = MigrationsDocs.Todos

    @Test("append-only entries, the refused default and its rebuild, the fence and the owner's functions")
    func examples() async throws {
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db")
            try store.migrate("todos", Todos.migrations)

            try store.exec("insert into todos (title) values ('a')")
            // The expression default fails on a table with rows, naming the entry; the rebuild works.
            #expect(throws: StoreError.self) { try store.migrate("todos", Todos.migrations + MigrationsDocs.expressionDefault) }
            try store.migrate("todos", Todos.migrations + MigrationsDocs.rebuild)
            #expect(try store.one("select count(*) from todos where created_at is not null") == 1)

            try store.migrate("accounts", ["create table users (id integer primary key, name text not null)", "insert into users (id, name) values (1, 'ada')"])
            try store.migrate("todos", Todos.migrations + MigrationsDocs.rebuild + ["alter table todos add column user_id integer not null default 1"])
            do {
                let accounts = store.scoped(to: "accounts")
                let todos = store.scoped(to: "todos")
                let names: [String] = try todos.query("select name from users")
                // StoreError: feature 'todos' cannot read table 'users': it belongs to feature 'accounts';
                //             call the owner's functions on its scoped store
                Issue.record("the fence let \(names) through \(accounts)")
            } catch let error as StoreError {
                #expect(error.code == .fence)
                #expect(error.message.contains("feature 'todos' cannot read table 'users': it belongs to feature 'accounts'"))
            }
            let accounts = store.scoped(to: "accounts")
            let todos = store.scoped(to: "todos")
            let todo: MigrationsDocs.Todo = try #require(try todos.one("select id, title, user_id from todos"))
            #expect(try MigrationsDocs.TodoView(todos: todos, accounts: accounts).render(todo) == "a — ada")
        }
    }
}
