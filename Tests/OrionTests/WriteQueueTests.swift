import Foundation
import Synchronization
import Testing

@testable import Orion

/// A queue that holds its batch open until flushed (unless a test says otherwise): its timer (an
/// hour) never fires in a test, however starved the cooperative pool is while the whole suite
/// runs (at 60 s, a test once saw it fire).
let holdOpen = WriteQueue(maxBatch: 1000, maxDelay: .seconds(3600))

@Suite("The write queue: group commit")
struct WriteQueueTests {
    let dir = TempDir()

    /// What a second connection (another store) sees: only committed rows.
    func committedCount(_ table: String = "todos") throws -> Int {
        let observer = try SQLiteStore(path: dir.path())
        defer { try? observer.close() }
        return try observer.one("select count(*) from \(table)") ?? -1
    }

    @Test("writes return real results at once and join one open batch until flush")
    func batches() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        #expect(try Todos.insert(store, "a") == ExecResult(changes: 1, lastId: 1))
        #expect(try Todos.insert(store, "b") == ExecResult(changes: 1, lastId: 2))
        #expect(try store.exec("update todos set done = 1") == ExecResult(changes: 2, lastId: 0))
        #expect(try committedCount() == 0)
        try store.flush()
        #expect(try committedCount() == 2)
        #expect(store.writeQueueMetrics.batches == 1)
        #expect(store.writeQueueMetrics.writes == 3)
    }

    @Test("one of a write with RETURNING: a row, no row or a NULL, and the write stands", arguments: [false, true])
    func returningNothing(queued: Bool) throws {
        let store = try todoStore(dir, writeQueue: queued ? holdOpen : nil)
        let id: Int? = try store.one("insert into todos (title) values (?) returning id", "a")
        #expect(id == 1)
        // Deletes nothing: no row.
        let gone: Int? = try store.one("delete from todos where id = ? returning id", 99)
        #expect(gone == nil)
        // Changes a row and returns a NULL.
        let note: String? = try store.one("update todos set done = 1 where id = ? returning null", 1)
        #expect(note == nil)
        try store.flush()
        #expect(try store.one("select done from todos where id = 1") == true)
        #expect(try committedCount() == 1)
        if queued { #expect(store.writeQueueMetrics.writes == 3) }
    }

    @Test("the thread that wrote into the open batch reads its own rows; every other reader sees committed rows only")
    func readYourWrites() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "pending")
        #expect(try store.one("select count(*) from todos") == 1)
        let seen = Locked<Int?>(nil)
        try onThreads(1) { _ in
            let count: Int? = try store.one("select count(*) from todos")
            seen.withLock { $0 = count }
        }
        #expect(seen.withLock { $0 } == 0)
        #expect(store.batchIsOpenForTests)
        try store.flush()
        try onThreads(1) { _ in
            let count: Int? = try store.one("select count(*) from todos")
            seen.withLock { $0 = count }
        }
        #expect(seen.withLock { $0 } == 1)
        #expect(try committedCount() == 1)
    }

    @Test("a task that wrote into the open batch reads its rows until it suspends; other tasks do not")
    func taskReadsItsWrites() async throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "mine")
        #expect(try store.one("select count(*) from todos") == 1)
        #expect(try store.one("select title from todos") == "mine")
        let other = try await Task.detached { () throws -> Int? in try store.one("select count(*) from todos") }.value
        #expect(other == 0)
        try store.flush()
        let after = try await Task.detached { () throws -> Int? in try store.one("select count(*) from todos") }.value
        #expect(after == 1)
    }

    @Test("reads never wait for the batch, even while a tx holds the writer")
    func readsNeverWait() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "committed")
        try store.flush()
        let held = HeldTransaction(store) { try Todos.insert(store, "in a tx that waits") }
        defer {
            held.release()
            held.finish()
        }
        let done = DispatchSemaphore(value: 0)
        let seen = Locked<Int?>(nil)
        Thread {
            let count: Int? = try? store.one("select count(*) from todos")
            seen.withLock { $0 = count }
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 10) == .success, "a read waited for the writer")
        #expect(seen.withLock { $0 } == 1)
    }

    @Test("maxBatch commits the write that reaches it before returning")
    func maxBatch() throws {
        let store = try todoStore(dir, writeQueue: WriteQueue(maxBatch: 3, maxDelay: .seconds(60)))
        for i in 0..<4 { try Todos.insert(store, "\(i)") }
        #expect(try committedCount() == 3)
        try store.flush()
        #expect(try committedCount() == 4)
    }

    @Test("maxBatch counts a whole tx as one unit and commits right after it")
    func maxBatchCountsTx() throws {
        let store = try todoStore(dir, writeQueue: WriteQueue(maxBatch: 2, maxDelay: .seconds(60)))
        try Todos.insert(store, "a")
        try store.tx {
            for i in 0..<5 { try Todos.insert(store, "tx \(i)") }
            #expect(try committedCount() == 0)
        }
        #expect(try committedCount() == 6)
    }

    @Test("a throwing tx rolls back to its savepoint and the rest of the batch is untouched")
    func throwingTx() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "before")
        #expect(throws: Boom.self) {
            try store.tx {
                try Todos.insert(store, "doomed")
                throw Boom()
            }
        }
        try Todos.insert(store, "after")
        try store.flush()
        #expect(try Todos.all(store).map(\.title) == ["before", "after"])
    }

    @Test("a failing exec undoes only itself, even an OR FAIL that got halfway")
    func failingExec() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try store.exec("create table u (v integer unique)")
        try Todos.insert(store, "kept")
        expectStoreError(.constraint) { try store.exec("insert or fail into u values (1), (1)") }
        try store.flush()
        #expect(try store.one("select count(*) from u") == 0)
        #expect(try committedCount() == 1)
    }

    @Test("a write that leaves a deferred foreign-key violation is refused alone; the batch commits")
    func deferredForeignKey() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try store.migrate(
            "links",
            [
                "create table parents (id integer primary key)",
                "create table kids (id integer primary key, pid integer references parents(id) deferrable initially deferred)",
            ])
        try Todos.insert(store, "a")
        let error = expectStoreError(.constraint) { try store.exec("insert into kids (pid) values (42)") }
        #expect(error?.message.contains("deferred foreign-key") == true)
        try Todos.insert(store, "b")
        try store.flush()
        #expect(try committedCount() == 2)
        #expect(try committedCount("kids") == 0)
    }

    @Test("when SQLite ends a batch holding acknowledged writes, the store stops its write path and says how many were lost")
    func sqliteEndsBatch() async throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try store.exec("create table big (pad text)")
        try store.flush()
        try Todos.insert(store, "a")
        try Todos.insert(store, "b")
        // SQLite gives up the whole transaction when a full disk stops a statement that has no
        // statement journal (a single-row insert): the writer's page budget runs out here.
        let pages: Int = try store.one("pragma page_count") ?? 0
        try store.runOnWriterForTests("pragma max_page_count = \(pages + 2)")
        var stopped: StoreError?
        for _ in 0..<50 where stopped == nil {
            do {
                try store.exec("insert into big values (?)", String(repeating: "y", count: 20_000))
            } catch let error as StoreError where error.code == .writeQueueStopped {
                stopped = error
            } catch {}
        }
        let error = try #require(stopped)
        #expect(error.message.contains("losing its"))
        #expect(error.message.contains("SQLITE_FULL"))
        expectStoreError(.writeQueueStopped) { try Todos.insert(store, "c") }
        expectStoreError(.writeQueueStopped) { try store.flush() }
        await #expect(throws: StoreError.self) { try await store.durable() }
        #expect(try committedCount() == 0)
        try store.close()
        let reopened = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(reopened, "fresh")
        try reopened.flush()
        #expect(try committedCount() == 1)
    }

    @Test("a full disk mid-batch loses the batch together or the write alone, never acknowledges a lost write")
    func diskFull() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try store.exec("create table big (pad text)")
        try store.flush()
        let pages: Int = try store.one("pragma page_count") ?? 0
        try store.runOnWriterForTests("pragma max_page_count = \(pages + 3)")
        var acknowledged = 0
        var failure: StoreError?
        for _ in 0..<100 {
            do {
                try store.exec("insert into big values (?)", String(repeating: "x", count: 2000))
                acknowledged += 1
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure)
        #expect(error.code == .writeQueueStopped || error.code == .io, "\(error)")
        if error.code == .writeQueueStopped {
            #expect(error.message.contains("SQLITE_FULL"))
            #expect(error.message.contains("losing its \(acknowledged) acknowledged"))
            #expect(throws: StoreError.self) { try store.flush() }
            #expect(try committedCount("big") == 0)
        } else {
            try store.flush()
            #expect(try committedCount("big") == acknowledged)
        }
    }

    @Test("durable() waits for the commit without forcing it early")
    func durableWaits() async throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "a")
        let finished = Atomic<Bool>(false)
        let waiter = Task {
            try await store.durable()
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        for _ in 0..<20 { await Task.yield() }
        // The batch can only commit through flush() here: durable() did not force it.
        let early = finished.load(ordering: .sequentiallyConsistent)
        #expect(!early)
        #expect(try committedCount() == 0)
        try store.flush()
        try await waiter.value
        let done = finished.load(ordering: .sequentiallyConsistent)
        #expect(done)
        #expect(try committedCount() == 1)
        #expect(store.writeQueueMetrics.waitersResumed <= 1)
    }

    @Test("durable() returns at once when nothing is pending, and without a queue", .timeLimit(.minutes(1)))
    func durableIdle() async throws {
        // With a batch that would stay open for a minute, durable() would wait for it: here
        // there is none, so it returns without a commit to wait for.
        let store = try todoStore(dir, writeQueue: holdOpen)
        try await store.durable()
        #expect(store.writeQueueMetrics.batches == 0)
        #expect(store.writeQueueMetrics.waitersResumed == 0)
        #expect(!store.batchIsOpenForTests)
        // Without a queue every write is committed when exec returns.
        let plain = try SQLiteStore(path: dir.path("plain.db"))
        try plain.exec("create table t (v integer)")
        try plain.exec("insert into t values (1)")
        try await plain.durable()
        let other = try SQLiteStore(path: dir.path("plain.db"))
        #expect(try other.one("select count(*) from t") == 1)
    }

    @Test("with a zero delay the batch commits as soon as the writer is free")
    func zeroDelay() async throws {
        let store = try todoStore(dir, writeQueue: WriteQueue())
        for i in 0..<20 { try Todos.insert(store, "\(i)") }
        try await store.durable()
        #expect(try committedCount() == 20)
    }

    @Test("many writer threads share batches and every write commits")
    func concurrentWriters() async throws {
        let store = try todoStore(dir, writeQueue: WriteQueue())
        try onThreads(16) { t in
            for i in 0..<50 { try Todos.insert(store, "\(t)-\(i)") }
        }
        try await store.durable()
        #expect(try committedCount() == 800)
        let metrics = store.writeQueueMetrics
        #expect(metrics.writes == 800)
        #expect(metrics.batches <= 800)
    }

    @Test("close() commits the open batch")
    func closeCommits() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "a")
        try store.close()
        #expect(try committedCount() == 1)
    }

    @Test("a process that exits normally commits its open batch")
    func exitCommits() throws {
        _ = try todoStore(dir)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["exit-with-batch", dir.path()]
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        #expect(try committedCount() == 5)
    }

    @Test("migrate commits the pending batch first, then each entry on its own")
    func migrateFlushes() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "a")
        try store.migrate("notes", ["create table notes (id integer primary key)"])
        #expect(try committedCount() == 1)
        #expect(try committedCount("notes") == 0)
    }

    @Test("onBatch reports each commit with its size and waiters")
    func onBatch() throws {
        let events = Locked<[BatchEvent]>([])
        let store = try todoStore(
            dir,
            writeQueue: WriteQueue(
                maxBatch: 1000, maxDelay: .seconds(60),
                onBatch: { event in
                    events.withLock { $0.append(event) }
                }))
        try Todos.insert(store, "a")
        try Todos.insert(store, "b")
        try store.flush()
        let sizes = events.withLock { $0.map(\.size) }
        #expect(sizes == [2])
    }

    @Test("flush() inside tx is refused")
    func flushInsideTx() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try store.tx {
            expectStoreError(.misuse) { try store.flush() }
        }
    }
}

@Suite("The write queue with scopes, nesting and interruptions")
struct WriteQueueEdgeTests {
    let dir = TempDir()

    @Test("the fence holds inside a batch, and a refused statement does not harm the batch")
    func fenceInBatch() throws {
        let store = try twoFeatures(dir, writeQueue: holdOpen)
        let todos = store.scoped(to: "todos")
        try todos.exec("insert into todos (title) values ('a')")
        expectStoreError(.fence) { try todos.exec("delete from users") }
        try todos.exec("insert into todos (title) values ('b')")
        try store.flush()
        #expect(try store.one("select count(*) from todos") == 2)
        #expect(try store.one("select count(*) from users") == 2)
    }

    @Test("nested tx inside a batch roll back only their own level")
    func nestedInBatch() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try Todos.insert(store, "before")
        try store.tx {
            try Todos.insert(store, "outer")
            #expect(throws: Boom.self) {
                try store.tx {
                    try Todos.insert(store, "inner")
                    throw Boom()
                }
            }
        }
        try store.flush()
        #expect(try Todos.all(store).map(\.title) == ["before", "outer"])
    }

    @Test("a write stopped by the time limit inside tx ends that tx whole, and nothing leaks out")
    func interruptedWriteInTx() throws {
        let store = try SQLiteStore(path: dir.path("limited.db"), statementTimeLimit: .milliseconds(50))
        try store.migrate("todos", Todos.migrations)
        try store.exec("create table big (n integer)")
        #expect(throws: StoreError.self) {
            try store.tx {
                try Todos.insert(store, "in tx")
                _ = try? store.exec("insert into big with recursive c(n) as (select 1 union all select n + 1 from c) select n from c")
                try Todos.insert(store, "after the interruption")
            }
        }
        #expect(try Todos.all(store).isEmpty)
        #expect(try store.one("select count(*) from big") == 0)
        try Todos.insert(store, "fine")
        #expect(try Todos.all(store).map(\.title) == ["fine"])
    }
}
