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
/// `busy_timeout = 5000` (``busyTimeout``), `foreign_keys = on`, defensive mode, and
/// double-quoted string literals off. `":memory:"` is one private database on one connection.
///
/// ## Threads and blocking
/// The store is safe from any thread or task, and every call is synchronous. A call can block:
/// - a write or `tx` waits for the writer while another thread's write or `tx` body runs, and
///   then up to the busy timeout (5 s) for another process's write lock;
/// - a read waits for a free reader connection (there are `readers` of them) while all run
///   other reads; with the write queue's batch open it waits for the writer instead;
/// - a statement runs until it is done, or until `statementTimeLimit` stops it (a write sharing
///   the write queue's batch with others' writes is not stopped).
///
/// Async code never calls these on Swift's cooperative pool: it enters through the lanes,
/// ``read(_:)`` and ``write(_:)``, whose bodies run on threads the store owns (see
/// <doc:GettingStarted>). Never block a `tx` body (or a `Decodable` initializer) on another
/// thread that needs the store. Inside a `tx` body the same thread may call the store again:
/// those calls join the transaction.
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
    let readerPool: ReaderPool?
    let closed = Atomic<Bool>(false)
    /// Threads inside or waiting for the writer; the zero-delay flush waits for none.
    let writerActivity = Atomic<Int>(0)
    private let scopes = Locked<[String: Scope]>([:])
    /// How long a write waits for another connection's write lock (and, through the lanes,
    /// for the writer) before it throws ``StoreError/Code-swift.struct/busy``.
    public let busyTimeout: Duration
    /// `read { }` bodies: up to `readers` threads.
    let readLane: Lane
    /// `write { }` bodies: one thread, the writer's.
    let writeLane: Lane

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
    ///   - busyTimeout: How long a write waits for another connection's (or process's) write
    ///     lock before it throws ``StoreError/Code-swift.struct/busy`` (SQLite's
    ///     `busy_timeout`; default 5 s). A ``write(_:)`` waits at most this long from its call,
    ///     for the write lane and the writer included.
    /// - Throws: ``StoreError`` when the file cannot be opened, is not a database, cannot use WAL,
    ///   or SQLite is older than 3.35.
    public init(
        path: String, writeQueue: WriteQueue? = nil, synchronous: Synchronous = .normal,
        readers: Int = 4, statementCacheSize: Int = 128, statementTimeLimit: Duration? = nil,
        checkpointing: Checkpointing = .bounded(), mode: OpenMode = .readWrite, busyTimeout: Duration = .seconds(5)
    ) throws {
        precondition(readers >= 1, "SQLiteStore(readers:) must be at least 1, got \(readers)")
        precondition(
            busyTimeout >= .milliseconds(1) && busyTimeout <= .seconds(Int64(Int32.max / 1000)),
            "SQLiteStore(busyTimeout:) must be between 1 ms and \(Int32.max / 1000) s, got \(busyTimeout)")
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
        self.busyTimeout = busyTimeout
        let busyMilliseconds = Int32(busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000)
        let busyNanoseconds = UInt64(busyMilliseconds) * 1_000_000
        readLane = Lane(kind: .read, name: "orion-read", width: readers, closedError: Self.closedError)
        writeLane = Lane(
            kind: .write, name: "orion-write", width: 1, closedError: Self.closedError,
            expiredError: { StoreError.laneBusy(waited: $0, for: "for its turn on the write lane (the writes ahead of it, or another process's lock, held it all that time)") })
        group = writeQueue.map { GroupCommit($0, path: path) }
        let otherWriters = OtherWriters(enabled: !memory)
        self.otherWriters = otherWriters
        changeHub = ChangeHub(onDemand: { wanted in otherWriters.setWanted(wanted) })
        let connection = try SQLiteConnection(
            path: path, role: memory ? .memory : .writer, synchronous: synchronous,
            statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit, mode: mode,
            busyTimeout: busyMilliseconds)
        connection.changes = changeHub
        databaseFile = memory ? path : connection.filename
        let databaseFile = databaseFile
        turns =
            !memory && mode == .readWrite && !databaseFile.isEmpty
            ? WriterTurns(database: databaseFile, timeoutNanoseconds: busyNanoseconds) : nil
        connection.turns = turns
        connection.writeLaneID = ObjectIdentifier(writeLane)
        turns?.writeLaneID = ObjectIdentifier(writeLane)
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
                    statementCacheSize: statementCacheSize, timeLimit: statementTimeLimit, mode: mode,
                    busyTimeout: busyMilliseconds)
            }
        otherWriters.store = self
        if let group {
            group.owner = self
            ShutdownFlush.register(self)
        }
    }

    deinit {
        readLane.close()
        writeLane.close()
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
        if LaneThread.inReadBody { throw StoreError.writeInRead("tx") }
        return try withWriter { writer in
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
        if LaneThread.inReadBody { throw StoreError.writeInRead("migrate") }
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

    static let closedError = StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again")

    /// Whether ``close()`` ran.
    var isClosed: Bool { closed.load(ordering: .relaxed) }

    func checkOpen() throws {
        if closed.load(ordering: .relaxed) { throw Self.closedError }
    }
}
