// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import Testing

// "Live views", verbatim. DocsCheckTests fails when a block of the article is not here.

enum LiveViewsDocs {
    struct Order: Sendable {
        let id: Int
        let item: String
    }
    enum Event: Equatable { case orderPlaced(Int) }

    /// Where the handler tells others that an order was placed.
    final class Events: @unchecked Sendable {
        var sent: [Event] = []
        func send(_ event: Event) { sent.append(event) }
    }

    enum Orders {
        static let migrations = ["create table orders (id integer primary key, item text not null)"]
        static func insert(_ store: some Store, _ order: Order) throws {
            try store.exec("insert into orders (id, item) values (?, ?)", order.id, order.item)
        }
    }

    static func place(_ order: Order, store: SQLiteStore, orders: any Store, events: Events) async throws {
        try await store.write { try Orders.insert(orders, order) }
        try await store.durable()  // committed: every reader sees it now
        events.send(.orderPlaced(order.id))
    }

    enum Board {
        static func page(_ todos: any Store, _ accounts: any Store) throws -> String {
            let titles: [String] = try todos.query("select title from todos order by id")
            let people: Int = try accounts.one("select count(*) from users") ?? 0
            return "\(titles.joined(separator: ", ")) (\(people) people)"
        }
    }

}

struct Todo: Decodable { var id: Int64; var title: String; var done: Bool }

/// The view: a pure function of the store, called with no `await`.
func renderBoard(_ todos: any Store) throws -> String {
    let rows: [Todo] = try todos.query("select id, title, done from todos order by id")
    return rows.map { "<li>\($0.done ? "✓ " : "")\($0.title)</li>" }.joined(separator: "\n")
}

func boardEvents(store: SQLiteStore, todos: any Store) -> AsyncThrowingStream<String, any Error> {
    AsyncThrowingStream { continuation in
        let task = Task {
            do {
                for try await html in store.observe({ try renderBoard(todos) }) {
                    let data = html.split(separator: "\n").map { "data: \($0)" }.joined(separator: "\n")
                    continuation.yield("event: board\n\(data)\n\n")
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }  // the viewer went away
    }
}

@Suite("Live views: its examples run", .serialized, .timeLimit(.minutes(1)))
struct LiveViewsExamples {
    typealias Board = LiveViewsDocs.Board

    func store() throws -> SQLiteStore {
        let store = try SQLiteStore(path: "app.db", writeQueue: WriteQueue(maxBatch: 100, maxDelay: .seconds(60)))
        try store.migrate("orders", LiveViewsDocs.Orders.migrations)
        try store.migrate("todos", ["create table todos (id integer primary key, title text not null, done integer not null default 0)"])
        try store.migrate("accounts", ["create table users (id integer primary key, name text not null)"])
        return store
    }

    @Test("durable() before telling others: the order is committed when the event goes out")
    func durableThenSend() async throws {
        try await inFreshFolder {
            let store = try store()
            let events = LiveViewsDocs.Events()
            let placing = Task { try await LiveViewsDocs.place(.init(id: 7, item: "tea"), store: store, orders: store.scoped(to: "orders"), events: events) }
            // Until the write has joined the open batch (a tx on the writer sees it), then a moment.
            let joined = ContinuousClock.now + .seconds(20)
            while try store.tx({ try store.one("select count(*) from orders") as Int? }) != 1, ContinuousClock.now < joined {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(events.sent.isEmpty, "the event waits for the commit")
            try store.flush()
            try await placing.value
            #expect(events.sent == [.orderPlaced(7)])
            let other = try SQLiteStore(path: "app.db")
            #expect(try other.one("select count(*) from orders") == 1)
        }
    }

    @Test("changes(to:) and observe announce a commit to the todos; the SSE stream sends the new board")
    func changesAndObserve() async throws {
        try await inFreshFolder {
            let store = try store()
            let todos = store.scoped(to: "todos")
            let accounts = store.scoped(to: "accounts")
            let announced = Locked<[Set<String>]>([])
            let watching = Task {
                for await change in store.changes(to: ["todos"]) {
                    print("todos changed:", change.tables)
                }
            }
            let recording = Task {
                for await change in store.changes(to: ["todos"]) { announced.withLock { $0.append(change.tables) } }
            }
            let pages = Locked<[String]>([])
            let send: @Sendable (String) -> Void = { page in pages.withLock { $0.append(page) } }
            let viewing = Task {
                for try await page in store.observe({ try Board.page(todos, accounts) }) {
                    send(page)
                }
            }
            while pages.withLock { $0 }.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            try todos.exec("insert into todos (title) values ('buy milk')")
            try store.flush()
            while pages.withLock { $0 }.count < 2 || announced.withLock { $0 }.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            watching.cancel()
            recording.cancel()
            viewing.cancel()
            #expect(pages.withLock { $0 } == [" (0 people)", "buy milk (0 people)"])
            #expect(announced.withLock { $0 } == [["todos"]])

            var stream = boardEvents(store: store, todos: todos).makeAsyncIterator()
            #expect(try await stream.next() == "event: board\ndata: <li>buy milk</li>\n\n")
            try todos.exec("update todos set done = 1")
            try store.flush()
            #expect(try await stream.next() == "event: board\ndata: <li>✓ buy milk</li>\n\n")
        }
    }
}
