#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// The default adapter: SQLite in WAL mode, one writer, parallel readers, cached statements.
///
/// ```swift
/// let store = try SQLiteStore(path: "app.db")
/// try store.migrate("todos", Todos.migrations)
/// try Todos.insert(store, "milk")
/// let todos = try Todos.all(store)
/// ```
///
/// Every file connection runs with `journal_mode = wal`, `synchronous = normal` (or `full`),
/// `busy_timeout = 5000`, `foreign_keys = on`, defensive mode, and double-quoted string
/// literals off. `":memory:"` is one private database on one connection.
///
/// ## Threads and blocking
/// The store is safe from any thread or task, and every call is synchronous. A call can block:
/// - a write or `tx` waits for the writer while another thread's write or `tx` body runs, and
///   then up to 5 s (the busy timeout) for another process's write lock;
/// - a read waits for a free reader connection (there are `readers` of them) while all run
///   other reads; with the write queue's batch open it waits for the writer instead;
/// - a statement runs until it is done, or until `statementTimeLimit` stops it (a write sharing
///   the write queue's batch with others' writes is not stopped).
/// On a server's cooperative pool keep transactions short, set a `statementTimeLimit`, and never
/// block a `tx` body (or a `Decodable` initializer) on another thread that needs the store.
/// Inside a `tx` body the same thread may call the store again: those calls join the transaction.
public final class SQLiteStore: Store, @unchecked Sendable {
    // `@unchecked Sendable`: `writer` is read and changed only while `writerLock` is held (the
    // lock records its holder, so re-entrant calls from a `tx` body on the holding thread use it
    // without locking again); the reader pool, the queue state and the scopes guard themselves;
    // everything else is immutable or atomic.

    /// How hard a COMMIT presses data to disk.
    public enum Synchronous: Sendable {
        /// fsync at checkpoints, not per commit: an app crash loses nothing; an OS crash or
        /// power loss may lose the last transactions, never corrupting the file. The default.
        case normal
        /// fsync on every commit: a committed transaction survives power loss.
        case full
    }

    /// The database file (or `":memory:"`).
    public let path: String
    /// The write queue's configuration, when group commit is on.
    public let writeQueue: WriteQueue?
    /// How COMMITs reach the disk.
    public let synchronous: Synchronous

    private let writerLock = OwnedLock()
    private var writer: Writer?
    private let readerPool: ReaderPool?
    private let closed = Atomic<Bool>(false)
    /// Threads inside or waiting for the writer; the zero-delay flush waits for none.
    private let writerActivity = Atomic<Int>(0)
    /// Whether a write-queue batch is open (reads then go to the writer to see its rows).
    private let batchIsOpen = Atomic<Bool>(false)
    /// The write units in the open batch, readable without the writer lock (for the exit report).
    private let pendingUnits = Atomic<Int>(0)
    /// Whether batch events wait to be delivered to `onBatch` (checked as the writer is unlocked).
    private let eventsPending = Atomic<Bool>(false)
    private let queue = Mutex(QueueState())
    private let scopes = Mutex<[String: Scope]>([:])

    /// Opens (or creates) the database at `path`.
    ///
    /// - Parameters:
    ///   - path: A file path, or `":memory:"` for a private in-memory database.
    ///   - writeQueue: Turns on group commit; `nil` (the default) commits every write on its own.
    ///   - synchronous: `.normal` (the default) or `.full`.
    ///   - readers: The most reader connections reading in parallel.
    ///   - statementCacheSize: Prepared statements kept per connection.
    ///   - statementTimeLimit: Stops a statement that runs longer (`nil`: no limit). With the
    ///     write queue, a write that shares its batch with other callers' writes runs to its end:
    ///     stopping it would make SQLite roll back the whole batch (see <doc:TheWriteQueue>).
    /// - Throws: ``StoreError`` when the file cannot be opened, is not a database, cannot use WAL,
    ///   or SQLite is older than 3.35.
    public init(
        path: String, writeQueue: WriteQueue? = nil, synchronous: Synchronous = .normal,
        readers: Int = 4, statementCacheSize: Int = 128, statementTimeLimit: Duration? = nil
    ) throws {
        precondition(readers >= 1, "SQLiteStore(readers:) must be at least 1, got \(readers)")
        precondition(statementCacheSize >= 1, "SQLiteStore(statementCacheSize:) must be at least 1, got \(statementCacheSize)")
        if let statementTimeLimit {
            precondition(statementTimeLimit > .zero, "SQLiteStore(statementTimeLimit:) must be positive, got \(statementTimeLimit)")
        }
        guard !path.isEmpty else {
            throw StoreError(.misuse, "the database path is empty; give a file path, or \":memory:\" for a private in-memory database")
        }
        self.path = path
        self.writeQueue = writeQueue
        self.synchronous = synchronous
        let memory = path == ":memory:"
        writer = Writer(
            connection: try SQLiteConnection(
                path: path, role: memory ? .memory : .writer, synchronous: synchronous,
                statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit),
            writeQueue: writeQueue)
        readerPool = memory ? nil : ReaderPool(capacity: readers) {
            try SQLiteConnection(
                path: path, role: .reader, synchronous: synchronous,
                statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit)
        }
        if writeQueue != nil { ShutdownFlush.register(self) }
    }

    deinit {
        // The last reference is gone: commit what the write queue still holds (a failure is
        // reported through `onBatch` or standard error by the commit itself).
        if let writer, writer.batchOpen { try? commitBatch(writer) }
        deliverBatchEvents()
        if writeQueue != nil { ShutdownFlush.unregister(self) }
    }

    /// At process exit (`exit()`, returning from `main`): commit the open batch if the writer
    /// is free within a second. A `tx` body still running keeps its batch uncommitted (whole,
    /// never in part) rather than hanging the exit; that loss is reported like any other.
    func commitAtExit() {
        guard batchIsOpen.load(ordering: .acquiring) else { return }
        let busy = writerLock.isHeldByCurrentThread ? "exit was called inside a tx body" : nil
        guard busy == nil, writerLock.lock(attempts: 1000) else {
            reportLostAtExit(reason: busy ?? "the writer stayed busy for a second (a tx body still running on another thread?)")
            return
        }
        if let writer, writer.batchOpen { try? commitBatch(writer) }
        unlockWriter()
    }

    /// Says that the open batch could not be committed at exit, where operators look.
    private func reportLostAtExit(reason: String) {
        let units = pendingUnits.load(ordering: .relaxed)
        let lost = StoreError(
            .writeQueueStopped,
            "the write queue's open batch was not committed at process exit: \(reason); its \(units) acknowledged write\(units == 1 ? " is" : "s are") lost")
        report(BatchEvent(size: units, commitDuration: .zero, waiters: 0, failure: lost))
        deliverBatchEvents()
    }

    // MARK: Store

    /// Runs one read statement on a reader connection (on the writer inside `tx` or while a
    /// batch is open) and decodes every row. See ``Store/query(_:_:)-(String,[SQLValue])``.
    public func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        try query(sql, .values(params), access: .root)
    }

    /// Runs one read statement and decodes its first row. See ``Store/one(_:_:)-(String,[SQLValue])``.
    public func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        try one(sql, .values(params), access: .root)
    }

    /// Runs one statement on the writer: autocommit, inside the open `tx`, or as a unit of
    /// the write queue's batch. See ``Store/exec(_:_:)-(String,[SQLValue])``.
    @discardableResult
    public func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        try exec(sql, .values(params), access: .root)
    }

    /// The variadic `query`: binds the parameters as passed, without building `[SQLValue]`.
    public func query<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> [T] {
        try query(sql, .bindables(params), access: .root)
    }

    /// The variadic `one`: binds the parameters as passed, without building `[SQLValue]`.
    public func one<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> T? {
        try one(sql, .bindables(params), access: .root)
    }

    /// The variadic `exec`: binds the parameters as passed, without building `[SQLValue]`.
    @discardableResult
    public func exec(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> ExecResult {
        try exec(sql, .bindables(params), access: .root)
    }

    /// Runs `body` in `BEGIN IMMEDIATE … COMMIT` (a savepoint when nested, or a savepoint of
    /// the batch with the write queue on); a throwing body rolls back exactly its level.
    @discardableResult
    public func tx<T>(_ body: () throws -> T) throws -> T {
        try withWriter { writer in
            if writer.depth > 0 { return try savepoint(writer, body) }
            if writeQueue != nil { return try writeUnit(writer) { try transactionBody(writer, body) } }
            try writer.connection.run("begin immediate")
            let result: T
            do {
                result = try transactionBody(writer, body)
                try writer.connection.run("commit")
            } catch {
                rollbackIfOpen(writer)
                throw error
            }
            return result
        }
    }

    /// Applies the feature's new entries, each in its own transaction, under the fence; see
    /// <doc:MigrationsAndTheFence>. Commits the write queue's open batch first.
    public func migrate(_ feature: String, _ migrations: [String]) throws {
        try Migrator.validate(feature: feature)
        try withWriter { writer in
            guard writer.depth == 0 else {
                throw StoreError.migrateInsideTransaction(feature: feature)
            }
            if writer.batchOpen { try commitBatch(writer) }
            try Migrator.migrate(feature: feature, entries: migrations, on: writer.connection)
        }
    }

    // MARK: Scopes

    /// A store fenced to what `feature` may touch.
    ///
    /// ```swift
    /// let todos = store.scoped(to: "todos")
    /// try todos.query("select * from accounts")   // throws: table 'accounts' belongs to feature 'accounts'
    /// ```
    ///
    /// Every statement of the scoped store passes the fence: reading or writing a table another
    /// feature owns throws ``StoreError`` naming the table and its owner; tables the feature owns
    /// and tables no feature owns work. It runs no DDL (schema changes go through `migrate`, which
    /// it accepts only for `feature`) and cannot write `_orion_*` tables. Foreign-key enforcement
    /// across features (a child insert reading its parent's key, a cascade) is not access and passes.
    ///
    /// - Parameter feature: The feature's name, as given to `migrate`.
    /// - Returns: A store sharing this store's connections, write queue and transactions.
    public func scoped(to feature: String) -> any Store {
        if let problem = Migrator.problem(withFeature: feature) {
            preconditionFailure("scoped(to:): \(problem)")
        }
        let scope = scopes.withLock { scopes in
            if let scope = scopes[feature] { return scope }
            let scope = Scope(feature: feature, id: scopes.count + 1)
            scopes[feature] = scope
            return scope
        }
        return ScopedSQLiteStore(store: self, scope: scope)
    }

    // MARK: Durability

    /// Commits the write queue's open batch now.
    ///
    /// Returns once the COMMIT is done: durable as ``synchronous`` makes it (`.full`: on disk;
    /// `.normal`: survives the process, an OS crash may lose it). Without a write queue every
    /// write is already committed and this only checks the store is usable.
    ///
    /// - Throws: ``StoreError`` when the store is closed, the write queue stopped after a lost
    ///   batch, the commit fails, or it is called inside a `tx` body.
    public func flush() throws {
        try withWriter { writer in
            guard writer.depth == 0 else {
                throw StoreError(.misuse, "flush() inside tx would commit the transaction's unfinished writes; call it after tx returns")
            }
            if writer.batchOpen { try commitBatch(writer) }
        }
        if let stopped = queue.withLock({ $0.stopped }) { throw stopped }
    }

    /// Waits until every write made before this call is committed, without forcing an early
    /// commit: the group-commit acknowledgement a handler awaits before it answers.
    ///
    /// ```swift
    /// try Orders.insert(store, order)
    /// try await store.durable()      // now it is safe to say "order placed"
    /// ```
    ///
    /// - Throws: ``StoreError`` when the batch holding those writes was lost (the write queue
    ///   stopped), or the store is closed.
    public func durable() async throws {
        try checkOpen()
        let target: UInt64? = try queue.withLock { state in
            if let stopped = state.stopped { throw stopped }
            return state.openBatch
        }
        guard let target else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, StoreError>? = queue.withLock { state in
                if state.committed >= target { return .success(()) }
                if let stopped = state.stopped { return .failure(stopped) }
                state.waiters.append((target, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The write queue's totals: batches, writes, mean batch size, commit time.
    public var writeQueueMetrics: WriteQueueMetrics {
        queue.withLock { $0.metrics }
    }

    /// Commits the open batch, closes every connection, and makes later calls throw.
    ///
    /// Calling it again does nothing. Calls already running finish first.
    ///
    /// - Throws: ``StoreError`` when the final commit fails (its writes are lost, and said so)
    ///   or when called inside a `tx` body.
    public func close() throws {
        if writerLock.isHeldByCurrentThread {
            throw StoreError(.misuse, "close() inside tx cannot finish the transaction it is part of; call it after tx returns")
        }
        writerLock.lock()
        var failure: (any Error)?
        let closing = writer
        if let closing, closing.batchOpen {
            do { try commitBatch(closing) } catch { failure = error }
        }
        closed.store(true, ordering: .sequentiallyConsistent)
        writer = nil
        unlockWriter()
        readerPool?.close()
        let waiters = queue.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        let error = StoreError(.closed, "the store was closed before the write was committed")
        for (_, continuation) in waiters { continuation.resume(throwing: error) }
        if let failure { throw failure }
    }

    // MARK: Reads

    func query<T: Decodable>(_ sql: String, _ params: Parameters, access: Access) throws -> [T] {
        try read(sql, params, access: access) { connection, statement in
            try connection.rows(statement, as: T.self)
        }
    }

    func one<T: Decodable>(_ sql: String, _ params: Parameters, access: Access) throws -> T? {
        do {
            return try read(sql, params, access: access) { connection, statement in
                try connection.firstRow(statement, as: T.self)
            }
        } catch is NoValue {
            return nil
        }
    }

    func exec(_ sql: String, _ params: Parameters, access: Access) throws -> ExecResult {
        try onWriter(sql, params, access: access) { connection, statement in
            try connection.execute(statement)
        }
    }

    /// Thrown inside a reader when the statement turns out to write.
    private struct NeedsWriter: Error {}

    private func read<R>(
        _ sql: String, _ params: Parameters, access: Access,
        _ run: (SQLiteConnection, SQLiteStatement) throws -> R
    ) throws -> R {
        try checkOpen()
        guard let readerPool, !writerLock.isHeldByCurrentThread, !batchIsOpen.load(ordering: .acquiring) else {
            return try onWriter(sql, params, access: access, run)
        }
        do {
            return try readerPool.withConnection { connection in
                try connection.withStatement(sql, params, access: access) { statement in
                    guard statement.isReadOnly else { throw NeedsWriter() }
                    return try run(connection, statement)
                }
            }
        } catch is NeedsWriter {
            return try onWriter(sql, params, access: access, run)
        }
    }

    // MARK: Writes

    /// Runs one statement on the writer: inside the open `tx`, as a write unit of the batch, or
    /// on its own (autocommit).
    private func onWriter<R>(
        _ sql: String, _ params: Parameters, access: Access,
        _ run: (SQLiteConnection, SQLiteStatement) throws -> R
    ) throws -> R {
        try withWriter { writer in
            let connection = writer.connection
            return try connection.withStatement(sql, params, access: access) { statement in
                if writer.depth > 0 || writer.batchOpen && statement.isReadOnly {
                    if writer.depth > 0, writer.sharesBatch, !statement.isReadOnly,
                       try connection.mayRollBackTransaction(statement) {
                        throw StoreError.rollbackInSharedBatch(sql: sql)
                    }
                    return try guarded(writer) { try run(connection, statement) }
                }
                if writeQueue != nil && !statement.isReadOnly {
                    // A statement that can roll back the whole transaction runs in a batch of
                    // its own, so that it can take no one else's writes with it.
                    if writer.sharesBatch, try connection.mayRollBackTransaction(statement) {
                        try commitBatch(writer)
                    }
                    return try writeUnit(writer) { try run(connection, statement) }
                }
                return try run(connection, statement)
            }
        }
    }

    private func withWriter<R>(_ body: (Writer) throws -> R) throws -> R {
        if writerLock.isHeldByCurrentThread, let writer {
            return try body(writer)
        }
        try checkOpen()
        writerActivity.add(1, ordering: .relaxed)
        writerLock.lock()
        defer {
            if let writer, writer.batchOpen, writer.depth == 0, writer.batchIsDue() {
                // However busy the writer stays, a batch commits once it is due: this exit
                // (a read on the writer, say) commits it; a failure is reported by the commit.
                try? commitBatch(writer)
            }
            unlockWriter()
            let remaining = writerActivity.subtract(1, ordering: .relaxed).newValue
            if remaining == 0 { writerWentIdle() }
        }
        guard let writer else { throw Self.closedError }
        return try body(writer)
    }

    /// Unlocks the writer, then hands the batch events its holder produced to `onBatch`,
    /// outside every lock of the store.
    @inline(__always)
    private func unlockWriter() {
        writerLock.unlock()
        if eventsPending.load(ordering: .acquiring) { deliverBatchEvents() }
    }

    /// Runs `work` inside the open transaction or batch, noticing when SQLite itself ended it.
    private func guarded<R>(_ writer: Writer, _ work: () throws -> R) throws -> R {
        if let aborted = writer.aborted { throw aborted }
        do {
            return try work()
        } catch {
            if (writer.depth > 0 || writer.batchOpen) && writer.connection.isAutocommit {
                throw transactionEnded(writer, by: error)
            }
            throw error
        }
    }

    /// SQLite rolled back the open transaction after `error` (an interrupted write, an
    /// `OR ROLLBACK` conflict, an I/O error). A `tx` body running on it can commit nothing more:
    /// its later statements throw, and so does the `tx`. A batch that held acknowledged writes
    /// is lost, which stops the write path; one that held none just ends.
    ///
    /// - Returns: The error to throw.
    private func transactionEnded(_ writer: Writer, by error: any Error) -> any Error {
        let cause = error as? StoreError
        var thrown = error
        if writer.batchOpen {
            if writer.batchUnits == 0 {
                endEmptyBatch(writer)
            } else {
                thrown = stopWritePath(writer, cause: cause)
            }
        }
        if writer.depth > 0 && writer.aborted == nil {
            writer.aborted = (thrown as? StoreError).flatMap { $0.code == .writeQueueStopped ? $0 : nil }
                ?? StoreError(
                    cause?.code ?? .sql,
                    "SQLite rolled back the whole transaction (\(cause?.message ?? "\(error)")); nothing more runs in this tx, and it commits nothing",
                    sqliteCode: cause?.sqliteCode)
        }
        return thrown
    }

    /// The body of a top-level `tx`, at depth 1.
    private func transactionBody<T>(_ writer: Writer, _ body: () throws -> T) throws -> T {
        writer.depth = 1
        defer {
            writer.depth = 0
            writer.aborted = nil
        }
        let result = try body()
        if let aborted = writer.aborted { throw aborted }
        return result
    }

    /// A nested `tx`: a savepoint that a throwing body rolls back alone.
    private func savepoint<T>(_ writer: Writer, _ body: () throws -> T) throws -> T {
        if let aborted = writer.aborted { throw aborted }
        let connection = writer.connection
        let name = "orion_tx\(writer.depth)"
        try connection.run("savepoint \(name)")
        writer.depth += 1
        defer { writer.depth -= 1 }
        let result: T
        do {
            result = try body()
        } catch {
            if writer.aborted == nil && !connection.isAutocommit {
                try? connection.run("rollback to \(name)")
                try? connection.run("release \(name)")
            }
            throw error
        }
        if let aborted = writer.aborted { throw aborted }
        try connection.run("release \(name)")
        return result
    }

    private func rollbackIfOpen(_ writer: Writer) {
        if !writer.connection.isAutocommit { try? writer.connection.run("rollback") }
    }

    // MARK: Write queue

    /// One write unit of the batch: an `exec` outside `tx`, or a whole top-level `tx`, in its own
    /// savepoint so that its failure (or a deferred foreign-key violation it leaves) undoes it
    /// alone and the batch goes on.
    private func writeUnit<R>(_ writer: Writer, _ work: () throws -> R) throws -> R {
        guard let writeQueue else { return try work() }
        if let stopped = writer.stopped { throw stopped }
        let connection = writer.connection
        if !writer.batchOpen { try openBatch(writer, writeQueue) }
        try guarded(writer) { try connection.run("savepoint orion_unit") }
        /// Keeps the unit's writes in the batch.
        func complete() throws {
            // The work may have swallowed the error that lost the batch.
            if let stopped = writer.stopped { throw stopped }
            if connection.deferredForeignKeyViolations > 0 {
                try? connection.run("rollback to orion_unit")
                try? connection.run("release orion_unit")
                throw StoreError(
                    .constraint,
                    "FOREIGN KEY constraint failed: the write left a deferred foreign-key violation, so it was undone on its own; the rest of the batch is unharmed",
                    sqliteCode: SQLiteCodes.constraintForeignKey)
            }
            try guarded(writer) { try connection.run("release orion_unit") }
            writer.batchUnits += 1
            pendingUnits.store(writer.batchUnits, ordering: .relaxed)
            // The time limit now stops no write: that would roll back this unit with the rest.
            connection.protectsWrites = true
            if writer.batchUnits >= writeQueue.maxBatch || writer.batchIsDue() { try commitBatch(writer) }
        }
        let result: R
        do {
            result = try guarded(writer) { try work() }
        } catch let noValue as NoValue {
            // `one` of a write with RETURNING that returned no row or a NULL: the write stands.
            try complete()
            throw noValue
        } catch {
            if writer.batchOpen && !connection.isAutocommit {
                try? connection.run("rollback to orion_unit")
                try? connection.run("release orion_unit")
            }
            throw error
        }
        try complete()
        return result
    }

    private func openBatch(_ writer: Writer, _ writeQueue: WriteQueue) throws {
        try writer.connection.run("begin immediate")
        writer.batchOpen = true
        writer.batchUnits = 0
        writer.batchID += 1
        writer.openedAt = monotonicNanoseconds()
        writer.connection.protectsWrites = false
        let id = writer.batchID
        queue.withLock { $0.openBatch = id }
        batchIsOpen.store(true, ordering: .releasing)
        if writeQueue.maxDelay > .zero {
            let delay = writeQueue.maxDelay.components
            let nanoseconds = Int(delay.seconds) * 1_000_000_000 + Int(delay.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in
                self?.commitIfOpen(batch: id, onlyWhenIdle: false)
            }
        } else {
            queue.withLock { $0.flushWanted = true }
        }
    }

    /// The last thread left the writer: with a zero delay, this is when the batch commits.
    private func writerWentIdle() {
        guard batchIsOpen.load(ordering: .acquiring) else { return }
        let wanted = queue.withLock { state in
            defer { state.flushWanted = false }
            return state.flushWanted
        }
        guard wanted else { return }
        DispatchQueue.global().async { [weak self] in
            self?.commitIfOpen(batch: nil, onlyWhenIdle: true)
        }
    }

    /// Commits the open batch (if it is `batch`, when given). A zero-delay flush that finds
    /// writers running or waiting leaves the batch to them: they join it, and the last one out
    /// schedules the flush again.
    private func commitIfOpen(batch: UInt64?, onlyWhenIdle: Bool) {
        if onlyWhenIdle && writerActivity.load(ordering: .relaxed) > 0 {
            queue.withLock { $0.flushWanted = true }
            if writerActivity.load(ordering: .relaxed) > 0 { return }
        }
        writerLock.lock()
        defer { unlockWriter() }
        guard let writer, writer.batchOpen, writer.depth == 0 else { return }
        if let batch, writer.batchID != batch { return }
        try? commitBatch(writer)
    }

    /// COMMITs the open batch and answers the `durable()` calls waiting for it.
    private func commitBatch(_ writer: Writer) throws {
        let size = writer.batchUnits
        let started = ContinuousClock.now
        do {
            try writer.connection.run("commit")
        } catch {
            throw stopWritePath(writer, cause: error as? StoreError)
        }
        let elapsed = ContinuousClock.now - started
        closeBatch(writer)
        let id = writer.batchID
        let resumed = queue.withLock { state in
            state.committed = id
            state.openBatch = nil
            state.flushWanted = false
            state.metrics.batches += 1
            state.metrics.writes += size
            state.metrics.largestBatch = max(state.metrics.largestBatch, size)
            state.metrics.commitTime += elapsed
            let ready = state.waiters.filter { $0.batch <= id }
            state.waiters.removeAll { $0.batch <= id }
            state.metrics.waitersResumed += ready.count
            return ready
        }
        for (_, continuation) in resumed { continuation.resume() }
        report(BatchEvent(size: size, commitDuration: elapsed, waiters: resumed.count, failure: nil))
    }

    /// Marks the batch closed, whatever ended it.
    private func closeBatch(_ writer: Writer) {
        writer.batchOpen = false
        writer.batchUnits = 0
        writer.connection.protectsWrites = false
        pendingUnits.store(0, ordering: .relaxed)
        batchIsOpen.store(false, ordering: .releasing)
    }

    /// SQLite rolled back a batch that held no acknowledged write (its first unit failed in a way
    /// that ends the transaction): nothing is lost, and the next write opens a new batch.
    private func endEmptyBatch(_ writer: Writer) {
        closeBatch(writer)
        let id = writer.batchID
        let resumed = queue.withLock { state in
            // Whoever waits on this batch made no write in it: there is nothing to wait for.
            state.committed = id
            state.openBatch = nil
            state.flushWanted = false
            let ready = state.waiters.filter { $0.batch <= id }
            state.waiters.removeAll { $0.batch <= id }
            return ready
        }
        for (_, continuation) in resumed { continuation.resume() }
    }

    /// SQLite ended the batch, or its COMMIT failed: its writes are lost together. Every waiter,
    /// every later write and every later `durable()` gets the error until the store is reopened.
    private func stopWritePath(_ writer: Writer, cause: StoreError?) -> StoreError {
        let lost = writer.batchUnits
        rollbackIfOpen(writer)
        closeBatch(writer)
        let reason = cause.map { "\($0.message)\($0.sqliteCode.map { " (\(SQLiteCodes.name($0)))" } ?? "")" } ?? "unknown cause"
        let stopped = StoreError(
            .writeQueueStopped,
            "the write queue stopped: SQLite ended the open batch (\(reason)), losing its \(lost) acknowledged write\(lost == 1 ? "" : "s"); writes are refused until the store is closed and opened again",
            sqliteCode: cause?.sqliteCode)
        if writer.stopped == nil { writer.stopped = stopped }
        let waiters = queue.withLock { state in
            if state.stopped == nil { state.stopped = stopped }
            state.openBatch = nil
            defer { state.waiters = [] }
            return state.waiters
        }
        for (_, continuation) in waiters { continuation.resume(throwing: stopped) }
        report(BatchEvent(size: lost, commitDuration: .zero, waiters: waiters.count, failure: stopped))
        return stopped
    }

    /// Queues `event` for `onBatch`, which runs once the writer is unlocked. A lost batch with
    /// nobody listening is written to standard error at once.
    private func report(_ event: BatchEvent) {
        guard writeQueue?.onBatch != nil else {
            if let failure = event.failure {
                let line = Array("orion: \(path): \(failure.message)\n".utf8)
                _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
            return
        }
        queue.withLock { $0.events.append(event) }
        eventsPending.store(true, ordering: .releasing)
    }

    /// Calls `onBatch` with the queued events, in order, one caller at a time; called with no
    /// lock of the store held.
    private func deliverBatchEvents() {
        guard let onBatch = writeQueue?.onBatch else { return }
        while true {
            let events: [BatchEvent]? = queue.withLock { state in
                guard !state.delivering, !state.events.isEmpty else { return nil }
                state.delivering = true
                defer { state.events = [] }
                eventsPending.store(false, ordering: .relaxed)
                return state.events
            }
            guard let events else { return }
            for event in events { onBatch(event) }
            queue.withLock { $0.delivering = false }
        }
    }

    // MARK: State

    /// Whether reads are routed to the writer because a batch is open (for tests).
    var batchIsOpenForTests: Bool { batchIsOpen.load(ordering: .acquiring) }

    /// Runs one of the store's own statements on the writer, past the fence (for tests that need
    /// a connection setting feature SQL may not make, such as `pragma max_page_count`).
    func runOnWriterForTests(_ sql: String) throws {
        try withWriter { try $0.connection.run(sql) }
    }

    /// Whether the calling thread holds the writer (for tests of what runs outside the lock).
    var writerHeldByCurrentThreadForTests: Bool { writerLock.isHeldByCurrentThread }

    /// Statements cached on the writer connection (for tests and diagnostics).
    func writerCacheCount() throws -> Int {
        try withWriter { $0.connection.cachedStatementCount }
    }

    private static let closedError = StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again")

    private func checkOpen() throws {
        if closed.load(ordering: .relaxed) { throw Self.closedError }
    }
}

/// The writer connection and its transaction state, guarded by the store's writer lock.
private final class Writer {
    let connection: SQLiteConnection
    /// 0 outside `tx`; 1 in a top-level `tx`; more in nested ones.
    var depth = 0
    /// Set when SQLite ended the transaction under a `tx` body; the body's later calls throw it.
    var aborted: StoreError?
    var batchOpen = false
    var batchUnits = 0
    var batchID: UInt64 = 0
    /// When the open batch began (monotonic nanoseconds).
    var openedAt: UInt64 = 0
    /// How long a batch may stay open, in nanoseconds, however busy the writer is.
    let batchCeiling: UInt64
    /// Set when a batch was lost: the write path refuses work until the store is reopened.
    var stopped: StoreError?

    init(connection: SQLiteConnection, writeQueue: WriteQueue?) {
        self.connection = connection
        let ceiling = writeQueue.map { $0.maxDelay > .zero ? $0.maxDelay : WriteQueue.busyWriterCeiling } ?? .zero
        batchCeiling = UInt64(ceiling.components.seconds) * 1_000_000_000 + UInt64(ceiling.components.attoseconds / 1_000_000_000)
    }

    /// Whether the open batch holds writes of earlier units, which a rollback of the whole
    /// transaction would take with it.
    var sharesBatch: Bool { batchOpen && batchUnits > 0 }

    /// Whether the open batch has been open as long as it may be.
    @inline(__always)
    func batchIsDue() -> Bool {
        monotonicNanoseconds() &- openedAt >= batchCeiling
    }
}

/// What `durable()` waits on: which batch is open, which committed last, who waits.
private struct QueueState {
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

/// Stores with a write queue, flushed when the process exits normally. SIGTERM handling belongs to
/// the app: call `close()` (or `flush()`) from it.
enum ShutdownFlush {
    private final class WeakStore: @unchecked Sendable {
        // `@unchecked Sendable`: written once at creation; the reference is weak and only read.
        weak var store: SQLiteStore?
        init(_ store: SQLiteStore) { self.store = store }
    }

    private static let stores = Mutex<[ObjectIdentifier: WeakStore]>([:])
    private static let installed = Atomic<Bool>(false)

    static func register(_ store: SQLiteStore) {
        stores.withLock { $0[ObjectIdentifier(store)] = WeakStore(store) }
        if !installed.exchange(true, ordering: .relaxed) {
            atexit { ShutdownFlush.flushAll() }
        }
    }

    static func unregister(_ store: SQLiteStore) {
        stores.withLock { $0[ObjectIdentifier(store)] = nil }
    }

    static func flushAll() {
        let live = stores.withLock { $0.values.compactMap(\.store) }
        for store in live { store.commitAtExit() }
    }
}
