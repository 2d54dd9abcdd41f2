import Foundation
import Synchronization
import Testing

@testable import Orion

@Suite("Threads and processes")
struct ConcurrencyTests {
    let dir = TempDir()

    @Test("reads from many threads run in parallel and see committed rows")
    func parallelReads() throws {
        let store = try todoStore(dir)
        for i in 0..<100 { try Todos.insert(store, "t\(i)") }
        try onThreads(8) { _ in
            for id in 1...100 {
                let todo: Todo? = try store.one("select id, title, done from todos where id = ?", id)
                #expect(todo?.title == "t\(id - 1)")
            }
        }
    }

    @Test("writes from many threads all land")
    func parallelWrites() throws {
        let store = try todoStore(dir)
        try onThreads(8) { t in
            for i in 0..<100 { try Todos.insert(store, "\(t)-\(i)") }
        }
        #expect(try store.one("select count(*) from todos") == 800)
    }

    @Test("a reader is not blocked by an open write transaction")
    func readersDoNotWait() throws {
        let store = try todoStore(dir)
        try Todos.insert(store, "committed")
        let held = HeldTransaction(store) { try Todos.insert(store, "pending") }
        let count: Int? = try store.one("select count(*) from todos")
        held.release()
        held.finish()
        #expect(count == 1)
    }

    @Test("two stores on one file wait each other out instead of failing")
    func twoStores() throws {
        let first = try todoStore(dir)
        let second = try SQLiteStore(path: dir.path())
        let held = HeldTransaction(first, after: .milliseconds(300)) { try Todos.insert(first, "first") }
        try second.tx { try Todos.insert(second, "second") }
        held.finish()
        #expect(try Todos.all(second).map(\.title) == ["first", "second"])
    }

    @Test("two processes on one file wait each other out instead of failing")
    func twoProcesses() throws {
        let store = try todoStore(dir)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["hold", dir.path(), "400"]
        let pipe = Pipe()
        child.standardOutput = pipe
        try child.run()
        var output = Data()
        while !String(decoding: output, as: UTF8.self).contains("locked") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
        }
        #expect(String(decoding: output, as: UTF8.self).contains("locked"))
        try store.tx { try Todos.insert(store, "parent") }
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        #expect(try Todos.all(store).map(\.title) == ["from the child", "parent"])
    }
}

@Suite("Pool and cache limits")
struct LimitTests {
    let dir = TempDir()

    @Test("more reading threads than reader connections wait their turn and all succeed")
    func poolExhaustion() throws {
        let store = try SQLiteStore(path: dir.path(), readers: 1)
        try store.migrate("todos", Todos.migrations)
        for i in 0..<10 { try Todos.insert(store, "t\(i)") }
        try onThreads(6) { _ in
            for _ in 0..<200 {
                let n: Int? = try store.one("select count(*) from todos")
                #expect(n == 10)
            }
        }
    }

    @Test("a small statement cache evicts the least recently used statement and keeps working")
    func cacheEviction() throws {
        let store = try SQLiteStore(path: ":memory:", statementCacheSize: 3)
        for round in 0..<3 {
            for i in 0..<10 {
                let v: Int? = try store.one("select \(i) + ? -- a statement long enough to be cached by address", round)
                #expect(v == i + round)
            }
        }
        #expect(try store.writerCacheCount() <= 3)
    }

    @Test("close waits for reads in flight, and reads after it fail cleanly")
    func closeDuringReads() throws {
        let store = try todoStore(dir)
        for i in 0..<50 { try Todos.insert(store, "t\(i)") }
        /// A row whose decoding holds the read open until the test lets it go.
        struct HeldTodo: Decodable {
            nonisolated(unsafe) static var inside = DispatchSemaphore(value: 0)
            nonisolated(unsafe) static var proceed = DispatchSemaphore(value: 0)
            let id: Int
            init(from decoder: any Decoder) throws {
                id = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .id)
                if id == 1 {
                    Self.inside.signal()
                    Self.proceed.wait()
                }
            }
            enum CodingKeys: String, CodingKey { case id }
        }
        let inFlight = Locked<Result<[HeldTodo], any Error>?>(nil)
        let reader = Thread {
            let result = Result { () throws -> [HeldTodo] in try store.query("select id from todos order by id") }
            inFlight.withLock { $0 = result }
        }
        reader.start()
        HeldTodo.inside.wait()
        // The read is inside its decoding, holding a reader connection. Close from another thread,
        // and wait until the store refuses new calls: close has begun while the read is in flight.
        let closed = DispatchSemaphore(value: 0)
        let closeFailure = Locked<(any Error)?>(nil)
        Thread {
            do { try store.close() } catch { closeFailure.withLock { $0 = error } }
            closed.signal()
        }.start()
        while true {
            do {
                let _: Int? = try store.one("select 1")
            } catch let error as StoreError where error.code == .closed {
                break
            }
        }
        #expect(closed.wait(timeout: .now() + 0.2) == .timedOut, "close must wait for the read in flight")
        HeldTodo.proceed.signal()
        closed.wait()
        let result = try #require(inFlight.withLock { $0 })
        #expect(try result.get().count == 50, "the read in flight finishes with all its rows")
        #expect(closeFailure.withLock { $0 } == nil)
        expectStoreError(.closed) { let _: [Todo] = try Todos.all(store) }
    }
}
