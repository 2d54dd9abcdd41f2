import Orion

/// The lanes: how async code enters the synchronous store without blocking Swift's
/// cooperative pool on PostgreSQL's round trips and locks (see "Moving to PostgreSQL").
extension PostgresStore {
    /// Runs `body`, which reads, on one of the store's read threads, and returns its result.
    ///
    /// ```swift
    /// let page = try await store.read { try Board.page(todos: todos, people: people) }
    /// ```
    ///
    /// Up to ``readShare`` bodies run at once; writes can never hold more than ``writeShare``
    /// connections, so reads always find theirs. Each statement runs on its own pooled
    /// connection, in a read-only transaction: a write inside the body — `exec`, `tx`,
    /// `migrate`, a statement that is not a read, or a read that writes (a function that
    /// inserts) — throws `StoreError.Code.misuse` and writes nothing. The calling task suspends
    /// meanwhile; cancelled while it waits for a thread, it leaves at once with
    /// `CancellationError` and the body never runs.
    public func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if pool.isClosed { throw ConnectionPool.closedError }
        return try await readLane.run(body)
    }

    /// Runs `body` as one ``tx(_:)`` on one of the store's write threads, and returns its result.
    ///
    /// ```swift
    /// try await store.write { try Todos.rename(todos, id, to: title) }
    /// ```
    ///
    /// Up to ``writeShare`` bodies run at once (PostgreSQL has row locks: writes are not
    /// serialized); the others wait as suspended tasks. Each write waits at most
    /// ``busyTimeout`` from its own call — for its turn, a connection, and PostgreSQL's locks
    /// (`lock_timeout`, set for the transaction) — and then throws `StoreError.Code.busy`;
    /// nothing of it is committed.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if pool.isClosed { throw ConnectionPool.closedError }
        let timeout = busyTimeoutNanoseconds
        return try await writeLane.run(timeout: timeout) {
            do {
                return try self.tx(body)
            } catch let error as StoreError where error.sqlState == "55P03" {
                throw StoreError.laneBusy(waited: timeout, for: "for a lock PostgreSQL held (another transaction's row or table lock)")
            }
        }
    }

    /// Whether a statement starting with `words` only reads: what a `read { }` body may run.
    /// A data-modifying `WITH` passes this check and is refused by the read-only transaction.
    static func readsOnly(_ words: [String]) -> Bool {
        switch words.first ?? "" {
        case "select", "values", "table", "with", "show", "explain": true
        default: false
        }
    }

    /// The lanes' figures: threads, queued callers, waits (for tests).
    var laneFigures: (read: LaneFigures, write: LaneFigures) {
        (readLane.snapshot, writeLane.snapshot)
    }
}

extension PostgresStore {
    /// ``busyTimeout`` in nanoseconds.
    var busyTimeoutNanoseconds: UInt64 {
        let (seconds, attoseconds) = busyTimeout.components
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
