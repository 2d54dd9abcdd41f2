import Foundation
import Synchronization
import Testing

@testable import Orion

/// The store a nested row reads from, and how many reads must hold their reader before any
/// nested read starts.
private enum Nesting {
    static let store = Locked<SQLiteStore?>(nil)
    static let gate = Locked<(arrived: Int, needed: Int)>((0, 0))

    /// Waits (a spin, a millisecond at a time) until `needed` outer reads are inside decoding.
    static func arriveAndWait() {
        gate.withLock { $0.arrived += 1 }
        while gate.withLock({ $0.arrived < $0.needed }) { usleep(1000) }
    }
}

/// A row whose decoding reads the store again: a nested read on the same thread, while its
/// outer read still holds a reader connection.
private struct NestedRow: Decodable {
    let title: String
    let total: Int

    enum CodingKeys: String, CodingKey { case title }

    init(from decoder: any Decoder) throws {
        title = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .title)
        Nesting.arriveAndWait()
        let store = Nesting.store.withLock { $0 }!
        total = try store.one("select count(*) from todos") ?? -1
    }
}

@Suite("SQLite edges: reads nested in reads", .serialized, .timeLimit(.minutes(1)))
struct SQLiteNestedReadTests {
    let dir = TempDir()

    @Test("a read nested in a row's Decodable initializer, with every reader held, runs on its own thread's connection", arguments: [1, 4])
    func nestedRead(readers: Int) throws {
        let store = try SQLiteStore(path: dir.path(), readers: readers)
        try store.migrate("todos", Todos.migrations)
        try Todos.insert(store, "a")
        Nesting.store.withLock { $0 = store }
        Nesting.gate.withLock { $0 = (0, readers) }
        defer { Nesting.store.withLock { $0 = nil } }
        // As many outer reads as there are readers, each inside its decoding at once: every
        // reader connection is held when the nested reads start.
        let totals = Locked<[Int]>([])
        try onThreads(readers) { _ in
            let rows: [NestedRow] = try store.query("select title from todos")
            totals.withLock { $0.append(contentsOf: rows.map(\.total)) }
        }
        #expect(totals.withLock { $0 } == Array(repeating: 1, count: readers))
    }
}
