import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOHTTP1
import Orion
import Synchronization
import Testing

@testable import TodoBoard

/// A client with room for many streams to one host (AsyncHTTPClient's default is 8) that shows
/// a redirect instead of following it, kept for the whole run, as `HTTPClient.shared` is.
let streams: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
    configuration.redirectConfiguration = .disallow
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

/// A browser's `EventSource`, reduced: reads a stream of server-sent events over AsyncHTTPClient
/// and hands each event (or heartbeat comment) to `events`.
final class Viewer: Sendable {
    enum Event: Sendable, Equatable {
        case event(name: String, data: String)
        case comment(String)
    }
    let events: AsyncStream<Event>
    private let task: Task<Void, any Error>

    init(url: String) {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        self.events = events
        task = Task {
            defer { continuation.finish() }
            let response = try await streams.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
            guard response.status == .ok else { return }
            var pending = ""
            for try await buffer in response.body {
                pending += String(buffer: buffer)
                while let end = pending.range(of: "\n\n") {
                    let block = pending[..<end.lowerBound]
                    pending = String(pending[end.upperBound...])
                    var name = "message"
                    var data: [Substring] = []
                    for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                        if line.hasPrefix(":") {
                            continuation.yield(.comment(String(line.dropFirst().drop(while: { $0 == " " }))))
                        } else if line.hasPrefix("event: ") {
                            name = String(line.dropFirst(7))
                        } else if line.hasPrefix("data: ") {
                            data.append(line.dropFirst(6))
                        }
                    }
                    if !data.isEmpty { continuation.yield(.event(name: name, data: data.joined(separator: "\n"))) }
                }
            }
        }
    }

    /// Waits (at most `seconds`) for an event that satisfies `matches`; true when one came.
    func waitFor(seconds: Double = 20, _ matches: @escaping @Sendable (Event) -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in self.events where matches(event) { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// Closes the connection, as a browser tab that goes away.
    func leave() {
        task.cancel()
    }

    /// Returns when the stream has ended, by itself or after `leave()`; `false` if it failed.
    func ended() async -> Bool {
        (try? await task.value) != nil
    }
}

/// Polls `condition` every 20 ms for at most `seconds`.
func eventually(seconds: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}

@Suite("The live board over a real server", .serialized)
struct LiveTests {
    @Test("30 viewers each receive the new board after a todo is added, and their subscriptions end when they leave")
    func thirtyViewers() async throws {
        let harness = try Harness()
        try await harness.test(.live) { client async throws in
            let url = "http://127.0.0.1:\(client.port!)/events"
            let viewers = (0..<30).map { _ in Viewer(url: url) }
            for viewer in viewers {
                #expect(await viewer.waitFor { $0 == .event(name: "board", data: $0.data ?? "") && ($0.data ?? "").contains("0 of 0 done") })
            }
            #expect(harness.live.board.viewerCount == 30)
            let added = try await client.post("/todos", ["title": "from the writer"])
            #expect(added.status == .seeOther)
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for viewer in viewers {
                    group.addTask { await viewer.waitFor { ($0.data ?? "").contains("value=\"from the writer\"") } }
                }
                for try await received in group { #expect(received) }
            }
            for viewer in viewers { viewer.leave() }
            #expect(await eventually { harness.live.board.viewerCount == 0 })
            // The board's observation stops with its last viewer: after the next commit it is
            // no longer rendered.
            try Todos.insert(harness.backend.todos, "nobody watches", owner: nil)
            #expect(await eventually { harness.live.board.latest().bytes == nil })
        }
    }

    @Test("after the board's view fails, it comes back for the viewers still watching")
    func viewFailureRecovers() async throws {
        let harness = try Harness()
        try await harness.test(.live) { client async throws in
            let viewer = Viewer(url: "http://127.0.0.1:\(client.port!)/events")
            #expect(await viewer.waitFor { ($0.data ?? "").contains("0 of 0 done") })
            // A row the view cannot decode (written past the app): the view throws.
            try harness.backend.todos.exec("insert into todos (title, done) values ('bad', 'x')")
            try await Task.sleep(for: .milliseconds(200))
            try harness.backend.todos.exec("delete from todos where title = 'bad'")
            try Todos.insert(harness.backend.todos, "after the failure", owner: nil)
            #expect(await viewer.waitFor { ($0.data ?? "").contains("value=\"after the failure\"") })
            let late = Viewer(url: "http://127.0.0.1:\(client.port!)/events")
            #expect(await late.waitFor { ($0.data ?? "").contains("value=\"after the failure\"") })
            viewer.leave()
            late.leave()
        }
    }

    @Test("a quiet stream gets a heartbeat")
    func heartbeat() async throws {
        let harness = try Harness(heartbeat: .milliseconds(200))
        try await harness.test(.live) { client async throws in
            let viewer = Viewer(url: "http://127.0.0.1:\(client.port!)/events")
            #expect(await viewer.waitFor { $0 == .comment("heartbeat") })
            viewer.leave()
        }
    }

    @Test("a viewer that stops reading never holds up the others")
    func slowViewer() async throws {
        let harness = try Harness()
        // A board of about 200 kB, so that a viewer that does not read fills its socket fast.
        let long = String(repeating: "x", count: Todos.maxTitle - 10)
        try harness.backend.todos.tx {
            for i in 0..<300 { try Todos.insert(harness.backend.todos, "\(i) \(long)", owner: nil) }
        }
        try await harness.test(.live) { client async throws in
            let port = client.port!
            let stuck = try StuckViewer(port: port, path: "/events")
            defer { stuck.close() }
            let viewer = Viewer(url: "http://127.0.0.1:\(port)/events")
            #expect(await viewer.waitFor { ($0.data ?? "").contains("0 of 300 done") })
            #expect(await eventually { harness.live.board.viewerCount == 2 })
            for round in 1...40 {
                try Todos.toggle(harness.backend.todos, Int64(round))
                try await Task.sleep(for: .milliseconds(5))
            }
            try Todos.rename(harness.backend.todos, 300, to: "the last change")
            #expect(await viewer.waitFor { ($0.data ?? "").contains("value=\"the last change\"") })
            #expect(try await client.get("/").status == .ok)
            viewer.leave()
        }
    }
}

extension Viewer.Event {
    var data: String? {
        if case .event(_, let data) = self { return data }
        return nil
    }
}

/// A client that asks for the stream and then never reads: its socket fills up.
final class StuckViewer: Sendable {
    let socket: Int32

    init(port: Int, path: String) throws {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Foundation.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { write(fd, $0, strlen($0)) }
        socket = fd
    }

    func close() {
        Foundation.close(socket)
    }
}
