import Foundation
import Hummingbird
import HummingbirdTesting
import Orion
import OrionPostgres
import Synchronization
import Testing

@testable import TodoBoard

/// Another connection holding the database's write lock (SQLite: a `tx` open on the file;
/// PostgreSQL: `LOCK TABLE todos IN EXCLUSIVE MODE`, which still lets readers read) until the
/// returned function is called.
private func holdWriteLock(_ settings: Settings) throws -> @Sendable () -> Void {
    let locked = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    let other: any Store
    let close: @Sendable () -> Void
    if let url = settings.postgresURL {
        let store = try PostgresStore(url: url, poolSize: 1)
        (other, close) = (store, { store.close() })
    } else {
        let store = try SQLiteStore(path: settings.database)
        (other, close) = (store, { try? store.close() })
    }
    let postgres = settings.postgresURL != nil
    Thread.detachNewThread {
        _ = try? other.tx {
            if postgres {
                try other.exec("lock table todos in exclusive mode")
            } else {
                try other.exec("insert into todos (title) values ('written elsewhere')")
            }
            locked.signal()
            release.wait()
        }
        done.signal()
    }
    locked.wait()
    return {
        release.signal()
        done.wait()
        close()
    }
}

/// How many forms have had their answer.
private final class Answered: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

@Suite("A stuck writer never freezes the board")
struct StuckWriterTests {
    static let databases: [String] = PG.url == nil ? ["sqlite"] : ["sqlite", "postgres"]

    /// The scene: while another connection holds the write lock, eight forms wait for
    /// it, and the board is still served; once it is released, every form lands, and a form
    /// posted after that succeeds at once.
    @Test("while another connection holds the write lock, eight waiting forms leave the board served", arguments: databases)
    func boardServedWhileFormsWait(database: String) async throws {
        let harness = try Harness(postgres: database == "postgres" ? try PG.freshDatabase() : nil)
        try await harness.test(.router) { client async throws in
            #expect(try await client.post("/todos", ["title": "before"]).status == .seeOther)
            let release = try holdWriteLock(harness.settings)
            let answered = Answered()
            let forms = Task {
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for i in 0..<8 {
                        group.addTask {
                            let status = try await client.post("/todos", ["title": "waiting \(i)"]).status
                            answered.add()
                            return status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            // The board answers, again and again, while the eight forms wait.
            for _ in 0..<20 {
                let board = try await client.get("/")
                #expect(board.status == .ok)
                #expect(board.text.contains("value=\"before\""))
            }
            #expect(answered.count == 0)
            release()
            let statuses = try await forms.value
            #expect(statuses == Array(repeating: .seeOther, count: 8))
            #expect(try await client.post("/todos", ["title": "after"]).status == .seeOther)
            let board = try await client.get("/").text
            #expect(board.contains("value=\"after\""))
            #expect(board.contains("value=\"waiting 7\""))
        }
    }
}
