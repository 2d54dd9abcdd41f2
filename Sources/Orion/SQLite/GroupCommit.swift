import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Group commit, the engine of the write queue: one shared transaction (the batch) that write
/// units join as savepoints, its COMMIT, the `durable()` calls waiting on it, and the stop of the
/// write path after a lost batch. See <doc:TheWriteQueue>.
///
/// `@unchecked Sendable`: the batch state (`isOpen`, `units`, `id`, `openedAt`, `stopped`) is read
/// and written only by the thread holding the store's writer lock — every method that touches it
/// says "Writer lock held" — while what other threads need (`durable()`, `onBatch`, whether a
/// batch is open) sits behind `state`'s mutex or in atomics.
final class GroupCommit: @unchecked Sendable {
    /// The configuration the store was opened with.
    let configuration: WriteQueue
    /// The store whose writer this serves: commits from timers and idle writers go through it.
    weak var owner: SQLiteStore?
    private let path: String

    // Batch state: writer lock held.
    /// Whether the batch's transaction is open.
    private(set) var isOpen = false
    /// The write units that have joined it.
    private(set) var units = 0
    private var id: UInt64 = 0
    /// When the batch began (monotonic nanoseconds).
    private var openedAt: UInt64 = 0
    /// How long a batch may stay open, in nanoseconds, however busy the writer is.
    private let ceiling: UInt64
    /// Set when a batch was lost: the write path refuses work until the store is reopened.
    private(set) var stopped: StoreError?

    // Shared with other threads.
    private let openFlag = Atomic<Bool>(false)
    /// The callers (tasks, or threads outside tasks) that wrote into the open batch: their reads
    /// go to the writer, to see their own rows. A bit per key hash lets everyone else pass with
    /// one atomic load; the set settles a bit that is set.
    private let writerBits = Atomic<UInt64>(0)
    private let writerKeys = Locked<Set<UInt>>([])
    /// The units of the open batch, readable without the writer lock (for the exit report).
    private let pendingUnits = Atomic<Int>(0)
    /// Whether batch events wait to be delivered to `onBatch`.
    private let eventsPending = Atomic<Bool>(false)
    private let state = Locked(State())

    /// What `durable()` waits on and `onBatch` receives.
    private struct State {
        var openBatch: UInt64?
        var committed: UInt64 = 0
        var waiters: [(batch: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var stopped: StoreError?
        var flushWanted = false
        var metrics = WriteQueueMetrics()
        /// Batch events waiting for `onBatch`, and whether a thread is delivering them now.
        var events: [BatchEvent] = []
        var delivering = false
    }

    init(_ configuration: WriteQueue, path: String) {
        self.configuration = configuration
        self.path = path
        let bound = configuration.maxDelay > .zero ? configuration.maxDelay : WriteQueue.busyWriterCeiling
        ceiling = UInt64(bound.components.seconds) * 1_000_000_000 + UInt64(bound.components.attoseconds / 1_000_000_000)
    }

    /// Whether a batch is open, for threads that do not hold the writer lock.
    var isOpenForReaders: Bool { openFlag.load(ordering: .acquiring) }

    /// Whether the open batch holds writes of earlier units, which a rollback of the whole
    /// transaction would take with it. Writer lock held.
    var sharesBatch: Bool { isOpen && units > 0 }

    /// Whether the open batch has been open as long as it may be. Writer lock held.
    @inline(__always)
    func isDue() -> Bool {
        monotonicNanoseconds() &- openedAt >= ceiling
    }

    // MARK: Units

    /// Runs one write unit — an `exec` outside `tx`, or a whole top-level `tx` — in its own
    /// savepoint of the batch, so that its failure (or a deferred foreign-key violation it
    /// leaves) undoes it alone and the batch goes on. Writer lock held.
    func unit<R>(_ writer: Writer, caller: UInt, _ work: () throws -> R) throws -> R {
        if let stopped { throw stopped }
        let connection = writer.connection
        if !isOpen { try open(connection) }
        markWriter(caller)
        try writer.guarded { try connection.run("savepoint orion_unit") }
        connection.writeLog.begin()
        /// Keeps the unit's writes in the batch.
        func complete() throws {
            // The work may have swallowed the error that lost the batch.
            if let stopped { throw stopped }
            if connection.deferredForeignKeyViolations > 0 {
                try? connection.run("rollback to orion_unit")
                try? connection.run("release orion_unit")
                connection.writeLog.rollBack()
                throw SQLiteCodes.error(
                    SQLiteCodes.constraintForeignKey,
                    "FOREIGN KEY constraint failed: the write left a deferred foreign-key violation, so it was undone on its own; the rest of the batch is unharmed")
            }
            try writer.guarded { try connection.run("release orion_unit") }
            connection.writeLog.release()
            units += 1
            pendingUnits.store(units, ordering: .relaxed)
            // The time limit now stops no write: that would roll back this unit with the rest.
            connection.protectsWrites = true
            if units >= configuration.maxBatch || isDue() { try commit(connection) }
        }
        let result: R
        do {
            result = try writer.guarded { try work() }
        } catch let noValue as NoValue {
            // `one` of a write with RETURNING that returned no row or a NULL: the write stands.
            try complete()
            throw noValue
        } catch {
            if isOpen && !connection.isAutocommit {
                try? connection.run("rollback to orion_unit")
                try? connection.run("release orion_unit")
                connection.writeLog.rollBack()
            }
            throw error
        }
        try complete()
        return result
    }

    /// Begins a batch, and arranges its commit. Writer lock held.
    private func open(_ connection: SQLiteConnection) throws {
        try connection.run("begin immediate")
        connection.writeLog.begin()
        do {
            try connection.noteSchemaAtBatchStart()
        } catch {
            try? connection.run("rollback")
            throw error
        }
        isOpen = true
        units = 0
        id += 1
        openedAt = monotonicNanoseconds()
        connection.protectsWrites = false
        let batch = id
        state.withLock { $0.openBatch = batch }
        openFlag.store(true, ordering: .releasing)
        if configuration.maxDelay > .zero {
            let delay = configuration.maxDelay.components
            let nanoseconds = Int(delay.seconds) * 1_000_000_000 + Int(delay.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak owner] in
                owner?.commitIfOpen(batch: batch, onlyWhenIdle: false)
            }
        } else {
            state.withLock { $0.flushWanted = true }
        }
    }

    /// Notes that `caller` writes into the open batch. Writer lock held.
    private func markWriter(_ caller: UInt) {
        let bit = UInt64(1) << (Self.mix(caller) & 63)
        if writerBits.load(ordering: .relaxed) & bit != 0, writerKeys.withLock({ $0.contains(caller) }) { return }
        writerKeys.withLock { _ = $0.insert(caller) }
        writerBits.bitwiseOr(bit, ordering: .releasing)
    }

    /// Whether `caller` wrote into the open batch (its reads then go to the writer).
    @inline(__always)
    func wroteIntoOpenBatch(_ caller: UInt) -> Bool {
        let bit = UInt64(1) << (Self.mix(caller) & 63)
        guard writerBits.load(ordering: .acquiring) & bit != 0 else { return false }
        return writerKeys.withLock { $0.contains(caller) }
    }

    @inline(__always)
    private static func mix(_ key: UInt) -> UInt {
        (key &* 0x9E37_79B9_7F4A_7C15) >> 58
    }

    /// Whether a zero-delay commit waits for the writer to be free; clears the wish.
    func takeFlushWanted() -> Bool {
        state.withLock { state in
            defer { state.flushWanted = false }
            return state.flushWanted
        }
    }

    /// Asks for a zero-delay commit the next time the writer is free.
    func wantFlush() {
        state.withLock { $0.flushWanted = true }
    }

    /// Whether the open batch is `batch`. Writer lock held.
    func isBatch(_ batch: UInt64) -> Bool { isOpen && id == batch }

    // MARK: Ending a batch

    /// COMMITs the open batch and answers the `durable()` calls waiting for it. Writer lock held.
    func commit(_ connection: SQLiteConnection) throws {
        let size = units
        let started = ContinuousClock.now
        do {
            try connection.run("commit")
        } catch {
            throw stop(on: connection, cause: error as? StoreError)
        }
        let elapsed = ContinuousClock.now - started
        connection.announceCommit()
        close(connection)
        let batch = id
        let resumed = state.withLock { state in
            state.metrics.batches += 1
            state.metrics.writes += size
            state.metrics.largestBatch = max(state.metrics.largestBatch, size)
            state.metrics.commitTime += elapsed
            let ready = Self.settle(&state, batch: batch)
            state.metrics.waitersResumed += ready.count
            return ready
        }
        for continuation in resumed { continuation.resume() }
        report(BatchEvent(size: size, commitDuration: elapsed, waiters: resumed.count, failure: nil))
    }

    /// SQLite rolled back a batch that held no acknowledged write (its first unit failed in a way
    /// that ends the transaction): nothing is lost, and the next write opens a new batch.
    /// Writer lock held.
    func endEmpty(on connection: SQLiteConnection) {
        close(connection)
        let batch = id
        // Whoever waits on this batch made no write in it: there is nothing to wait for.
        let resumed = state.withLock { Self.settle(&$0, batch: batch) }
        for continuation in resumed { continuation.resume() }
    }

    /// SQLite ended the batch, or its COMMIT failed: its writes are lost together. Every waiter,
    /// every later write and every later `durable()` gets the error until the store is reopened.
    /// Writer lock held.
    ///
    /// - Returns: The error that says so.
    func stop(on connection: SQLiteConnection, cause: StoreError?) -> StoreError {
        let lost = units
        if !connection.isAutocommit { try? connection.run("rollback") }
        close(connection)
        let reason = cause.map { "\($0.message)\($0.sqliteCodeName.map { " (\($0))" } ?? "")" } ?? "unknown cause"
        let stopped = StoreError(
            .writeQueueStopped,
            "the write queue stopped: SQLite ended the open batch (\(reason)), losing its \(lost) acknowledged write\(lost == 1 ? "" : "s"); writes are refused until the store is closed and opened again",
            sqliteCode: cause?.sqliteCode, sqliteCodeName: cause?.sqliteCodeName)
        if self.stopped == nil { self.stopped = stopped }
        let waiters = state.withLock { state in
            if state.stopped == nil { state.stopped = stopped }
            state.openBatch = nil
            defer { state.waiters = [] }
            return state.waiters
        }
        for (_, continuation) in waiters { continuation.resume(throwing: stopped) }
        report(BatchEvent(size: lost, commitDuration: .zero, waiters: waiters.count, failure: stopped))
        return stopped
    }

    /// Marks the batch closed, whatever ended it. Writer lock held.
    private func close(_ connection: SQLiteConnection) {
        connection.writeLog.discard()
        writerBits.store(0, ordering: .releasing)
        writerKeys.withLock { $0.removeAll(keepingCapacity: true) }
        isOpen = false
        units = 0
        connection.protectsWrites = false
        pendingUnits.store(0, ordering: .relaxed)
        openFlag.store(false, ordering: .releasing)
    }

    /// Records `batch` as done and takes the waiters it answers.
    private static func settle(_ state: inout State, batch: UInt64) -> [CheckedContinuation<Void, any Error>] {
        state.committed = batch
        state.openBatch = nil
        state.flushWanted = false
        let ready = state.waiters.filter { $0.batch <= batch }.map(\.continuation)
        state.waiters.removeAll { $0.batch <= batch }
        return ready
    }

    // MARK: Waiting

    /// Waits until every write made before the call is committed; see ``SQLiteStore/durable()``.
    func durable() async throws {
        let target: UInt64? = try state.withLock { state in
            if let stopped = state.stopped { throw stopped }
            return state.openBatch
        }
        guard let target else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, StoreError>? = state.withLock { state in
                if state.committed >= target { return .success(()) }
                if let stopped = state.stopped { return .failure(stopped) }
                state.waiters.append((target, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The error of a lost batch, once the write path stopped.
    var stoppedError: StoreError? { state.withLock { $0.stopped } }

    /// The totals since the store opened.
    var metrics: WriteQueueMetrics { state.withLock { $0.metrics } }

    /// Fails every `durable()` still waiting: the store closed.
    func failWaiters(with error: StoreError) {
        let waiters = state.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for (_, continuation) in waiters { continuation.resume(throwing: error) }
    }

    // MARK: Reporting

    /// Says that the open batch could not be committed at exit.
    func reportLostAtExit(reason: String) {
        let units = pendingUnits.load(ordering: .relaxed)
        let lost = StoreError(
            .writeQueueStopped,
            "the write queue's open batch was not committed at process exit: \(reason); its \(units) acknowledged write\(units == 1 ? " is" : "s are") lost")
        report(BatchEvent(size: units, commitDuration: .zero, waiters: 0, failure: lost))
        deliverEvents()
    }

    /// Queues `event` for `onBatch`, which runs once the writer is unlocked. A lost batch with
    /// nobody listening is written to standard error at once.
    private func report(_ event: BatchEvent) {
        guard configuration.onBatch != nil else {
            if let failure = event.failure {
                let line = Array("orion: \(path): \(failure.message)\n".utf8)
                _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
            return
        }
        state.withLock { state in
            state.events.append(event)
            eventsPending.store(true, ordering: .releasing)
        }
    }

    /// Whether events wait for `onBatch` (cheap: an atomic load).
    @inline(__always)
    var hasEvents: Bool { eventsPending.load(ordering: .acquiring) }

    /// Calls `onBatch` with the queued events, in order, one caller at a time. Called with no
    /// lock of the store held.
    func deliverEvents() {
        guard let onBatch = configuration.onBatch else { return }
        while true {
            let events: [BatchEvent]? = state.withLock { state in
                guard !state.delivering else { return nil }
                guard !state.events.isEmpty else {
                    eventsPending.store(false, ordering: .relaxed)
                    return nil
                }
                state.delivering = true
                defer { state.events = [] }
                eventsPending.store(false, ordering: .relaxed)
                return state.events
            }
            guard let events else { return }
            for event in events { onBatch(event) }
            state.withLock { $0.delivering = false }
        }
    }
}
