import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOHTTP1
import Orion
import Synchronization
import Testing

@testable import TodoBoard

/// The path of an executable the build made (`todos`), beside the test binary.
func builtExecutable(_ name: String) -> String {
    let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    var folder = me.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), folder.path != "/" {
        folder = folder.deletingLastPathComponent()
    }
    return folder.appendingPathComponent(name).path
}

/// A value shared between tasks and callbacks.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { value.withLock(body) }
}

/// The `todos` executable, started as a user starts it, on a file of its own.
final class RunningApp: Sendable {
    let process: Process
    let port: Int
    let output: Shared<String>

    init(database: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: builtExecutable("todos"))
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["PORT": "0", "HOST": "127.0.0.1", "ORION_DB": database, "ORION_POSTGRES_URL": ""], uniquingKeysWith: { $1 })
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = Shared("")
        let announced = AsyncStream<Int>.makeStream()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                announced.continuation.finish()
                return
            }
            let text = output.withLock { output in
                output += String(decoding: data, as: UTF8.self)
                return output
            }
            if let range = text.range(of: #"todo board on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(text[range].split(separator: ":").last!)
            {
                announced.continuation.yield(port)
            }
        }
        try process.run()
        self.process = process
        self.output = output
        var ports = announced.stream.makeAsyncIterator()
        guard let port = await ports.next() else {
            throw POSIXError(.ECHILD)
        }
        self.port = port
    }

    /// Waits (at most `seconds`) for the process to exit; its status, or nil if it is still running.
    func exit(within seconds: Double) async -> (Process.TerminationReason, Int32)? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : (process.terminationReason, process.terminationStatus)
    }
}

@Suite("Graceful shutdown of the real executable", .serialized)
struct ShutdownTests {
    @Test("SIGTERM under writes: streams end, the queue is flushed, exit code 0, and every acknowledged write is in the file")
    func sigtermUnderWrites() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("app.db").path
        let app = try await RunningApp(database: database)
        let base = "http://127.0.0.1:\(app.port)"
        let viewer = Viewer(url: base + "/events")
        #expect(await viewer.waitFor { ($0.data ?? "").contains("0 of 0 done") })

        let acknowledged = Shared<[String]>([])
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var n = 0
                        while !Task.isCancelled {
                            n += 1
                            let title = "w\(writer)-\(n)"
                            var request = HTTPClientRequest(url: base + "/todos")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                            request.body = .bytes(ByteBuffer(string: "title=\(title)"))
                            guard let response = try? await streams.execute(request, timeout: .seconds(10)) else { return }
                            guard response.status == .seeOther else { return }
                            acknowledged.withLock { $0.append(title) }
                        }
                    }
                }
            }
        }
        #expect(await eventually { acknowledged.withLock { $0.count } >= 50 })
        kill(app.process.processIdentifier, SIGTERM)
        let status = await app.exit(within: 30)
        writers.cancel()
        await writers.value
        #expect(status?.0 == .exit, "\(app.output.withLock { $0 })")
        #expect(status?.1 == 0, "\(app.output.withLock { $0 })")
        #expect(await viewer.ended(), "the open stream ended cleanly")
        #expect(app.output.withLock { $0 }.contains("store closed: every acknowledged write is committed"))

        let store = try SQLiteStore(path: database)
        defer { try? store.close() }
        let titles = Set<String>(try store.query("select title from todos"))
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count >= 50)
        let missing = acked.filter { !titles.contains($0) }
        #expect(missing.isEmpty, "acknowledged but not in the file: \(missing.prefix(10))")
        let check: String? = try store.one("pragma integrity_check")
        #expect(check == "ok")
    }

    @Test("a viewer that stopped reading does not keep SIGTERM from ending the process")
    func stuckViewerAtShutdown() async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("app.db").path
        do {
            // A board of about 250 kB, so that a viewer that does not read fills its socket.
            let store = try SQLiteStore(path: database)
            try store.migrate(People.feature, People.migrations(.sqlite))
            try store.migrate(Todos.feature, Todos.migrations(.sqlite))
            let long = String(repeating: "y", count: Todos.maxTitle - 10)
            try store.tx {
                for i in 0..<400 { try Todos.insert(store, "\(i) \(long)", owner: nil) }
            }
            try store.close()
        }
        let app = try await RunningApp(database: database)
        let stuck = try StuckViewer(port: app.port, path: "/events")
        defer { stuck.close() }
        for id in 1...30 {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(app.port)/todos/\(id)/toggle")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            #expect(try await streams.execute(request, timeout: .seconds(10)).status == .seeOther)
        }
        try await Task.sleep(for: .milliseconds(300))
        kill(app.process.processIdentifier, SIGTERM)
        let status = await app.exit(within: 20)
        #expect(status?.0 == .exit, "still running 20 s after SIGTERM: \(app.output.withLock { $0 })")
        #expect(status?.1 == 0)
        if status == nil { kill(app.process.processIdentifier, SIGKILL) }
    }

    @Test("a bad setting stops the executable at once with a sentence naming the variable")
    func badSetting() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: builtExecutable("todos"))
        process.environment = ["PORT": "eighty"]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1)
        #expect(said.contains("todos: PORT is \"eighty\"; give a port number from 0 to 65535"))
    }
}
