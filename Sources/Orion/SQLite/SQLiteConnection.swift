internal import CSQLite
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One SQLite connection: its handle, its statement cache, and its authorizer.
///
/// Not `Sendable`: a connection is used by one thread at a time, which the store guarantees by
/// handing it out only under its writer lock or through its reader pool.
final class SQLiteConnection {
    enum Role {
        case writer, reader, memory
    }

    /// The lowest SQLite this store runs on (`RETURNING`, `DROP COLUMN`).
    static let minimumVersion: Int32 = 3_035_000
    /// SQLite's busy timeout when the store is given none (`busy_timeout = 5000`).
    static let defaultBusyTimeoutMilliseconds: Int32 = 5000
    /// How many virtual-machine steps pass between checks of the statement time limit.
    static let progressInterval: Int32 = 1000

    let handle: OpaquePointer
    let role: Role
    let timeLimit: Duration?
    /// How long a statement waits for another connection's lock.
    let busyTimeoutMilliseconds: Int32
    /// When the running wait for a lock began (monotonic nanoseconds), for the busy handler.
    @exclusivity(unchecked) private var busyStarted: UInt64 = 0
    /// The write lane of the store this writer belongs to: a write body of that lane waits for
    /// locks until its deadline (``LaneThread``). `nil` on readers.
    var writeLaneID: ObjectIdentifier?
    /// `timeLimit` in nanoseconds; 0 when there is none.
    private let timeLimitNanoseconds: UInt64
    // Hot-path state is `@exclusivity(unchecked)`: the connection is confined to one thread at a
    // time (see the type's comment), so the runtime's dynamic exclusivity checks only cost time.
    @exclusivity(unchecked) private var cache: StatementCache
    /// The fence's state for this connection's compiles.
    let authorizer = Authorizer()
    /// Who owns what, as this connection last read it.
    var registry: Registry { authorizer.registry }
    /// While a migration entry runs: the tables its statements write, for its foreign-key check.
    var touchedTables: Set<SQLName>? {
        get { authorizer.touchedTables }
        set { authorizer.touchedTables = newValue }
    }
    /// Set by the write queue while its batch holds other callers' writes: the time limit then
    /// stops no statement that writes, because SQLite answers an interrupted write by rolling
    /// back the whole transaction, and with it those writes (see the write-queue article).
    @exclusivity(unchecked) var protectsWrites = false
    /// Advances whenever this connection's view of the schema may have changed: a schema change
    /// ran on it, or another connection's showed at the start of a batch. What the store learned
    /// from compiling (``mayRollBackTransaction(_:)``) is learned again in a new epoch.
    @exclusivity(unchecked) var schemaEpoch: UInt64 = 0
    /// The tables the writer's open transaction wrote (see ``WriteLog``).
    @exclusivity(unchecked) var writeLog = WriteLog()
    /// Whether a migration entry runs (``executeScript(_:access:)``): its statements are prepared
    /// once, inside the migrator's transaction, and never prepared afresh.
    @exclusivity(unchecked) var runningScript = false
    /// Where the writer's commits are announced; `nil` on readers.
    var changes: ChangeHub?
    /// The writer's turns with other processes' writers (``WriterTurns``); `nil` on readers, in
    /// memory, read-only, and when its file cannot be made. Setting it installs its busy handler.
    var turns: WriterTurns? {
        didSet { restoreBusyHandler() }
    }
    @exclusivity(unchecked) var lastSchemaVersion: Int64 = -1

    // Time limit state. Plain monotonic nanoseconds (0: none), not `ContinuousClock.Instant?`,
    // whose layout lives in another module and costs value-witness calls on every statement.
    @exclusivity(unchecked) private var deadline: UInt64 = 0
    @exclusivity(unchecked) private var timedOut = false
    /// Whether the feature statement running now leaves the database as it was.
    @exclusivity(unchecked) private var runningReadOnly = true

    /// How the file is opened: for writing, read-only, or immutable.
    let mode: SQLiteStore.OpenMode

    init(
        path: String, role: Role, synchronous: SQLiteStore.Synchronous, statementCacheSize: Int, timeLimit: Duration?,
        mode: SQLiteStore.OpenMode = .readWrite, busyTimeout: Int32 = SQLiteConnection.defaultBusyTimeoutMilliseconds
    ) throws {
        guard sqlite3_libversion_number() >= Self.minimumVersion else {
            throw StoreError(
                .misuse,
                "SQLite \(String(cString: sqlite3_libversion())) is too old: the store needs 3.35 or newer (install a newer libsqlite3)")
        }
        _ = Self.processSetup
        handle = try Self.open(path: path, mode: mode, create: role != .reader)
        self.role = role
        self.mode = mode
        self.timeLimit = timeLimit
        busyTimeoutMilliseconds = busyTimeout
        timeLimitNanoseconds =
            timeLimit.map { limit in
                let (seconds, attoseconds) = limit.components
                return max(1, UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds / 1_000_000_000)))
            } ?? 0
        cache = StatementCache(capacity: statementCacheSize)
        if mode == .readWrite && sqlite3_db_readonly(handle, "main") == 1 {
            // SQLite opens a file it may not write read-only without a word; every write would
            // then fail far from the cause.
            throw StoreError(
                .readOnly,
                "cannot open '\(path)' for writing: this process may not write it (its permissions, or a read-only file system); open it with mode: .readOnly to read it, or fix its permissions")
        }
        do {
            try configure(synchronous: synchronous)
        } catch let error as StoreError where error.sqliteCode.map({ $0 & 0xff }) == SQLITE_NOTADB {
            throw SQLiteCodes.error(SQLITE_NOTADB, "cannot open '\(path)': it is not a SQLite database (or it is encrypted)")
        }
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Once per process, before the first connection: SQLite's memory statistics off, so
    /// threads reading in parallel do not meet on its global allocation mutex. Has no effect
    /// (and does no harm) when the process initialized SQLite before.
    private static let processSetup: Void = {
        _ = orion_config_memstatus_off()
    }()

    /// Opens the file; `create`: make it when it does not exist (the writer; a reader never does).
    private static func open(path: String, mode: SQLiteStore.OpenMode, create: Bool) throws -> OpaquePointer {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var name = path
        switch mode {
        case .readWrite:
            flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        case .readOnly:
            flags |= SQLITE_OPEN_READONLY
        case .immutable:
            // A URI filename: the path's own `%`, `?` and `#` escaped.
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            var escaped = ""
            for character in path.unicodeScalars {
                switch character {
                case "%": escaped += "%25"
                case "?": escaped += "%3f"
                case "#": escaped += "%23"
                default: escaped.unicodeScalars.append(character)
                }
            }
            name = "file:\(escaped)?immutable=1"
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteCodes.error(rc, "cannot open database '\(path)': \(message)")
        }
        return db
    }

    private func configure(synchronous: SQLiteStore.Synchronous) throws {
        sqlite3_extended_result_codes(handle, 1)
        restoreBusyHandler()
        _ = orion_db_config_int(handle, SQLITE_DBCONFIG_DEFENSIVE, 1)
        _ = orion_db_config_int(handle, SQLITE_DBCONFIG_DQS_DML, 0)
        _ = orion_db_config_int(handle, SQLITE_DBCONFIG_DQS_DDL, 0)
        authorizer.install(on: handle)
        if timeLimit != nil {
            sqlite3_progress_handler(handle, Self.progressInterval, progressCallback, Unmanaged.passUnretained(self).toOpaque())
        }
        switch role {
        case .memory:
            try run("pragma journal_mode = memory")
        case .writer, .reader:
            guard mode == .readWrite else {
                // The file's journal mode is whatever its writer made it; a read-only connection
                // cannot change it. Make sure it is a database at all.
                let _: Int? = try first("select count(*) from sqlite_schema", [], access: .internal)
                break
            }
            let mode: String? = try first("pragma journal_mode = wal", [], access: .internal)
            guard mode?.lowercased() == "wal" else {
                throw StoreError(.io, "cannot switch the database to WAL mode (journal mode stays '\(mode ?? "?")'); is it on a file system without shared memory?")
            }
        }
        if mode == .readWrite {
            try run(synchronous == .full ? "pragma synchronous = full" : "pragma synchronous = normal")
        }
        try run("pragma foreign_keys = on")
    }

    // MARK: Running statements

    /// Prepares (or reuses) `sql`, binds `values`, runs `body` on the statement, and resets it.
    func withStatement<R>(
        _ sql: String, _ values: [SQLValue], access: Access, _ body: (SQLiteStatement) throws -> R
    ) throws -> R {
        try withStatement(sql, .values(values), access: access, body)
    }

    /// Prepares (or reuses) `sql`, binds `params`, runs `body` on the statement, and resets it.
    ///
    /// A cached feature statement that SQLite must prepare again (the schema changed) is not
    /// prepared again in place: it is dropped and `body` runs once more on a statement the
    /// store prepares itself, whose record of owners is checked against the schema it compiled
    /// (see ``prepare(_:access:)``). The body has run no step of it by then.
    func withStatement<R>(
        _ sql: String, _ params: Parameters, access: Access, _ body: (SQLiteStatement) throws -> R
    ) throws -> R {
        var attempts = 0
        while true {
            do {
                return try withStatementOnce(sql, params, access: access, body)
            } catch is NeedsFreshStatement where attempts < 8 {
                attempts += 1
                if let scope = access.cacheScope { cache.remove(sql, scope: scope) }
            }
        }
    }

    private func withStatementOnce<R>(
        _ sql: String, _ params: Parameters, access: Access, _ body: (SQLiteStatement) throws -> R
    ) throws -> R {
        // Statements nest (the registry is read in the middle of a feature statement's step):
        // the outer statement's access and time limit come back when the inner one is done.
        let outerAccess = authorizer.access
        let outerDeadline = deadline
        let outerReadOnly = runningReadOnly
        defer {
            authorizer.access = outerAccess
            deadline = outerDeadline
            runningReadOnly = outerReadOnly
        }
        let statement = try checkout(sql, access: access)
        defer { checkin(statement) }
        guard params.count == statement.parameterCount else {
            throw StoreError.parameterCountMismatch(expected: statement.parameterCount, given: params.count, sql: sql)
        }
        if params.count > 0 {
            let rc = statement.bind(params)
            if rc != SQLITE_OK {
                if rc == StatementBinding.invalidValue, let problem = statement.bindingProblem {
                    throw StoreError(.unsupportedParameter, problem, sql: sql)
                }
                throw error(rc, sql: sql)
            }
        }
        authorizer.access = access
        runningReadOnly = statement.isReadOnly
        if access.cacheScope != -1 {
            authorizer.beginRun(proof: statement.provenAt)
            if timeLimitNanoseconds != 0 {
                deadline = monotonicNanoseconds() &+ timeLimitNanoseconds
                timedOut = false
            }
        } else {
            // The store's own statements (RELEASE, COMMIT, the registry) are never stopped by a
            // feature statement's time limit, even when they run inside it.
            deadline = 0
        }
        do {
            defer {
                if statement.changesSchema { schemaEpoch &+= 1 }
                absorbRecompile(statement)
                if readRecording.load(ordering: .relaxed) > 0, access.cacheScope != -1, let recorder = ReadRecorder.current {
                    recorder.record(statement.readTables)
                }
            }
            return try body(statement)
        } catch let error as StoreError {
            // SQLite's own message can quote a bound value (a JSON path, an FTS5 query).
            let redacted = params.count > 0 ? error.redacting(params.boundValues) : error
            throw redacted.sql == nil ? redacted.with(sql: sql) : redacted
        }
    }

    /// Runs `work`, a run of `statement` on the writer, then logs the tables it wrote: after it
    /// succeeded, when it changed rows or the schema; after it failed, only when its conflict
    /// handling kept rows (`OR FAIL`: `sqlite3_changes` counts them; a statement rolled back,
    /// whose triggers may have moved the total, counts none).
    ///
    /// Call it where the write's own transaction level is open (inside a write-queue unit, before
    /// the unit's savepoint is released or rolled back).
    @inline(__always)
    func loggingWrites<R>(_ statement: SQLiteStatement, _ work: () throws -> R) rethrows -> R {
        guard changes != nil, !statement.isReadOnly else { return try work() }
        let before = sqlite3_total_changes64(handle)
        do {
            let result = try work()
            absorbRecompile(statement)
            if statement.changesSchema || sqlite3_total_changes64(handle) != before { logWrites(of: statement) }
            return result
        } catch {
            absorbRecompile(statement)
            if sqlite3_changes64(handle) > 0, sqlite3_total_changes64(handle) != before { logWrites(of: statement) }
            throw error
        }
    }

    /// Adds to `statement` the tables a re-prepare during its run found, if SQLite re-prepared it.
    @inline(__always)
    func absorbRecompile(_ statement: SQLiteStatement) {
        if authorizer.recompiled { statement.addTables(authorizer.takeTables()) }
    }

    /// Logs the tables `statement` wrote into the open transaction, or announces them now when
    /// it ran on its own (autocommit: it committed as it finished).
    func logWrites(of statement: SQLiteStatement) {
        guard !statement.writtenTables.isEmpty else { return }
        if isAutocommit {
            changes?.publish(statement.change, keys: statement.writtenKeys)
        } else {
            writeLog.record(statement.writtenTables)
        }
    }

    /// Commits the logged transaction's tables to the subscribers: called once its COMMIT
    /// succeeded.
    func announceCommit() {
        let tables = writeLog.commit()
        if let changes, !tables.isEmpty { changes.publish(tables) }
    }

    /// Steps once: `true` for a row, `false` when done.
    func step(_ statement: SQLiteStatement) throws -> Bool {
        while true {
            let rc = sqlite3_step(statement.handle)
            if rc == SQLITE_ROW { return true }
            if rc == SQLITE_DONE { return false }
            if authorizer.needsRegistry && !authorizer.registryTrusted {
                // A statement was prepared during the step — SQLite preparing this one again
                // after a schema change, or a module (FTS) preparing its own — and the fence
                // needs to know who owns what now. When the schema moved since the record was
                // read, this statement is prepared afresh by the store instead, and checked
                // against what it compiled (see ``withStatement(_:_:access:_:)``); else the
                // record is current, and the step goes on with it.
                authorizer.needsRegistry = false
                sqlite3_reset(statement.handle)
                let known = authorizer.registry.schemaVersion
                try refreshRegistry()
                if authorizer.registry.schemaVersion != known && !runningScript {
                    throw NeedsFreshStatement()
                }
                authorizer.registryTrusted = true
                continue
            }
            if authorizer.needsProof && !authorizer.explicitPrepare && authorizer.access.feature != nil {
                // The re-prepared statement now makes accesses only foreign-key enforcement may
                // make (the schema gained a key): prove them before it runs.
                authorizer.needsProof = false
                sqlite3_reset(statement.handle)
                try prove(statement.sql, access: authorizer.access)
                statement.provenAt = authorizer.registry.generation
                authorizer.currentProof = statement.provenAt
                continue
            }
            throw error(rc, sql: statement.sql)
        }
    }

    /// Runs one of the store's own statements (no parameters, no fence).
    func run(_ sql: String) throws {
        // Every rollback of the store's goes through here.
        if sql.utf8.first == UInt8(ascii: "r"), sql.hasPrefix("rollback") { forgetTentativeRegistry() }
        try withStatement(sql, [], access: .internal) { while try step($0) {} }
    }

    /// The first row of an internal or feature query.
    func first<T: Decodable>(_ sql: String, _ params: [SQLValue], access: Access) throws -> T? {
        do {
            return try withStatement(sql, params, access: access) { try firstRow($0, as: T.self) }
        } catch is NoValue {
            return nil
        }
    }

    /// All rows of an internal or feature query.
    func all<T: Decodable>(_ sql: String, _ params: [SQLValue], access: Access) throws -> [T] {
        try withStatement(sql, params, access: access) { try rows($0, as: T.self) }
    }

    // MARK: Preparing

    private func checkout(_ sql: String, access: Access) throws -> SQLiteStatement {
        guard let scope = access.cacheScope else { return try prepare(sql, access: access) }
        if let statement = cache.get(sql, scope: scope), !statement.inUse {
            statement.inUse = true
            return statement
        }
        let statement = try prepare(sql, access: access)
        if cache.get(sql, scope: scope) == nil { cache.put(sql, scope: scope, statement) }
        statement.inUse = true
        return statement
    }

    private func checkin(_ statement: SQLiteStatement) {
        statement.finish()
        statement.inUse = false
        if authorizer.access.feature != nil {
            authorizer.registryTrusted = false
            authorizer.needsRegistry = false
            authorizer.needsProof = false
        }
    }

    /// Prepares exactly one statement with positional `?` parameters, authorized for `access`.
    private func prepare(_ sql: String, access: Access) throws -> SQLiteStatement {
        if case .scoped(let scope) = access, SQLText.firstWord(of: sql) == "reindex" {
            // `REINDEX collation` reaches no authorizer callback; it is maintenance either way.
            throw FenceRefusal.schemaChange(feature: scope.feature).with(sql: sql)
        }
        var attempts = 0
        while true {
            if access.feature != nil { try refreshRegistry() }
            let compiled = try compile(sql, access: access)
            // The record of owners and the compile each read the schema on their own: another
            // connection's schema change may have come between them, and a table the record
            // does not know would pass as no feature's. The version now must still be the
            // record's (versions only grow once committed), or both are done again.
            if access.feature != nil, attempts < 8 {
                let now: Int64 = try first("pragma schema_version", [], access: .internal) ?? 0
                if now != authorizer.registry.schemaVersion {
                    attempts += 1
                    continue
                }
            }
            return try compiled.get()
        }
    }

    /// One compile of `sql` under the fence: the statement, or the error it gave.
    private func compile(_ sql: String, access: Access) throws -> Result<SQLiteStatement, StoreError> {
        authorizer.beginCompile(access)
        defer { authorizer.explicitPrepare = false }
        var raw: OpaquePointer?
        var tailOffset = 0
        let rc = sql.withCString { start in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, start, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, &tail)
            if let tail { tailOffset = start.distance(to: tail) }
            return rc
        }
        guard rc == SQLITE_OK else { return .failure(error(rc, sql: sql)) }
        guard let raw else {
            throw StoreError.noStatement(sql: sql)
        }
        let statement = SQLiteStatement(
            handle: raw, sql: sql, inserts: authorizer.sawInsert, changesSchema: authorizer.sawSchemaChange,
            tables: authorizer.takeTables(), writesAnyway: authorizer.sawWritingPragma)
        if SQLText.hasStatement(in: sql.utf8.dropFirst(tailOffset)) {
            throw StoreError.multipleStatements(sql: sql)
        }
        if authorizer.needsProof {
            authorizer.needsProof = false
            try prove(sql, access: access)
            statement.provenAt = authorizer.registry.generation
        }
        for index in stride(from: 1, through: statement.parameterCount, by: 1) {
            if let name = sqlite3_bind_parameter_name(raw, Int32(index)) {
                throw StoreError(
                    .unsupportedParameter,
                    "parameter \(String(cString: name)) is not supported: write a positional '?' and pass values in order",
                    sql: sql)
            }
        }
        return .success(statement)
    }

    // MARK: State

    /// Whether no transaction is open (`sqlite3_get_autocommit`).
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// Puts back the connection's own busy handler after a caller replaced it for a while: the
    /// writer's turns; on other writers the store's own wait, which also ends at the deadline of
    /// the lane's write running on it (``LaneThread``); on readers SQLite's timeout.
    func restoreBusyHandler() {
        if let turns {
            turns.install(on: handle)
        } else if role == .reader {
            sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        } else {
            sqlite3_busy_handler(handle, connectionBusy, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// Called by SQLite while another connection holds a lock this one needs: waits a little
    /// and says whether to try again, until the busy timeout or the lane's deadline.
    fileprivate func busy(_ count: Int32) -> Int32 {
        let now = monotonicNanoseconds()
        if count == 0 { busyStarted = now }
        let waited = now &- busyStarted
        guard waited < UInt64(busyTimeoutMilliseconds) &* 1_000_000 else { return 0 }
        let deadline = LaneThread.deadline(inLaneWithID: writeLaneID)
        guard deadline == 0 || now < deadline else { return 0 }
        usleep(waited < 10_000_000 ? 200 : 1000)
        return 1
    }

    /// The database file's absolute name, as SQLite resolved it at open ("" for in-memory).
    var filename: String {
        sqlite3_db_filename(handle, "main").map { String(cString: $0) } ?? ""
    }

    /// Deferred foreign-key violations pending in the open transaction.
    var deferredForeignKeyViolations: Int32 {
        var current: Int32 = 0
        var highwater: Int32 = 0
        sqlite3_db_status(handle, SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highwater, 0)
        return current
    }

    var cachedStatementCount: Int { cache.count }

    // MARK: Errors

    /// The error SQLite reported for `rc`, read right after the failing call.
    func error(_ rc: Int32, sql: String?) -> StoreError {
        if let denial = authorizer.denial {
            authorizer.denial = nil
            return denial.with(sql: sql)
        }
        let extended = sqlite3_extended_errcode(handle)
        let code = extended != 0 ? extended : rc
        if code & 0xff == SQLITE_INTERRUPT, timedOut, let timeLimit {
            return StoreError(
                .interrupted,
                "the statement ran past the store's time limit of \(timeLimit) and was stopped",
                sql: sql, sqliteCode: code, sqliteCodeName: SQLiteCodes.name(code))
        }
        let message = String(cString: sqlite3_errmsg(handle))
        return SQLiteCodes.error(code, message, sql: sql)
    }

    // MARK: Callbacks

    fileprivate func progress() -> Int32 {
        guard deadline != 0 else { return 0 }
        let now = monotonicNanoseconds()
        guard now >= deadline else { return 0 }
        // A write sharing the write queue's batch runs on: stopping it would roll back the batch.
        // Only a runaway one is stopped anyway, past ten times the limit and at least five seconds
        // over it: the batch is then lost, and said so, rather than the writer held for ever.
        if protectsWrites && !runningReadOnly {
            guard now &- deadline >= Swift.max(timeLimitNanoseconds &* 9, Self.runawayGrace) else { return 0 }
        }
        timedOut = true
        return 1
    }

    /// The least time a write sharing a batch may run past the limit before it is stopped anyway.
    static let runawayGrace: UInt64 = 5_000_000_000
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

/// Thrown by ``SQLiteConnection/firstRow(_:as:)`` when there is no value to return: no row, or
/// a one-column row holding NULL.
struct NoValue: Error {}

/// Thrown by a step whose cached feature statement SQLite would prepare again: the store
/// prepares a fresh one instead (``SQLiteConnection/withStatement(_:_:access:_:)``).
struct NeedsFreshStatement: Error {}

private let connectionBusy: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    guard let context else { return 0 }
    return Unmanaged<SQLiteConnection>.fromOpaque(context).takeUnretainedValue().busy(count)
}

private let progressCallback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
    guard let context else { return 0 }
    return Unmanaged<SQLiteConnection>.fromOpaque(context).takeUnretainedValue().progress()
}
