import Foundation
import Synchronization
import Testing

@testable import Orion

/// What no caller's statement may do to the others' writes in a shared batch.
@Suite("The write queue keeps other callers' acknowledged writes")
struct WriteQueueSafetyTests {
    let dir = TempDir()

    /// What a second connection (another store) sees: only committed rows.
    func committed(_ sql: String = "select count(*) from todos") throws -> Int {
        let observer = try SQLiteStore(path: dir.path())
        defer { try? observer.close() }
        return try observer.one(sql) ?? -1
    }

    /// An insert that takes far longer than 50 ms, then ends.
    static let slowInsert = "insert into big (n) with recursive c(n) as (select 1 union all select n + 1 from c where n < 3000000) select n from c"
    /// An insert that never ends by itself.
    static let endlessInsert = "insert into big (n) with recursive c(n) as (select 1 union all select n + 1 from c) select n from c"

    func limitedStore() throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen, statementTimeLimit: .milliseconds(50))
        try store.migrate("todos", Todos.migrations)
        try store.migrate("big", ["create table big (n integer)"])
        return store
    }

    @Test("a write past the time limit in a batch holding others' writes runs to its end; nothing is lost")
    func slowWriteInSharedBatch() throws {
        let store = try limitedStore()
        try Todos.insert(store, "a")
        try Todos.insert(store, "b")
        try store.exec(Self.slowInsert)
        try Todos.insert(store, "c")
        try store.flush()
        #expect(try committed() == 3)
        #expect(try committed("select count(*) from big") == 3_000_000)
    }

    @Test("a write past the time limit alone in its batch is stopped; the write path goes on")
    func slowWriteAlone() async throws {
        let store = try limitedStore()
        let error = expectStoreError(.interrupted) { try store.exec(Self.endlessInsert) }
        #expect(error?.message.contains("time limit") == true)
        try Todos.insert(store, "after")
        try store.flush()
        try await store.durable()
        #expect(try committed() == 1)
        #expect(try committed("select count(*) from big") == 0)
        #expect(store.writeQueueMetrics.batches == 1)
    }

    @Test("reads on the writer are still stopped by the time limit inside a batch")
    func slowReadInBatch() throws {
        let store = try limitedStore()
        try Todos.insert(store, "a")
        expectStoreError(.interrupted) {
            let _: Int? = try store.one("with recursive c(n) as (select 1 union all select n + 1 from c) select count(*) from c")
        }
        try Todos.insert(store, "b")
        try store.flush()
        #expect(try committed() == 2)
    }

    @Test(
        "statements that roll back the whole transaction run in a batch of their own",
        arguments: [
            ("create table u (v integer unique)", "insert or rollback into u values (1)"),
            ("create table u (v integer unique on conflict rollback)", "insert into u values (1)"),
            (
                "create table u (v integer); create trigger no_dupes before insert on u when exists (select 1 from u where v = new.v) begin select raise(rollback, 'duplicate'); end",
                "insert into u values (1)"
            ),
        ])
    func rollbackForms(schema: String, conflicting: String) async throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen)
        try store.migrate("todos", Todos.migrations)
        try store.migrate("u", [schema])
        try store.exec("insert into u values (1)")
        try Todos.insert(store, "a")
        try Todos.insert(store, "b")
        // The earlier units commit first; the conflict then ends only its own transaction.
        expectStoreError(.constraint) { try store.exec(conflicting) }
        #expect(try committed() == 2)
        try Todos.insert(store, "c")
        try store.flush()
        try await store.durable()
        #expect(try committed() == 3)
        #expect(try committed("select count(*) from u") == 1)
    }

    @Test("inside a tx sharing a batch, a statement that can roll back everything is refused before it runs")
    func rollbackFormInSharedTx() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen)
        try store.migrate("todos", Todos.migrations)
        try store.migrate("u", ["create table u (v integer unique)"])
        try Todos.insert(store, "a")
        let error = expectStoreError(.misuse) {
            try store.tx {
                try Todos.insert(store, "in tx")
                try store.exec("insert or rollback into u values (1)")
            }
        }
        #expect(error?.message.contains("ON CONFLICT ROLLBACK") == true)
        try store.flush()
        #expect(try committed() == 1)
        #expect(try committed("select count(*) from u") == 0)
    }

    @Test("when SQLite rolls back a tx alone in its batch, the tx commits nothing, its nested ones included, and the path goes on")
    func txEndedBySQLite() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen)
        try store.migrate("todos", Todos.migrations)
        try store.migrate("u", ["create table u (v integer unique)", "insert into u values (1)"])
        for nested in [false, true] {
            let error = expectStoreError(.constraint) {
                try store.tx {
                    try Todos.insert(store, "a")
                    if nested {
                        _ = try? store.tx { try store.exec("insert or rollback into u values (1)") }
                    } else {
                        _ = try? store.exec("insert or rollback into u values (1)")
                    }
                    try Todos.insert(store, "b")
                }
            }
            #expect(error?.message.contains("rolled back the whole transaction") == true)
            try store.flush()
            #expect(try committed() == 0)
        }
        try Todos.insert(store, "after")
        try store.flush()
        #expect(try committed() == 1)
    }

    @Test("when SQLite ends a batch under a running tx, the rest of the tx never commits on its own")
    func txAfterLostBatch() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen)
        try store.migrate("todos", Todos.migrations)
        try store.migrate("big", ["create table big (pad text)"])
        let pages: Int = try store.one("pragma page_count") ?? 0
        try store.runOnWriterForTests("pragma max_page_count = \(pages + 4)")
        try Todos.insert(store, "a")
        // Single-row inserts run without a statement journal: when the page budget runs out,
        // SQLite rolls back the whole transaction, and with it the batch.
        let error = expectStoreError(.writeQueueStopped) {
            try store.tx {
                try Todos.insert(store, "first in tx")
                for _ in 0..<100 {
                    _ = try? store.exec("insert into big values (?)", String(repeating: "x", count: 3000))
                }
                try Todos.insert(store, "last in tx")
            }
        }
        #expect(error?.message.contains("losing its 1 acknowledged write") == true)
        #expect(try committed() == 0)
    }

    @Test("a stream of writes and reads on the writer does not keep a zero-delay batch open")
    func readsDoNotStarveTheCommit() throws {
        // Threads that write into the batch read on the writer (their own rows): with a batch
        // limit they never reach, the writer is never free, and only the bound commits.
        let store = try todoStore(dir, writeQueue: WriteQueue(maxBatch: 1_000_000))
        let stop = Atomic<Bool>(false)
        let running = Atomic<Int>(0)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for t in 0..<4 {
            finished.enter()
            Thread {
                running.add(1, ordering: .sequentiallyConsistent)
                started.signal()
                let begin = ContinuousClock.now
                var i = 0
                while !stop.load(ordering: .sequentiallyConsistent), ContinuousClock.now - begin < .seconds(20) {
                    if i % 50 == 0 { _ = try? Todos.insert(store, "t\(t)-\(i)") }
                    let _: Int? = try? store.one("select count(*) from todos")
                    i += 1
                }
                running.subtract(1, ordering: .sequentiallyConsistent)
                finished.leave()
            }.start()
        }
        for _ in 0..<4 { started.wait() }
        while store.writeQueueMetrics.batches < 3, running.load(ordering: .sequentiallyConsistent) == 4 {
            usleep(1000)
        }
        let stillRunning = running.load(ordering: .sequentiallyConsistent)
        stop.store(true, ordering: .sequentiallyConsistent)
        finished.wait()
        #expect(stillRunning == 4, "batches committed only after the threads gave up")
        try store.flush()
        #expect(try committed() == (try store.one("select count(*) from todos") ?? -1))
    }

    @Test("onBatch runs outside the writer: it may wait for a write from another thread")
    func onBatchOutsideTheLock() throws {
        let holderChecked = Locked<[Bool]>([])
        let otherWriteLanded = Locked<[Bool]>([])
        let box = Locked<SQLiteStore?>(nil)
        let queue = WriteQueue(
            maxBatch: 1,
            onBatch: { event in
                guard event.failure == nil, let store = box.withLock({ $0 }) else { return }
                holderChecked.withLock { $0.append(store.writerHeldByCurrentThreadForTests) }
                guard otherWriteLanded.withLock({ $0.isEmpty }) else { return }
                let done = DispatchSemaphore(value: 0)
                Thread {
                    _ = try? store.exec("insert into todos (title) values ('from the handler')")
                    done.signal()
                }.start()
                let landed = done.wait(timeout: .now() + 10) == .success
                otherWriteLanded.withLock { $0.append(landed) }
            })
        let store = try todoStore(dir, writeQueue: queue)
        box.withLock { $0 = store }
        try Todos.insert(store, "a")
        #expect(otherWriteLanded.withLock { $0 } == [true])
        #expect(holderChecked.withLock { $0 }.allSatisfy { !$0 })
        #expect(try committed() == 2)
        box.withLock { $0 = nil }
    }

    @Test("an exit that cannot commit the open batch says so, with the number of writes lost")
    func exitReportsLoss() throws {
        _ = try todoStore(dir)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["exit-with-busy-writer", dir.path()]
        let errors = Pipe()
        child.standardOutput = FileHandle.nullDevice
        child.standardError = errors
        try child.run()
        child.waitUntilExit()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.contains("was not committed at process exit"), "\(said)")
        #expect(said.contains("its 3 acknowledged writes are lost"), "\(said)")
        #expect(try committed() == 0)
    }
}
