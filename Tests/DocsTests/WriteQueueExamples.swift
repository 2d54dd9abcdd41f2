// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Orion
import Testing

// "The write queue", verbatim. DocsCheckTests fails when a block of the article is not here.

enum WriteQueueDocs {
    struct Order: Sendable { let id: Int }
    enum Reply { case created }
    enum Orders {
        static func insert(_ store: some Store, _ order: Order) throws {
            try store.exec("insert into orders (id) values (?)", order.id)
        }
    }

    /// A handler that holds only the feature's scoped store.
    static func handle(_ order: Order, orders: any Store) async throws -> Reply {
        try await orders.write { try Orders.insert(orders, order) }
        try await orders.durable()  // returns once every write made before it is committed
        return .created  // now the acknowledgement is true
    }
}

@Suite("The write queue: its examples run", .serialized)
struct WriteQueueExamples {
    @Test("turning it on, and a handler that acknowledges after durable()")
    func examples() async throws {
        try await inFreshFolder {
            let store = try SQLiteStore(path: "app.db", writeQueue: WriteQueue())
            let tuned = try SQLiteStore(
                path: "app.db",
                writeQueue: WriteQueue(maxBatch: 256, maxDelay: .milliseconds(2)),
                synchronous: .full)
            try store.migrate("orders", ["create table orders (id integer primary key)"])
            let reply = try await WriteQueueDocs.handle(.init(id: 1), orders: store.scoped(to: "orders"))
            #expect(reply == .created)
            #expect(try tuned.one("select count(*) from orders") == 1, "committed: another store sees it")
        }
    }
}
