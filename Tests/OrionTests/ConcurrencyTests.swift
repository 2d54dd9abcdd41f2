import Foundation
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
        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let writer = Thread {
            try? store.tx {
                try Todos.insert(store, "pending")
                inside.signal()
                release.wait()
            }
        }
        writer.start()
        inside.wait()
        let count: Int? = try store.one("select count(*) from todos")
        release.signal()
        #expect(count == 1)
    }

    @Test("two stores on one file wait each other out instead of failing")
    func twoStores() throws {
        let first = try todoStore(dir)
        let second = try SQLiteStore(path: dir.path())
        let inside = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            try? first.tx {
                try Todos.insert(first, "first")
                inside.signal()
                usleep(300_000)
            }
            done.signal()
        }.start()
        inside.wait()
        try second.tx { try Todos.insert(second, "second") }
        done.wait()
        #expect(try Todos.all(second).map(\.title) == ["first", "second"])
    }

    @Test("two processes on one file wait each other out instead of failing")
    func twoProcesses() throws {
        let store = try todoStore(dir)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
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
