import Foundation
import StoreConformance
import Synchronization
import Testing

@testable import Orion

/// Another process holding the database's write lock until ``release()``.
final class ChildHoldingLock: @unchecked Sendable {
    // `@unchecked Sendable`: the process and pipes are used from the test's task only.
    private let child = Process()
    private let input = Pipe()

    init(path: String) throws {
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["hold-until-released", path]
        let output = Pipe()
        child.standardOutput = output
        child.standardInput = input
        try child.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        guard String(decoding: seen, as: UTF8.self).contains("locked") else {
            throw StoreError(.io, "the child never took the lock: \(String(decoding: seen, as: UTF8.self))")
        }
    }

    func release() {
        input.fileHandleForWriting.write("go\n".data(using: .utf8)!)
        child.waitUntilExit()
    }
}

@Suite("Lanes: the synchronous store inside async code", .timeLimit(.minutes(2)))
struct LaneTests {
    let dir = TempDir()

    @Test("read and write bodies run on the store's own threads, never the caller's")
    func ownThreads() async throws {
        let store = try todoStore(dir)
        let caller = currentThreadID()
        let (readThread, readKind) = try await store.read { (currentThreadID(), LaneThread.current?.kind) }
        let (writeThread, writeKind) = try await store.write { (currentThreadID(), LaneThread.current?.kind) }
        #expect(readThread != caller && writeThread != caller)
        #expect(readKind == .read && writeKind == .write)
    }

    /// The stuck writer of the issue: another connection holds the write lock, 32 writes wait,
    /// and reads and an unrelated task are still served while they do.
    @Test("with another connection holding the write lock, 32 waiting writes leave reads and plain tasks served")
    func stuckWriterConnection() async throws {
        let store = try SQLiteStore(path: dir.path(), busyTimeout: .seconds(60))
        try store.migrate("todos", Todos.migrations)
        try Todos.insert(store, "committed")
        let other = try SQLiteStore(path: dir.path())
        let held = HeldTransaction(other) { try Todos.insert(other, "other's") }
        try await stuckWriter(
            store,
            release: {
                held.release()
                held.finish()
            })
        #expect(try store.one("select count(*) from todos") == 34)
    }

    @Test("with another process holding the write lock, 32 waiting writes leave reads and plain tasks served")
    func stuckWriterProcess() async throws {
        let store = try SQLiteStore(path: dir.path(), busyTimeout: .seconds(60))
        try store.migrate("todos", Todos.migrations)
        try Todos.insert(store, "committed")
        let child = try ChildHoldingLock(path: dir.path())
        try await stuckWriter(store, release: child.release)
        #expect(try store.one("select count(*) from todos") == 34)
    }

    private func stuckWriter(_ store: SQLiteStore, release: @escaping @Sendable () -> Void) async throws {
        let answered = Counter()
        let writes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<32 {
                    group.addTask {
                        try await store.write { try Todos.insert(store, "waiting \(i)") }
                        answered.add()
                    }
                }
                try await group.waitForAll()
            }
        }
        // One write waits for the lock on the lane's thread, 31 as suspended tasks.
        #expect(await eventually { store.laneFigures.write.queued == 31 })
        for _ in 0..<50 {
            let count: Int? = try await store.read { try store.one("select count(*) from todos") }
            #expect(count == 1)
        }
        #expect(await Task { 42 }.value == 42)
        #expect(answered.count == 0)
        release()
        try await writes.value
        #expect(answered.count == 32)
    }

    @Test("eight writes behind a lock held past the busy timeout all answer within it, none having run")
    func eightWritesTimeOut() async throws {
        let timeout = Duration.seconds(1)
        let store = try SQLiteStore(path: dir.path(), busyTimeout: timeout)
        try store.migrate("todos", Todos.migrations)
        let other = try SQLiteStore(path: dir.path())
        let held = HeldTransaction(other) { try Todos.insert(other, "other's") }
        defer {
            held.release()
            held.finish()
        }
        let ran = Counter()
        // Timed on a thread of the test's own: the cooperative pool may be busy with other suites.
        let waits = try await TimingExecutor.measuring {
            try await withThrowingTaskGroup(of: (Duration, StoreError?).self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(50 * i))
                        let start = ContinuousClock.now
                        do {
                            try await store.write {
                                ran.add()
                                try Todos.insert(store, "late \(i)")
                            }
                            return (ContinuousClock.now - start, nil)
                        } catch let error as StoreError {
                            return (ContinuousClock.now - start, error)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // One after another they would take 8 s; each answers about one timeout after its call.
        for (waited, error) in waits {
            #expect(error?.code == .busy, "\(String(describing: error))")
            #expect(waited < timeout * 2.5, "answered after \(waited)")
        }
        // None ran its body: the one on the lane's thread waited in BEGIN IMMEDIATE.
        #expect(ran.count == 0)
        #expect(try store.one("select count(*) from todos where title like 'late%'") == 0)
    }

    @Test("slow views leave the cooperative pool free")
    func slowViews() async throws {
        let store = try todoStore(dir)
        try Todos.insert(store, "a")
        let finished = Counter()
        let views = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let _: Int? = try await store.read {
                            usleep(300_000)
                            return try store.one("select count(*) from todos")
                        }
                        finished.add()
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(await eventually { store.laneFigures.read.threads == 4 })
        // Eight slow views and two cooperative threads: a plain task still runs at once.
        #expect(await Task { 1 }.value == 1)
        #expect(finished.count == 0)
        try await views.value
        #expect(finished.count == 8)
    }

    @Test("a task cancelled while it waits for the lane leaves at once, and its body never runs")
    func cancelledWaiter() async throws {
        let store = try todoStore(dir)
        let first = await HeldWriteLane(store) { try Todos.insert(store, "first") }
        let ran = Counter()
        let second = Task { try await store.write { ran.add() } }
        #expect(await eventually { store.laneFigures.write.queued == 1 })
        second.cancel()
        // Answered while the first body still holds the lane.
        await #expect(throws: CancellationError.self) { try await second.value }
        first.release()
        try await first.task.value
        #expect(ran.count == 0)
        #expect(store.laneFigures.write.cancelled == 1)
        #expect(try Todos.all(store).map(\.title) == ["first"])
    }

    @Test("a cancellation storm: every task either ran its body and got its answer, or was cancelled and never ran it")
    func cancellationStorm() async throws {
        let store = try todoStore(dir)
        let ran = Counter()
        let tasks = (0..<300).map { i in
            Task { () -> Bool in
                if i % 2 == 0 {
                    try await store.write {
                        ran.add()
                        try Todos.insert(store, "t\(i)")
                    }
                } else {
                    _ = try await store.read { try store.one("select count(*) from todos") as Int? }
                }
                return i % 2 == 0
            }
        }
        for (i, task) in tasks.enumerated() where i % 3 == 0 { task.cancel() }
        var written = 0
        for task in tasks {
            do {
                if try await task.value { written += 1 }
            } catch is CancellationError {}
        }
        #expect(ran.count == written)
        #expect(try store.one("select count(*) from todos") == written)
    }

    @Test("under the write queue, write returns once acknowledged and durable() waits for its commit")
    func lanesUnderWriteQueue() async throws {
        let store = try todoStore(dir, writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)))
        let id = try await store.write { try Todos.insert(store, "queued").lastId }
        #expect(id == 1)
        #expect(store.batchIsOpenForTests)
        let elsewhere = try SQLiteStore(path: dir.path())
        #expect(try elsewhere.one("select count(*) from todos") == 0)
        // A read lane reads committed rows only: the batch's row is not there yet.
        #expect(try await store.read { try store.one("select count(*) from todos") as Int? } == 0)
        let committed = Counter()
        let waiting = Task {
            try await store.durable()
            committed.add()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(committed.count == 0)
        try store.flush()
        try await waiting.value
        #expect(try elsewhere.one("select count(*) from todos") == 1)
        #expect(try await store.read { try store.one("select count(*) from todos") as Int? } == 1)
    }

    @Test("read refuses writes on every kind of store, also where it reads on the writer", arguments: ["file", "memory", "queue"])
    func readRefusesWrites(kind: String) async throws {
        let store =
            switch kind {
            case "memory": try SQLiteStore(path: ":memory:")
            case "queue": try SQLiteStore(path: dir.path(), writeQueue: WriteQueue())
            default: try SQLiteStore(path: dir.path())
            }
        try store.migrate("todos", Todos.migrations)
        for write in [
            { try store.exec("insert into todos (title) values ('x')") },
            { try store.tx {} },
            { try store.flush() },
            { try store.migrate("more", ["create table more (x)"]) },
            { _ = try store.query("insert into todos (title) values ('x') returning id") as [Int] },
        ] as [@Sendable () throws -> Void] {
            await #expect(throws: StoreError.self) { try await store.read(write) }
        }
        #expect(try store.one("select count(*) from todos") == 0)
    }

    @Test("close() answers the callers still waiting with .closed, lets the running body finish, and later calls throw .closed")
    func closeWhileWaiting() async throws {
        // A busy timeout far past the test's own steps: under the whole suite's load they took
        // over the default 5 s once, and the held body's insert then timed out.
        let store = try SQLiteStore(path: dir.path(), busyTimeout: .seconds(60))
        try store.migrate("todos", Todos.migrations)
        let running = await HeldWriteLane(store) { try Todos.insert(store, "running") }
        let waiting = (0..<3).map { i in Task { try await store.write { try Todos.insert(store, "waiting \(i)") } } }
        #expect(await eventually { store.laneFigures.write.queued == 3 })
        let closed = Task {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async { continuation.resume(with: Result { try store.close() }) }
            }
        }
        for task in waiting {
            await #expect(throws: StoreError.self) { try await task.value }
        }
        running.release()
        try await running.task.value
        try await closed.value
        await #expect(throws: StoreError.self) { try await store.read { 1 } }
        await #expect(throws: StoreError.self) { try await store.write { 1 } }
        let reopened = try SQLiteStore(path: dir.path())
        #expect(try reopened.query("select title from todos") == ["running"])
    }

    @Test("a write body that hands a write to another thread and waits for it ends in .busy after the busy timeout, not a hang")
    func handOffInsideWrite() async throws {
        let store = try SQLiteStore(path: dir.path(), busyTimeout: .milliseconds(300))
        try store.migrate("todos", Todos.migrations)
        let handedOff = try await store.write { () -> String in
            let result = Locked<String>("")
            let done = DispatchSemaphore(value: 0)
            Thread {
                do {
                    try Todos.insert(store, "from another thread")
                    result.withLock { $0 = "written" }
                } catch let error as StoreError {
                    result.withLock { $0 = "\(error.code)" }
                } catch {
                    result.withLock { $0 = "\(error)" }
                }
                done.signal()
            }.start()
            done.wait()
            try Todos.insert(store, "from the body")
            return result.withLock { $0 }
        }
        #expect(handedOff == "busy")
        #expect(try Todos.all(store).map(\.title) == ["from the body"])
    }

    @Test("an idle store's lanes hold no thread until used, then park; close ends them")
    func idleLanes() async throws {
        let store = try todoStore(dir)
        #expect(store.laneFigures.read.threads == 0 && store.laneFigures.write.threads == 0)
        _ = try await store.read { 1 }
        _ = try await store.write { 1 }
        #expect(store.laneFigures.read.threads == 1 && store.laneFigures.write.threads == 1)
        try store.close()
        #expect(await eventually { store.laneFigures.read.threads == 0 && store.laneFigures.write.threads == 0 })
    }

    @Test("a write body's deadline holds for its own store only: another store it calls waits as any caller")
    func deadlineIsPerStore() async throws {
        let a = try SQLiteStore(path: dir.path("a.db"), busyTimeout: .milliseconds(100))
        try a.migrate("todos", Todos.migrations)
        let b = try SQLiteStore(path: dir.path("b.db"))
        try b.migrate("todos", Todos.migrations)
        // b's writer is held by another thread for a while; b's own busy timeout is 5 s.
        let held = HeldTransaction(b, after: .milliseconds(300)) { try Todos.insert(b, "held") }
        try await a.write {
            usleep(150_000)  // past a's deadline
            try Todos.insert(a, "a")
            try Todos.insert(b, "b, after waiting for b's writer")
        }
        held.finish()
        #expect(try Todos.all(b).map(\.title) == ["held", "b, after waiting for b's writer"])
    }

    @Test("close() handed to another thread by a write body ends in .busy after the busy timeout, not a hang")
    func closeFromInsideWrite() async throws {
        let store = try SQLiteStore(path: dir.path(), busyTimeout: .milliseconds(200))
        try store.migrate("todos", Todos.migrations)
        let outcome = try await store.write { () -> String in
            let result = Locked("")
            let done = DispatchSemaphore(value: 0)
            Thread {
                do {
                    try store.close()
                    result.withLock { $0 = "closed" }
                } catch let error as StoreError {
                    result.withLock { $0 = "\(error.code)" }
                } catch {}
                done.signal()
            }.start()
            done.wait()
            return result.withLock { $0 }
        }
        #expect(outcome == "busy")
        try store.close()
        #expect(store.isClosed)
    }

    @Test("a cancelled caller's body, and what it captured, are let go at once, while the lane is still busy")
    func cancelledBodyReleased() async throws {
        final class Captured: Sendable {}
        let store = try todoStore(dir)
        let first = await HeldWriteLane(store)
        weak var watched: Captured?
        let second: Task<Void, any Error> = {
            let captured = Captured()
            watched = captured
            return Task { try await store.write { _ = captured } }
        }()
        #expect(await eventually { store.laneFigures.write.queued == 1 })
        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        #expect(await eventually { watched == nil })
        first.release()
        try await first.task.value
    }

    @Test("a store without lanes of its own writes on the shared threads, waiting for one at most its timeout")
    func sharedLanesTimeOut() async throws {
        struct Wrapper: Store {
            let base: SQLiteStore
            func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] { try base.query(sql, params) }
            func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? { try base.one(sql, params) }
            func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult { try base.exec(sql, params) }
            func tx<T>(_ body: () throws -> T) throws -> T { try base.tx(body) }
            func migrate(_ feature: String, _ migrations: [String]) throws { try base.migrate(feature, migrations) }
        }
        let store = Wrapper(base: try todoStore(dir))
        Lane.sharedWriteTimeout = 200_000_000
        defer { Lane.sharedWriteTimeout = 5_000_000_000 }
        let goOn = DispatchSemaphore(value: 0)
        let width = Lane.sharedWrites.width
        // Every shared write thread busy (a body that does not use the store's writer).
        let holders = (0..<width).map { _ in Task { try await store.write { goOn.wait() } } }
        #expect(await eventually { Lane.sharedWrites.snapshot.threads == width && Lane.sharedWrites.snapshot.queued == 0 })
        let waited = await TimingExecutor.measuring {
            let start = ContinuousClock.now
            await #expect(throws: StoreError.self) { try await store.write { try Todos.insert(store, "late") } }
            return ContinuousClock.now - start
        }
        #expect(waited < .seconds(3))
        for _ in 0..<width { goOn.signal() }
        for holder in holders { try await holder.value }
        try await store.write { try Todos.insert(store, "in time") }
        #expect(try Todos.all(store).map(\.title) == ["in time"])
    }

    @Test("observe runs its view on the read lane, and ends quietly when the store closes")
    func observeOnLane() async throws {
        let store = try todoStore(dir)
        var iterator = store.observe { (LaneThread.current?.kind, try Todos.all(store).count) }.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first?.0 == .read && first?.1 == 0)
        try store.close()
        #expect(try await iterator.next() == nil)
    }
}
