// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import OrionPostgres
import Testing

// The README's examples, verbatim (their `import` lines are this file's). DocsCheckTests fails
// when a block of the README is not found here.

@Suite("README: its examples run", .serialized)
struct ReadmeExamples {
    @Test("the SQLite example writes a todo and reads its title back")
    func sqlite() async throws {
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db")
            try store.migrate("todos", ["create table todos (id integer primary key, title text not null, done integer not null default 0)"])
            try store.exec("insert into todos (title) values (?)", "buy milk")
            let titles: [String] = try store.query("select title from todos where done = ?", false)
            #expect(titles == ["buy milk"])
        }
    }

    @Test("the same feature code on PostgreSQL", .enabled(if: DocsPostgres.url != nil))
    func postgres() throws {
        try DocsPostgres.freshDatabase()
        let url = ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgresql://app@127.0.0.1:5432/app"
        let store = try PostgresStore(url: url, poolSize: 8)
        try store.migrate("todos", ["create table todos (id bigserial primary key, title text not null, done boolean not null default false)"])
        let titles: [String] = try store.scoped(to: "todos").query("select title from todos where done = ?", false)
        #expect(titles.isEmpty)
        store.close()
    }
}
