import Foundation
public import Orion
import Synchronization

/// The store over PostgreSQL: the same five methods as `SQLiteStore`, synchronous,
/// over libpq with a pool of connections.
///
/// ```swift
/// let store = try PostgresStore(url: "postgresql://app@127.0.0.1:5432/app")
/// try Todos.migrate(store)                       // the same migrations as on SQLite
/// let todos = store.scoped(to: "todos")          // the same fence
/// let open: [Todo] = try todos.query("select * from todos where done = ?", false)
/// ```
///
/// Each call borrows a connection from the pool for one round trip (two for an `INSERT` that
/// adds rows: see ``exec(_:_:)``) and gives it back; `tx` keeps one connection for its body,
/// pinned to the calling thread. A call blocks its thread while PostgreSQL answers; when every
/// connection is busy it waits up to `poolTimeout` and then throws `StoreError.Code.busy`.
/// Async code enters through the lanes, ``read(_:)`` and ``write(_:)``, whose bodies run on
/// threads the store owns: reads on ``readShare`` of them, writes on ``writeShare``, so that
/// writes waiting on PostgreSQL's locks never hold the connections reads need.
///
/// Parameters are `?`, as on SQLite; the store numbers them `$1 … $n` outside literals,
/// quoted identifiers, dollar-quoted bodies and comments. jsonb's `?`, `?|` and `?&` operators
/// are written `??`, `??|` and `??&`.
public final class PostgresStore: Store, Sendable {
    /// The number of connections the pool opens at most.
    public let poolSize: Int
    /// The most `write { }` bodies that run at once, each on a connection of its own.
    public let writeShare: Int
    /// The most `read { }` bodies that run at once: the rest of the pool.
    public var readShare: Int { readLane.width }
    /// How long a `write { }` waits from its call — for a thread, a connection and
    /// PostgreSQL's locks together — before it throws `StoreError.Code.busy`.
    public let busyTimeout: Duration
    let readLane: Lane
    let writeLane: Lane
    let pool: ConnectionPool
    /// Connections pinned by a running `tx`, by thread.
    private let pins = Locked<[UInt: Pin]>([:])
    private let pinCount = Atomic<Int>(0)
    /// Table name → owning feature, as last read from `_orion_tables` (for fence messages).
    let owners = Locked<[String: String]>([:])
    /// The subscribers of the database's commits, fed by ``listener``.
    let changeHub: ChangeHub
    let listener: PostgresListener

    /// A connection held by a `tx` body, with its savepoint depth. Touched only by its thread.
    final class Pin: @unchecked Sendable {
        let connection: PostgresConnection
        @exclusivity(unchecked) var depth = 0
        /// The deadline of the lane write this tx is (monotonic nanoseconds; 0: none).
        @exclusivity(unchecked) var deadline: UInt64 = 0
        /// 1 + the depth at which a statement of this tx failed on the server (0: none did).
        /// PostgreSQL aborts a transaction in which a statement fails while prepared or run; a
        /// statement that failed while prepared as the tx's first, with BEGIN not yet sent,
        /// dooms it the same way here, so that a failure does the same whatever stage it came
        /// at. What the store refuses without the server (a wrong parameter count, the fence's
        /// refused forms, a decoding error) leaves the tx as it was, as on SQLite.
        @exclusivity(unchecked) var failedAt = 0
        init(connection: PostgresConnection) { self.connection = connection }
    }

    /// What a tx (or a nested one) throws when its body swallowed the failure of one of its
    /// statements: nothing of it was committed.
    static func swallowedError(nested: Bool) -> StoreError {
        StoreError(
            .sql,
            "the store rolled the \(nested ? "nested tx (its savepoint)" : "transaction") back instead of committing it: a statement in it failed, which aborts the whole transaction on PostgreSQL, and the body went on; nothing in it was committed (wrap a statement that may fail in a nested tx { } of its own to go on without it)",
            sqlState: "25P02")
    }

    /// What a statement of a tx gets once an earlier one failed: the words PostgreSQL's own
    /// refusal (25P02) gets.
    static func abortedError(sql: String?) -> StoreError {
        StoreError(
            .sql,
            "an earlier statement in this tx failed, so PostgreSQL refuses the rest of the transaction; wrap a statement that may fail in a nested tx { } to recover from its failure",
            sql: sql, sqlState: "25P02")
    }

    /// On whose behalf a statement runs.
    enum Access {
        /// The composition root: the store's login role.
        case root
        /// A feature's scoped store: the feature's role.
        case scoped(feature: String, role: String)

        var role: PostgresConnection.RoleState {
            switch self {
            case .root: .login
            case .scoped(_, let role): .feature(role)
            }
        }
    }

    /// Opens a pool over the database at `url` and checks that it answers.
    ///
    /// - Parameters:
    ///   - url: A libpq connection URI (`postgresql://user:password@host:5432/db?sslmode=…`) or
    ///     `key=value` string.
    ///   - poolSize: The most connections open at once (default 8). Calls beyond it wait.
    ///   - poolTimeout: How long a call waits for a free connection before it throws
    ///     `StoreError.Code.busy` (default 10 s).
    ///   - statementTimeLimit: PostgreSQL's `statement_timeout` for every statement of the
    ///     store; a statement running longer is cancelled and throws
    ///     `StoreError.Code.interrupted`. `nil` (the default) sets none.
    ///   - statementCacheSize: Prepared statements kept per connection (default 256).
    ///   - busyTimeout: How long a ``write(_:)`` waits from its call (for its turn, a connection
    ///     and PostgreSQL's locks, through `lock_timeout`) before it throws
    ///     `StoreError.Code.busy` (default 5 s, SQLite's).
    ///   - writeShare: How many connections `write { }` bodies may hold at once (default a
    ///     quarter of `poolSize`, at least 1); `read { }` bodies have the rest, at least 1.
    /// - Throws: `StoreError` with `StoreError.Code.connection` when the server cannot be
    ///   reached or refuses the login (the message has libpq's reason; a password in the URL
    ///   is not repeated).
    public init(
        url: String, poolSize: Int = 8, poolTimeout: Duration = .seconds(10),
        statementTimeLimit: Duration? = nil, statementCacheSize: Int = 256, busyTimeout: Duration = .seconds(5),
        writeShare: Int? = nil
    ) throws {
        precondition(poolSize >= 1, "PostgresStore needs a pool of at least one connection")
        let writeShare = writeShare ?? max(1, poolSize / 4)
        precondition(
            writeShare >= 1 && (writeShare < poolSize || poolSize == 1),
            "PostgresStore(writeShare:) must be at least 1 and leave reads at least one of the pool's \(poolSize) connections, got \(writeShare)")
        precondition(busyTimeout >= .milliseconds(1), "PostgresStore(busyTimeout:) must be at least 1 ms, got \(busyTimeout)")
        precondition(statementCacheSize >= 1, "PostgresStore needs a statement cache of at least one statement")
        if let limit = statementTimeLimit {
            precondition(limit > .zero, "statementTimeLimit must be positive; pass nil for no limit")
        }
        if let scheme = url.range(of: "://").map({ url[..<$0.lowerBound].lowercased() }),
            scheme != "postgresql", scheme != "postgres"
        {
            // libpq would read it as a key=value string and answer with a riddle.
            throw StoreError(
                .connection,
                "PostgresStore(url:) takes a postgresql:// (or postgres://) URL or a key=value connection string such as \"host=localhost dbname=app\"; this URL's scheme is '\(scheme)'")
        }
        self.poolSize = poolSize
        self.writeShare = writeShare
        self.busyTimeout = busyTimeout
        readLane = Lane(kind: .read, name: "orion-pg-read", width: max(1, poolSize - writeShare), closedError: ConnectionPool.closedError)
        writeLane = Lane(
            kind: .write, name: "orion-pg-write", width: writeShare, closedError: ConnectionPool.closedError,
            expiredError: { StoreError.laneBusy(waited: $0, for: "for its turn (the pool's write share was busy all that time)") })
        let listener = PostgresListener(url: url)
        self.listener = listener
        changeHub = ChangeHub(foldsNames: false, onDemand: { wanted in listener.setWanted(wanted) })
        listener.hub = changeHub
        let open = { try PostgresConnection(url: url, statementTimeLimit: statementTimeLimit, statementCapacity: statementCacheSize) }
        pool = ConnectionPool(size: poolSize, timeout: poolTimeout, first: try open(), open: open)
    }

    /// Closes the pool: idle connections now, busy ones when their call returns. Later calls
    /// throw `StoreError.Code.closed`.
    public func close() {
        readLane.close()
        writeLane.close()
        pool.close()
        listener.stop()
        changeHub.finish()
    }

    deinit {
        readLane.close()
        writeLane.close()
        listener.stop()
        changeHub.finish()
    }

    // MARK: The five methods

    /// Runs one statement and decodes every row into `T`, by column name (or a one-column
    /// result into a scalar), with the same rules as on SQLite.
    public func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        try query(sql, params, access: .root)
    }

    /// Runs one statement and decodes its first row into `T`; `nil` for no row and for a
    /// one-column NULL.
    public func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        try one(sql, params, access: .root)
    }

    /// Runs one statement and reports what it did.
    ///
    /// `changes` is the row count PostgreSQL reports for `INSERT`, `UPDATE`, `DELETE` and
    /// `MERGE` (0 for other statements). `lastId` is, after an `INSERT` that added rows, the
    /// row id of the last row it added, as SQLite's integer primary key is: the table's
    /// primary key when that is one integer column, else its first integer column a sequence
    /// fills (`serial`, identity). The store adds that column to the statement's `RETURNING`
    /// when it prepares it, so it comes in the same round trip, and no other statement on the
    /// connection (another caller's `nextval()`, a trigger's insert elsewhere) can change it.
    /// It is 0 for a table without such a column, for a view, for an upsert that only updated
    /// (and any upsert into a partitioned table, whose rows cannot say which they were), and
    /// for every other statement.
    @discardableResult
    public func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        try exec(sql, params, access: .root)
    }

    /// Runs `body` in a transaction on one connection, pinned to this thread.
    ///
    /// `BEGIN … COMMIT`; a nested `tx` is a `SAVEPOINT` that a throwing body rolls back alone.
    /// Every call of the store from this thread inside the body uses the same connection and
    /// sees the transaction's rows. On PostgreSQL a statement that fails on the server (while
    /// prepared or run — also as the tx's first, before BEGIN went out) aborts the whole
    /// transaction: later statements of the tx are refused, and the tx throws and commits
    /// nothing even when the body caught the failure. What the store refuses before sending (a
    /// wrong parameter count, the fence's refused forms) and decoding errors leave the
    /// transaction as it was, as on SQLite. To carry on after a statement that may fail, put it
    /// in a nested `tx`: its failure rolls back that level alone.
    @discardableResult
    public func tx<T>(_ body: () throws -> T) throws -> T {
        if LaneThread.inReadBody { throw StoreError.writeInRead("tx") }
        let thread = currentThreadID()
        if let pin = pinned(thread) {
            pin.depth += 1
            let name = "orion_tx_\(pin.depth)"
            defer { pin.depth -= 1 }
            if pin.failedAt > 0 { throw Self.abortedError(sql: nil) }
            try pin.connection.control("savepoint \(name)")
            let result: T
            do {
                result = try body()
                // A failure inside this level that the body swallowed: the level rolls back.
                if pin.failedAt > pin.depth { throw Self.swallowedError(nested: true) }
            } catch {
                _ = try? pin.connection.control("rollback to savepoint \(name)")
                pin.connection.role = .unknown
                if pin.failedAt > pin.depth { pin.failedAt = 0 }
                throw error
            }
            try pin.connection.control("release savepoint \(name)")
            return result
        }
        // A lane's write waits for a connection and for locks no longer than its deadline.
        let deadline = LaneThread.deadline(in: writeLane)
        let connection = try pool.acquire(until: deadline, busyTimeout: busyTimeoutNanoseconds)
        defer { pool.release(connection) }
        connection.begin()
        let pin = Pin(connection: connection)
        pin.deadline = deadline
        pins.withLock { $0[thread] = pin }
        pinCount.add(1, ordering: .relaxed)
        defer {
            pins.withLock { $0[thread] = nil }
            pinCount.subtract(1, ordering: .relaxed)
        }
        return try Self.committing(connection) {
            let result = try body()
            if pin.failedAt > 0 { throw Self.swallowedError(nested: false) }
            return result
        }
    }

    /// Runs `work` in the transaction `begin()` opened on `connection`: commits it when `work`
    /// returns, rolls it back when it throws. A rollback, or a failed COMMIT, undoes a role
    /// switch made inside: the role is then unknown.
    static func committing<R>(_ connection: PostgresConnection, _ work: () throws -> R) throws -> R {
        let result: R
        do {
            result = try work()
        } catch {
            _ = try? connection.finish(commit: false)
            connection.role = .unknown
            throw error
        }
        do {
            try connection.finish(commit: true)
        } catch {
            connection.role = .unknown
            throw error
        }
        return result
    }

    /// Applies the entries of `migrations` not yet recorded for `feature`, in order, each in its
    /// own transaction as the feature's role, under an advisory lock; refuses edited or missing
    /// entries, as on SQLite. See "Moving to PostgreSQL" for the roles and privileges involved.
    public func migrate(_ feature: String, _ migrations: [String]) throws {
        if LaneThread.inReadBody { throw StoreError.writeInRead("migrate") }
        try PostgresMigrator.migrate(feature: feature, entries: migrations, store: self)
    }

    /// A store fenced to `feature`: each statement runs as the feature's role, which owns the
    /// feature's tables and has no privilege on another feature's.
    ///
    /// The fence is PostgreSQL's own privilege system. `migrate` creates a role per feature
    /// (`orion_<feature>`, `NOLOGIN`), and runs the feature's entries as that role, so the
    /// feature's tables are owned by it; a scoped store sets that role (`SET ROLE`) on the
    /// connection before its statements. Reading or writing another feature's table fails in
    /// PostgreSQL with "permission denied", which the store reports as `StoreError.Code.fence`
    /// naming the table and its owner, as on SQLite. Foreign keys across features keep working:
    /// PostgreSQL checks them as the tables' owners, and `migrate` grants `REFERENCES` on every
    /// feature table to all roles. The scoped store runs no DDL and cannot change roles or
    /// session settings.
    ///
    /// - Parameter feature: The feature's name, as given to `migrate`. A name `migrate` would
    ///   refuse gives a store whose every call throws that refusal (`StoreError.Code.migration`).
    public func scoped(to feature: String) -> any Store {
        if let problem = Migrations.problem(withFeature: feature) {
            return RefusedScope(feature: feature, problem: problem)
        }
        return ScopedPostgresStore(store: self, feature: feature, role: Self.roleName(of: feature))
    }

    // MARK: Running statements

    func query<T: Decodable>(_ sql: String, _ params: [SQLValue], access: Access) throws -> [T] {
        try run(sql, access: access, decodes: true) { connection, statement in
            try connection.query(statement, sql: sql, params).decodeAll(as: T.self)
        }
    }

    func one<T: Decodable>(_ sql: String, _ params: [SQLValue], access: Access) throws -> T? {
        try run(sql, access: access, decodes: true) { connection, statement in
            try connection.query(statement, sql: sql, params).decodeFirst(as: T.self)
        }
    }

    func exec(_ sql: String, _ params: [SQLValue], access: Access) throws -> ExecResult {
        if LaneThread.inReadBody { throw StoreError.writeInRead("exec", sql: sql) }
        return try run(sql, access: access, execs: true) { connection, statement in
            try connection.exec(statement, sql: sql, params)
        }
    }

    private func pinned(_ thread: UInt) -> Pin? {
        guard pinCount.load(ordering: .relaxed) > 0 else { return nil }
        return pins.withLock { $0[thread] }
    }

    /// Whether the calling thread is inside a `tx` body of this store.
    var isInTransaction: Bool { pinned(currentThreadID()) != nil }

    /// Runs `body` on the calling thread's pinned connection, or on one borrowed from the pool.
    /// Inside a tx, a statement after one that failed is refused, and a failure marks the tx.
    func withConnection<R>(sql: String? = nil, _ body: (PostgresConnection, _ pinned: Bool) throws -> R) throws -> R {
        if let pin = pinned(currentThreadID()) {
            if pin.failedAt > 0 { throw Self.abortedError(sql: sql) }
            if pool.isClosed {
                // The store is closing under the tx: nothing more of it may commit.
                pin.failedAt = pin.depth + 1
                throw ConnectionPool.closedError
            }
            if pin.deadline != 0 {
                // A lane's write: each statement may wait for locks only the time left.
                let now = monotonicNanoseconds()
                guard now < pin.deadline else {
                    throw StoreError.laneBusy(waited: busyTimeoutNanoseconds, for: "before this statement of its body could run")
                }
                pin.connection.limitLockWaits(milliseconds: Int((pin.deadline - now) / 1_000_000))
            }
            do {
                return try body(pin.connection, true)
            } catch {
                if pin.connection.transactionFailed(by: error) { pin.failedAt = pin.depth + 1 }
                throw error
            }
        }
        // A read body's connection runs read-only transactions: PostgreSQL refuses any write.
        let connection = try pool.acquire(readOnly: LaneThread.inReadBody)
        defer { pool.release(connection) }
        return try body(connection, false)
    }

    /// Runs feature statement `sql` as `access`.
    ///
    /// - Parameter decodes: Whether `body` decodes rows (`query`, `one`): a write whose returned
    ///   rows fail to decode is then undone, as any failed call is — in a transaction of its own,
    ///   or a savepoint inside `tx`.
    private func run<R>(
        _ sql: String, access: Access, decodes: Bool = false, execs: Bool = false,
        _ body: (PostgresConnection, PostgresConnection.Entry) throws -> R
    ) throws -> R {
        try withConnection(sql: sql) { connection, pinned in
            var entry = try connection.entry(for: sql, exec: execs, role: access.role)
            switch entry.kind {
            case .transactionControl:
                throw FenceRefusal.transactionControl.with(sql: sql)
            case .sessionControl(let reason):
                throw StoreError(.misuse, reason + "; the store manages roles and session settings of its pooled connections", sql: sql)
            case .refused(let reason):
                throw StoreError(.misuse, reason, sql: sql)
            case .schemaChange:
                if case .scoped(let feature, _) = access { throw FenceRefusal.schemaChange(feature: feature).with(sql: sql) }
            case .other:
                break
            }
            if !pinned, LaneThread.inReadBody, !Self.readsOnly(entry.statement.words) || entry.statement.callsWritingFunction {
                throw StoreError.writeInRead("a statement that writes", sql: sql)
            }
            var replanned = false
            while true {
                do {
                    if decodes, entry.writesRows {
                        return try undoneOnFailure(connection, pinned: pinned) {
                            try use(access, on: connection)
                            return try checkedSession(access, connection, sql: sql, body(connection, entry))
                        }
                    }
                    try use(access, on: connection)
                    return try checkedSession(access, connection, sql: sql, body(connection, entry))
                } catch let error as StoreError
                    where !pinned && !replanned && (error.sqlState == "0A000" || (error.sqlState == "42703" && entry.rowID.isColumn))
                {
                    // "cached plan must not change result type": a table changed under a prepared
                    // `select *`; or the column an INSERT returns for `lastId` is gone. Outside a
                    // transaction, prepare it again once, under the call's role (a role switch
                    // that went out with the failed statement was undone).
                    replanned = true
                    connection.forget(sql, exec: execs, role: access.role)
                    entry = try connection.entry(for: sql, exec: execs, role: access.role)
                } catch let error as StoreError where error.sqlState == "25006" && !pinned && LaneThread.inReadBody {
                    // The read-only transaction of a read body refused a write the words did not show.
                    throw StoreError.writeInRead("a statement that writes", sql: sql)
                } catch let error as StoreError where error.sqlState == "42501" {
                    guard case .scoped(let feature, _) = access else { throw error }
                    throw fenceError(error, feature: feature, migration: nil, words: entry.statement.words, connection: connection, canQuery: !pinned)
                }
            }
        }
    }

    /// Runs `work`, a write whose rows are decoded, so that a failure of the call (a row that
    /// does not decode) undoes the write: in a transaction of its own, or a savepoint inside
    /// `tx` (a failure on the server aborts the tx as any other does).
    private func undoneOnFailure<R>(_ connection: PostgresConnection, pinned: Bool, _ work: () throws -> R) throws -> R {
        if pinned {
            try connection.control("savepoint orion_returning")
            do {
                let result = try work()
                try connection.control("release savepoint orion_returning")
                return result
            } catch {
                if !connection.transactionFailed(by: error) {
                    _ = try? connection.control("rollback to savepoint orion_returning")
                    _ = try? connection.control("release savepoint orion_returning")
                    connection.role = .unknown
                }
                throw error
            }
        }
        connection.begin()
        return try Self.committing(connection, work)
    }

    /// `result`, once the server's own report of the session after a feature's statement says
    /// the session is still the one the store set up (``PostgresConnection/sessionChange``):
    /// a feature that found a way past the store's reading of its SQL and changed its role or
    /// the session's settings is stopped here, its connection dropped, its result withheld.
    private func checkedSession<R>(_ access: Access, _ connection: PostgresConnection, sql: String, _ result: R) throws -> R {
        guard case .scoped(let feature, _) = access, let change = connection.sessionChange() else { return result }
        connection.isBroken = true
        throw StoreError(
            .fence,
            "feature '\(feature)' changed the session it runs in (\(change)); the connection is dropped and the statement's result withheld",
            sql: sql)
    }

    private func use(_ access: Access, on connection: PostgresConnection) throws {
        do {
            try connection.use(role: access.role)
        } catch let error as StoreError where error.sqlState == "22023" || error.sqlState == "42704" {
            guard case .scoped(let feature, let role) = access else { throw error }
            throw StoreError(
                .fence,
                "feature '\(feature)' has no role yet (\(role)): run migrate(\"\(feature)\", …) before using its scoped store",
                sqlState: error.sqlState)
        }
    }
}
