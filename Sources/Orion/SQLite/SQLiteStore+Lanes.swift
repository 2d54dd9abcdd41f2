/// The lanes: how async code enters the synchronous store without blocking Swift's
/// cooperative pool (see <doc:GettingStarted>, *Lanes*).
extension SQLiteStore {
    /// Runs `body`, which reads, on one of the store's read threads, and returns its result.
    ///
    /// ```swift
    /// let page = try await store.read { try Board.page(todos: todos, people: people) }
    /// ```
    ///
    /// Up to `readers` bodies run at once, each of its statements on a reader connection (see
    /// ``Store/read(_:)``): they never wait for the writer, a `tx` or the write queue's batch,
    /// and see committed rows. A write inside the body throws
    /// ``StoreError/Code-swift.struct/misuse`` before it reaches SQLite. The calling task
    /// suspends meanwhile; cancelled while it waits for a thread, it leaves at once with
    /// `CancellationError` and the body never runs.
    ///
    /// - Throws: What `body` threw; `CancellationError`; ``StoreError`` with
    ///   ``StoreError/Code-swift.struct/closed`` once the store is closed.
    public func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try checkOpen()
        return try await readLane.run(body)
    }

    /// Runs `body` as one ``tx(_:)`` on the store's write thread, and returns its result.
    ///
    /// ```swift
    /// let id = try await store.write { try Todos.insert(todos, "milk").lastId }
    /// ```
    ///
    /// One write body runs at a time (SQLite has one writer); the others wait as suspended
    /// tasks, so reads keep their threads and run at full speed while a write waits. Each write
    /// waits at most ``busyTimeout`` from its own call — for its turn, for the writer (a `tx` of
    /// another thread), and for another process's write lock together — and then throws
    /// ``StoreError/Code-swift.struct/busy`` without having run. Under the write queue it
    /// returns once the write is acknowledged (in the open batch), as `tx` does;
    /// ``durable()`` waits for its commit.
    ///
    /// - Throws: What `body` threw (its writes rolled back); `CancellationError` when cancelled
    ///   while it waited; ``StoreError`` with ``StoreError/Code-swift.struct/busy``, or
    ///   ``StoreError/Code-swift.struct/closed`` once the store is closed.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try checkOpen()
        return try await writeLane.run(timeout: busyTimeoutNanoseconds) { try self.tx(body) }
    }

    /// ``busyTimeout`` in nanoseconds.
    var busyTimeoutNanoseconds: UInt64 {
        let (seconds, attoseconds) = busyTimeout.components
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The lanes' figures: threads, queued callers, waits (for `health()` and tests).
    var laneFigures: (read: LaneFigures, write: LaneFigures) {
        (readLane.snapshot, writeLane.snapshot)
    }
}
