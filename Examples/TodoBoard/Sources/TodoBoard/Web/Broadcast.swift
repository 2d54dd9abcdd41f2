import Hummingbird
import ServiceLifecycle
import Synchronization

/// The newest rendering of one live page, shared by all its viewers.
///
/// The page is rendered once per change and encoded once as a server-sent event; each viewer
/// holds only a doorbell (a buffer of one) and, when it rings, sends the newest bytes if they are
/// newer than what it sent last. So a slow viewer skips to the newest page and never holds up
/// the others or the renderer, and its memory is one pending ring, whatever the rate of change.
final class Broadcast: Sendable {
    /// The server-sent event's name (`event: board`).
    let event: String

    private struct State {
        var version = 0
        var latest: ByteBuffer?
        var viewers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextID = 0
        var ended = false
        /// Rung when the first viewer arrives.
        var demand: AsyncStream<Void>.Continuation?
    }
    private let state = Mutex(State())
    private let demandStream: AsyncStream<Void>

    init(event: String) {
        self.event = event
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        demandStream = stream
        state.withLock { $0.demand = continuation }
    }

    var viewerCount: Int { state.withLock { $0.viewers.count } }

    /// Replaces the page every viewer will see next.
    func publish(_ html: HTML) {
        let encoded = Self.encode(event: event, html)
        let doorbells = state.withLock { state in
            state.version += 1
            state.latest = encoded
            return Array(state.viewers.values)
        }
        for doorbell in doorbells { doorbell.yield() }
    }

    /// Forgets the page (its renderer stopped): a viewer arriving later waits for a new one.
    func forget() {
        state.withLock { $0.latest = nil }
    }

    /// Wakes every viewer: one with nothing new sends a heartbeat if it has been quiet.
    func ring() {
        for doorbell in state.withLock({ Array($0.viewers.values) }) { doorbell.yield() }
    }

    /// Ends every viewer's stream, and every stream that opens later.
    func end() {
        let doorbells = state.withLock { state in
            state.ended = true
            state.demand?.finish()
            defer { state.viewers = [:] }
            return Array(state.viewers.values)
        }
        for doorbell in doorbells { doorbell.finish() }
    }

    /// Returns once someone watches (at once if someone does); `false` once ended or cancelled.
    func waitForViewers() async -> Bool {
        for await _ in demandStream {
            if viewerCount > 0 { return true }
        }
        return false
    }

    /// The newest page and its version.
    func latest() -> (version: Int, bytes: ByteBuffer?) {
        state.withLock { ($0.version, $0.latest) }
    }

    /// A new viewer: its doorbell rings at once, so it starts with the newest page.
    func join() -> AsyncStream<Void> {
        let (doorbell, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (id, ended, demand): (Int, Bool, AsyncStream<Void>.Continuation?) = state.withLock { state in
            guard !state.ended else { return (0, true, nil) }
            state.nextID += 1
            state.viewers[state.nextID] = continuation
            return (state.nextID, false, state.viewers.count == 1 ? state.demand : nil)
        }
        if ended {
            continuation.finish()
            return doorbell
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.viewers.removeValue(forKey: id) }
        }
        continuation.yield()
        demand?.yield()
        return doorbell
    }

    /// The server-sent event for `html`: each line of markup a `data:` line.
    static func encode(event: String, _ html: HTML) -> ByteBuffer {
        var text = "event: \(event)\n"
        text.reserveCapacity(html.rendered.utf8.count + 64)
        for line in html.rendered.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            text += "data: "
            text += line
            text += "\n"
        }
        text += "\n"
        return ByteBuffer(string: text)
    }

    /// A `text/event-stream` response that follows this page until the viewer goes away (the
    /// connection closes: the handler is cancelled) or the server shuts down gracefully (the
    /// stream is cancelled too: a viewer that stopped reading, its write stuck on a full
    /// socket, must not keep the server from stopping).
    func response(to request: Request, heartbeat: Duration) -> Response {
        let doorbell = join()
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { [self] writer in
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    do {
                        try await untilGracefulShutdown {
                            // Reconnect after 2 s when the stream breaks.
                            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                            var sent = 0
                            var quietSince = ContinuousClock.now
                            for await _ in doorbell {
                                let (version, bytes) = latest()
                                if version > sent, let bytes {
                                    try await writer.write(bytes)
                                    sent = version
                                    quietSince = .now
                                } else if ContinuousClock.now - quietSince >= heartbeat / 2 {
                                    // A comment line: keeps proxies from closing an idle stream.
                                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                                    quietSince = .now
                                }
                            }
                        }
                    } catch is CancellationError {
                        // Shutdown (or the viewer leaving) cancelled the loop in the middle of
                        // a write: the stream still ends, below, rather than breaking off.
                    }
                }
                try await writer.finish(nil)
            })
    }
}

/// Runs `operation` in a child task that is cancelled when the server shuts down gracefully
/// (outside a service group: only when the task is cancelled).
///
/// ServiceLifecycle's `cancelWhenGracefulShutdown` wants an escaping `@Sendable` closure, and a
/// response body's loop captures its `inout` writer. `cancelWhenGracefulShutdown` awaits its
/// child before it returns, so the closure never outlives this call, and only the child touches
/// the writer while the caller waits: the same construction as Hummingbird's own
/// `consumeWithCancellationOnInboundClose`.
func untilGracefulShutdown(_ operation: () async throws -> Void) async throws {
    try await withoutActuallyEscaping(operation) { operation in
        let unchecked = UncheckedSendable(operation)
        try await cancelWhenGracefulShutdown { try await unchecked.value() }
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
