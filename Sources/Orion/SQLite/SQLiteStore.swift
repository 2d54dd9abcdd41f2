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
    // without locking again); the reader pool, the group commit and the scopes guard
    // themselves; everything else is immutable or atomic.

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
    /// The file's absolute name as SQLite resolved it when the store opened: what the readers
    /// and backups open, whatever the working directory is later.
    let databaseFile: String
    /// The write queue's configuration, when group commit is on.
    public var writeQueue: WriteQueue? { group?.configuration }
    /// How COMMITs reach the disk.
    public let synchronous: Synchronous
    /// Whether the store writes, or only reads (see ``OpenMode``).
    public let mode: OpenMode

    /// How a store opens its file.
    public enum OpenMode: Sendable, Hashable {
        /// Reads and writes; the file is created when missing. The default.
        case readWrite
        /// Reads only, for replicas and tools: the file is opened read-only, and every write —
        /// `exec` of a statement that writes, a `tx` body's write, `migrate` with an entry not yet
        /// applied — throws ``StoreError/Code-swift.struct/readOnly`` before it reaches SQLite.
        /// `tx` is a read transaction (one snapshot for all its reads). Commits by the program
        /// that writes the file are seen, and announced to ``SQLiteStore/changes()``.
        case readOnly
        /// Read-only, and the file is promised never to change while it is open (a backup, a
        /// file on read-only media): SQLite takes no locks and reads no WAL — only what was
        /// checkpointed into the database file is seen.
        case immutable
    }

    let writerLock = OwnedLock()
    var writer: Writer?
    /// The writer's turns with other processes' writers (``WriterTurns``), when it has them.
    let turns: WriterTurns?
    /// Group commit, when the write queue is on.
    let group: GroupCommit?
    /// The subscribers of this store's commits.
    let changeHub: ChangeHub
    /// Watches for commits of other connections while anyone subscribes.
    let otherWriters: OtherWriters
    /// Keeps the write-ahead log bounded (see ``Checkpointing``).
    let checkpointer: Checkpointer
    /// The writer's page-cache lookups, as `health()` collected them.
    let writerCacheTotal = Locked(CacheCount())
    private let readerPool: ReaderPool?
    private let closed = Atomic<Bool>(false)
    /// Threads inside or waiting for the writer; the zero-delay flush waits for none.
    private let writerActivity = Atomic<Int>(0)
    private let scopes = Locked<[String: Scope]>([:])

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
    ///   - checkpointing: How the write-ahead log is kept from growing (default
    ///     ``Checkpointing/bounded(walLimit:)`` at 64 MiB; see <doc:OperatingAStore>).
    ///   - mode: ``OpenMode/readWrite`` (the default), ``OpenMode/readOnly`` or
    ///     ``OpenMode/immutable``.
    /// - Throws: ``StoreError`` when the file cannot be opened, is not a database, cannot use WAL,
    ///   or SQLite is older than 3.35.
    public init(
        path: String, writeQueue: WriteQueue? = nil, synchronous: Synchronous = .normal,
        readers: Int = 4, statementCacheSize: Int = 128, statementTimeLimit: Duration? = nil,
        checkpointing: Checkpointing = .bounded(), mode: OpenMode = .readWrite
    ) throws {
        precondition(readers >= 1, "SQLiteStore(readers:) must be at least 1, got \(readers)")
        precondition(statementCacheSize >= 1, "SQLiteStore(statementCacheSize:) must be at least 1, got \(statementCacheSize)")
        if let statementTimeLimit {
            precondition(statementTimeLimit > .zero, "SQLiteStore(statementTimeLimit:) must be positive, got \(statementTimeLimit)")
        }
        guard !path.isEmpty else {
            throw StoreError(.misuse, "the database path is empty; give a file path, or \":memory:\" for a private in-memory database")
        }
        let memory = path == ":memory:"
        if mode != .readWrite {
            guard !memory else {
                throw StoreError(.misuse, "an in-memory database cannot be opened read-only: it starts empty; open a file")
            }
            guard writeQueue == nil else {
                throw StoreError(.misuse, "a read-only store has no writes to queue; open it without a writeQueue")
            }
        }
        self.path = path
        self.synchronous = synchronous
        self.mode = mode
        group = writeQueue.map { GroupCommit($0, path: path) }
        let otherWriters = OtherWriters(enabled: !memory)
        self.otherWriters = otherWriters
        changeHub = ChangeHub(onDemand: { wanted in otherWriters.setWanted(wanted) })
        let connection = try SQLiteConnection(
            path: path, role: memory ? .memory : .writer, synchronous: synchronous,
            statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit, mode: mode)
        connection.changes = changeHub
        databaseFile = memory ? path : connection.filename
        let databaseFile = databaseFile
        turns =
            !memory && mode == .readWrite && !databaseFile.isEmpty
            ? WriterTurns(database: databaseFile, timeoutMilliseconds: SQLiteConnection.busyTimeoutMilliseconds) : nil
        connection.turns = turns
        checkpointer = Checkpointer(policy: checkpointing)
        if !memory && mode == .readWrite { try checkpointer.install(on: connection) }
        if !memory { otherWriters.setBaseline(try connection.first("pragma data_version", [], access: .internal)) }
        writer = Writer(connection: connection, group: group)
        readerPool =
            memory
            ? nil
            : ReaderPool(capacity: readers) {
                try SQLiteConnection(
                    path: databaseFile, role: .reader, synchronous: synchronous,
                    statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit, mode: mode)
            }
        otherWriters.store = self
        if let group {
            group.owner = self
            ShutdownFlush.register(self)
        }
    }

    deinit {
        otherWriters.stop()
        defer { changeHub.finish() }
        guard let group else { return }
        // The last reference is gone: commit what the write queue still holds (a failure is
        // reported through `onBatch` or standard error by the commit itself).
        if let writer, group.isOpen { try? group.commit(writer.connection) }
        group.deliverEvents()
        ShutdownFlush.unregister(self)
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
            if let group { return try group.unit(writer, caller: currentCallerKey()) { try transactionBody(writer, body) } }
            // Read-only: a read transaction, one snapshot for every read of the body.
            try writer.connection.run(mode == .readWrite ? "begin immediate" : "begin")
            writer.connection.writeLog.begin()
            let result: T
            do {
                result = try transactionBody(writer, body)
                try writer.connection.run("commit")
            } catch {
                writer.rollbackIfOpen()
                throw error
            }
            writer.connection.announceCommit()
            return result
        }
    }

    /// Applies the feature's new entries, each in its own transaction, under the fence; see
    /// <doc:MigrationsAndTheFence>. Commits the write queue's open batch first.
    public func migrate(_ feature: String, _ migrations: [String]) throws {
        try Migrations.validate(feature: feature)
        try withWriter { writer in
            guard writer.depth == 0 else {
                throw StoreError.migrateInsideTransaction(feature: feature)
            }
            if let group, group.isOpen { try group.commit(writer.connection) }
            guard mode == .readWrite else {
                return try Migrator.verify(feature: feature, entries: migrations, on: writer.connection)
            }
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
    /// - Parameter feature: The feature's name, as given to `migrate`. A name `migrate` would
    ///   refuse gives a store whose every call throws that refusal (``StoreError/Code/migration``).
    /// - Returns: A store sharing this store's connections, write queue and transactions.
    public func scoped(to feature: String) -> any Store {
        if let problem = Migrations.problem(withFeature: feature) {
            return RefusedScope(feature: feature, problem: problem)
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
            if let group, group.isOpen { try group.commit(writer.connection) }
        }
        if let stopped = group?.stoppedError { throw stopped }
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
        try await group?.durable()
    }

    /// The write queue's totals: batches, writes, mean batch size, commit time.
    public var writeQueueMetrics: WriteQueueMetrics {
        group?.metrics ?? WriteQueueMetrics()
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
        if let closing = writer, let group, group.isOpen {
            do { try group.commit(closing.connection) } catch { failure = error }
        }
        closed.store(true, ordering: .sequentiallyConsistent)
        writer = nil
        unlockWriter()
        readerPool?.close()
        group?.failWaiters(with: StoreError(.closed, "the store was closed before the write was committed"))
        otherWriters.stop()
        changeHub.finish()
        if let failure { throw failure }
    }

    /// At process exit (`exit()`, returning from `main`): commit the open batch if the writer
    /// is free within a second. A `tx` body still running keeps its batch uncommitted (whole,
    /// never in part) rather than hanging the exit; that loss is reported like any other.
    func commitAtExit() {
        guard let group, group.isOpenForReaders else { return }
        let busy = writerLock.isHeldByCurrentThread ? "exit was called inside a tx body" : nil
        guard busy == nil, writerLock.lock(attempts: 1000) else {
            group.reportLostAtExit(reason: busy ?? "the writer stayed busy for a second (a tx body still running on another thread?)")
            return
        }
        if let writer, group.isOpen { try? group.commit(writer.connection) }
        unlockWriter()
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
        // Reads run on the pool, on committed rows, never waiting for the write queue's batch;
        // the writer serves those inside `tx`, and the callers that wrote into the open batch
        // (read-your-writes).
        guard let readerPool, !writerLock.isHeldByCurrentThread else {
            return try onWriter(sql, params, access: access, run)
        }
        if let group, group.isOpenForReaders, group.wroteIntoOpenBatch(currentCallerKey()) {
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
                if mode != .readWrite && !statement.isReadOnly {
                    throw StoreError.readOnlyStore(sql: sql)
                }
                /// Runs the statement, its errors free of bound values before the transaction
                /// logic copies them (a lost batch's error reaches other callers and `onBatch`).
                /// What it wrote is logged inside its own transaction level (a unit's savepoint).
                func runRedacted() throws -> R {
                    do {
                        return try connection.loggingWrites(statement) { try run(connection, statement) }
                    } catch let error as StoreError where params.count > 0 {
                        throw error.redacting(params.boundValues)
                    }
                }
                if writer.depth > 0 || writer.group?.isOpen == true && statement.isReadOnly {
                    if writer.depth > 0, writer.group?.sharesBatch == true, !statement.isReadOnly,
                        try connection.mayRollBackTransaction(statement)
                    {
                        throw StoreError.rollbackInSharedBatch(sql: sql)
                    }
                    return try writer.guarded(runRedacted)
                }
                if let group, !statement.isReadOnly {
                    // A statement that can roll back the whole transaction runs in a batch of
                    // its own, so that it can take no one else's writes with it.
                    if group.sharesBatch, try connection.mayRollBackTransaction(statement) {
                        try group.commit(connection)
                    }
                    return try group.unit(writer, caller: currentCallerKey(), runRedacted)
                }
                return try runRedacted()
            }
        }
    }

    func withWriter<R>(_ body: (Writer) throws -> R) throws -> R {
        if writerLock.isHeldByCurrentThread, let writer {
            return try body(writer)
        }
        try checkOpen()
        writerActivity.add(1, ordering: .relaxed)
        writerLock.lock()
        defer {
            if let writer, writer.depth == 0, let group, group.isOpen, group.isDue() {
                // However busy the writer stays, a batch commits once it is due: this exit
                // (a read on the writer, say) commits it; a failure is reported by the commit.
                try? group.commit(writer.connection)
            }
            unlockWriter()
            let remaining = writerActivity.subtract(1, ordering: .relaxed).newValue
            if remaining == 0 { writerWentIdle() }
        }
        guard let writer else { throw Self.closedError }
        return try body(writer)
    }

    /// Runs `body` on the writer if it is free within 50 ms (or already this thread's);
    /// whether it ran. For figures that must not wait behind a long `tx`.
    func withWriterIfFree(_ body: (Writer) -> Void) -> Bool {
        if writerLock.isHeldByCurrentThread {
            guard let writer else { return false }
            body(writer)
            return true
        }
        guard writerLock.lock(attempts: 50) else { return false }
        defer { unlockWriter() }
        guard let writer else { return false }
        body(writer)
        return true
    }

    /// The reader pool's figures and its connections' page-cache lookups (see ``ReaderPool``).
    func readerPoolFigures(collect: (SQLiteConnection) -> CacheCount) -> (ReaderPoolFigures, CacheCount)? {
        readerPool?.figures(collect: collect)
    }

    /// Before the writer is unlocked: takes down this writer's mark if it waited for another
    /// process, and when another process's writer waits and no transaction is open, lets it
    /// have its turn before this process writes again (``WriterTurns``). Here, not where the
    /// writer is locked, and out of line: there it made the optimizer give up inlining elsewhere
    /// on the write path (+2 % instructions per insert, measured).
    @inline(never)
    private func takeTurns(_ writer: Writer) {
        guard let turns else { return }
        turns.doneWaiting()
        if turns.othersWait { turns.standAside(before: writer.connection) }
    }

    /// Unlocks the writer, then hands the batch events its holder produced to `onBatch`,
    /// outside every lock of the store.
    @inline(__always)
    private func unlockWriter() {
        if let writer {
            if turns != nil { takeTurns(writer) }
            checkpointer.runPending(on: writer.connection)
        }
        writerLock.unlock()
        if let group, group.hasEvents { group.deliverEvents() }
    }

    // MARK: Transactions

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
        connection.writeLog.begin()
        writer.depth += 1
        defer { writer.depth -= 1 }
        let result: T
        do {
            result = try body()
        } catch {
            if writer.aborted == nil && !connection.isAutocommit {
                try? connection.run("rollback to \(name)")
                try? connection.run("release \(name)")
                connection.writeLog.rollBack()
            }
            throw error
        }
        if let aborted = writer.aborted { throw aborted }
        try connection.run("release \(name)")
        connection.writeLog.release()
        return result
    }

    // MARK: Committing batches

    /// The last thread left the writer: with a zero delay, this is when the batch commits.
    private func writerWentIdle() {
        guard let group, group.isOpenForReaders, group.takeFlushWanted() else { return }
        DispatchQueue.global().async { [weak self] in
            self?.commitIfOpen(batch: nil, onlyWhenIdle: true)
        }
    }

    /// Commits the open batch (if it is `batch`, when given). A zero-delay flush that finds
    /// writers running or waiting leaves the batch to them: they join it, and the last one out
    /// schedules the flush again.
    func commitIfOpen(batch: UInt64?, onlyWhenIdle: Bool) {
        guard let group else { return }
        if onlyWhenIdle && writerActivity.load(ordering: .relaxed) > 0 {
            group.wantFlush()
            if writerActivity.load(ordering: .relaxed) > 0 { return }
        }
        writerLock.lock()
        defer { unlockWriter() }
        guard let writer, group.isOpen, writer.depth == 0 else { return }
        if let batch, !group.isBatch(batch) { return }
        try? group.commit(writer.connection)
    }

    // MARK: State

    /// Whether a write-queue batch is open (for tests).
    var batchIsOpenForTests: Bool { group?.isOpenForReaders == true }

    /// Runs one of the store's own statements on the writer, past the fence (for tests that need
    /// a connection setting feature SQL may not make, such as `pragma max_page_count`).
    func runOnWriterForTests(_ sql: String) throws {
        try withWriter { try $0.connection.run(sql) }
    }

    /// Whether the writer takes turns with other processes' writers (for tests).
    var hasWriterTurnsForTests: Bool { turns != nil }

    /// Whether the calling thread holds the writer (for tests of what runs outside the lock).
    var writerHeldByCurrentThreadForTests: Bool { writerLock.isHeldByCurrentThread }

    /// The most statements any reader connection holds in its cache (for tests).
    func readerCacheMaxForTests() -> Int {
        var most = 0
        _ = readerPool?.figures { connection in
            most = max(most, connection.cachedStatementCount)
            return CacheCount()
        }
        return most
    }

    /// Statements cached on the writer connection (for tests and diagnostics).
    func writerCacheCount() throws -> Int {
        try withWriter { $0.connection.cachedStatementCount }
    }

    private static let closedError = StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again")

    /// Whether ``close()`` ran.
    var isClosed: Bool { closed.load(ordering: .relaxed) }

    private func checkOpen() throws {
        if closed.load(ordering: .relaxed) { throw Self.closedError }
    }
}
