import Foundation
import Synchronization
import Testing

@testable import Orion

struct Boom: Error, Equatable {}

@Suite("Transactions: tx, savepoints, rollback of exactly one level")
struct TransactionTests {
    let dir = TempDir()
    let store: SQLiteStore

    init() throws {
        store = try todoStore(dir)
    }

    @Test("tx commits its writes and returns the body's value")
    func commits() throws {
        let n = try store.tx {
            try Todos.insert(store, "a")
            try Todos.insert(store, "b")
            return 2
        }
        #expect(n == 2)
        #expect(try Todos.all(store).map(\.title) == ["a", "b"])
    }

    @Test("a throwing body rolls back and the same error comes out")
    func rollsBack() throws {
        #expect(throws: Boom.self) {
            try store.tx {
                try Todos.insert(store, "a")
                throw Boom()
            }
        }
        #expect(try Todos.all(store).isEmpty)
    }

    @Test("a throwing nested tx rolls back only its own level")
    func nestedRollback() throws {
        try store.tx {
            try Todos.insert(store, "outer")
            do {
                try store.tx {
                    try Todos.insert(store, "inner")
                    throw Boom()
                }
            } catch is Boom {}
            try store.tx { try Todos.insert(store, "second inner") }
        }
        #expect(try Todos.all(store).map(\.title) == ["outer", "second inner"])
    }

    @Test("an outer failure rolls back inner levels that succeeded")
    func outerRollback() throws {
        #expect(throws: Boom.self) {
            try store.tx {
                try store.tx { try Todos.insert(store, "inner") }
                throw Boom()
            }
        }
        #expect(try Todos.all(store).isEmpty)
    }

    @Test("reads inside tx see the transaction's rows; other threads do not until it commits")
    func readYourWrites() throws {
        let outside = Locked<Int?>(nil)
        try store.tx {
            try Todos.insert(store, "pending")
            #expect(try Todos.all(store).count == 1)
            let count: Int? = try store.one("select count(*) from todos")
            #expect(count == 1)
            try onThreads(1) { _ in
                let seen: Int? = try store.one("select count(*) from todos")
                outside.withLock { $0 = seen }
            }
        }
        #expect(outside.withLock { $0 } == 0)
        #expect(try Todos.all(store).count == 1)
    }

    @Test("a tx body may call helpers that use the store and tx again on the same thread")
    func reentrancy() throws {
        func addTwice(_ s: some Store) throws {
            try s.tx {
                try Todos.insert(s, "x")
                try s.tx { try Todos.insert(s, "y") }
            }
        }
        try store.tx {
            try addTwice(store)
            try addTwice(store.scoped(to: "todos"))
            #expect(try Todos.all(store).count == 4)
        }
        #expect(try Todos.all(store).count == 4)
    }

    @Test("when SQLite itself rolls the transaction back, the rest of the body cannot write outside it")
    func sqliteEndsTransaction() throws {
        try store.exec("create table uniq (v integer unique)")
        try store.exec("insert into uniq values (1)")
        #expect(throws: StoreError.self) {
            try store.tx {
                try Todos.insert(store, "lost")
                _ = try? store.exec("insert or rollback into uniq values (1)")
                // The transaction is gone: this must not run in autocommit.
                try Todos.insert(store, "would be orphaned")
            }
        }
        #expect(try Todos.all(store).isEmpty)
        // The store is fine afterwards.
        try store.tx { try Todos.insert(store, "after") }
        #expect(try Todos.all(store).map(\.title) == ["after"])
    }

    @Test("a tx whose COMMIT fails on a deferred foreign key rolls back and the store stays usable")
    func deferredForeignKeyAtCommit() throws {
        try store.exec("create table parent (id integer primary key)")
        try store.exec("create table child (id integer primary key, pid integer references parent(id) deferrable initially deferred)")
        expectStoreError(.constraint) {
            try store.tx { _ = try store.exec("insert into child (pid) values (42)") }
        }
        let count: Int? = try store.one("select count(*) from child")
        #expect(count == 0)
        try store.tx { try Todos.insert(store, "ok") }
    }

    @Test("tx from many threads serializes read-then-write without lost updates")
    func concurrentTransactions() throws {
        try store.exec("create table counter (n integer not null)")
        try store.exec("insert into counter values (0)")
        try onThreads(8) { _ in
            for _ in 0..<50 {
                try store.tx {
                    let n: Int = try store.one("select n from counter") ?? -1
                    try store.exec("update counter set n = ?", n + 1)
                }
            }
        }
        #expect(try store.one("select n from counter") == 400)
    }

    @Test("tx in an in-memory store works the same")
    func memory() throws {
        let memory = try SQLiteStore(path: ":memory:")
        try memory.migrate("todos", Todos.migrations)
        #expect(throws: Boom.self) {
            try memory.tx {
                try Todos.insert(memory, "a")
                throw Boom()
            }
        }
        try memory.tx { try Todos.insert(memory, "b") }
        #expect(try Todos.all(memory).map(\.title) == ["b"])
    }
}
