internal import CSQLite

/// One prepared statement, owned by its connection's cache and finalized on eviction or close.
///
/// Not `Sendable`: it is used only by the thread that holds its connection.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    let parameterCount: Int
    /// Whether the statement leaves the database as it was: `sqlite3_stmt_readonly`, and no
    /// pragma that writes anyway (`pragma optimize`, which SQLite calls read-only).
    let isReadOnly: Bool
    /// Whether the authorizer saw this statement insert into a table at the top level (not in a trigger).
    let inserts: Bool
    /// Whether it is in use now (a re-entrant call gets a fresh statement rather than this one).
    @exclusivity(unchecked) var inUse = false
    /// The cache's clock at the last use, for least-recently-used eviction.
    @exclusivity(unchecked) var lastUsed: UInt64 = 0

    /// The schema version at which the fence last proved the statement's own accesses (see
    /// ``SQLiteConnection/prove(_:access:)``); -1 when it never needed a proof.
    @exclusivity(unchecked) var provenAt: Int64 = -1
    /// Whether the statement changes the schema (DDL).
    let changesSchema: Bool
    /// The tables it reads, and those it writes (through triggers and foreign-key actions too),
    /// as its compiles found them; a re-prepare adds to them.
    @exclusivity(unchecked) private(set) var readTables: [String]
    @exclusivity(unchecked) private(set) var writtenTables: [String]
    /// `writtenTables` as SQLite compares names, for the change hub's index.
    @exclusivity(unchecked) private(set) var writtenKeys: [SQLName]
    /// The change an autocommitted run of the statement announces (built once).
    @exclusivity(unchecked) private(set) var change: Change
    /// What can make a failure of the statement roll back the whole transaction, with the schema
    /// epoch it was learned in (see ``SQLiteConnection/mayRollBackTransaction(_:)``).
    @exclusivity(unchecked) var rollbackRisk: (epoch: UInt64, risk: SQLiteConnection.RollbackRisk)?
    /// Why the last ``bind(_:)`` returned ``StatementBinding/invalidValue``.
    @exclusivity(unchecked) private(set) var bindingProblem: String?

    /// The decoder of the last run, kept with what it learned (column names, key positions).
    @exclusivity(unchecked) private var cachedDecoder: RowDecoder?
    @exclusivity(unchecked) private var decoderPrepareCount: Int32 = -1

    init(
        handle: OpaquePointer, sql: String, inserts: Bool, changesSchema: Bool = false,
        tables: (reads: [String], writes: [String]) = ([], []), writesAnyway: Bool = false
    ) {
        self.handle = handle
        self.sql = sql
        self.inserts = inserts
        self.changesSchema = changesSchema
        readTables = tables.reads
        writtenTables = tables.writes
        writtenKeys = tables.writes.map(SQLName.init)
        change = Change(tables: Set(tables.writes))
        parameterCount = Int(sqlite3_bind_parameter_count(handle))
        isReadOnly = !writesAnyway && sqlite3_stmt_readonly(handle) != 0
    }

    deinit {
        cachedDecoder?.releaseContainer()
        sqlite3_finalize(handle)
    }

    /// A decoder of this statement's rows into `type`: the last one when it decoded the same
    /// type and SQLite has not re-prepared the statement since (a schema change can change
    /// the columns), else a new one.
    func decoder(for type: Any.Type) -> RowDecoder {
        let prepares = sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0)
        if let cachedDecoder, prepares == decoderPrepareCount, cachedDecoder.target == type {
            return cachedDecoder
        }
        cachedDecoder?.releaseContainer()
        let decoder = RowDecoder(.statement(handle), for: type)
        cachedDecoder = decoder
        decoderPrepareCount = prepares
        return decoder
    }

    /// Adds the tables a re-prepare found.
    func addTables(_ tables: (reads: [String], writes: [String])) {
        readTables = Array(Set(readTables).union(tables.reads)).sorted()
        writtenTables = Array(Set(writtenTables).union(tables.writes)).sorted()
        writtenKeys = writtenTables.map(SQLName.init)
        change = Change(tables: Set(writtenTables))
    }

    /// Binds `params` to the `?` parameters; the caller has checked the count.
    func bind(_ params: Parameters) -> Int32 {
        switch params {
        case .values(let values):
            for (offset, value) in values.enumerated() {
                let rc = bind(value, at: Int32(offset + 1))
                if rc != SQLITE_OK { return rc }
            }
        case .bindables(let bindables):
            // Read each parameter in place (iterating would copy every existential).
            return bindables.withUnsafeBufferPointer { buffer in
                for i in 0..<buffer.count {
                    let value = buffer[i]?.sqlValue ?? .null
                    if case .null = value, let given = buffer[i], let problem = SQLDate.bindingProblem(given, position: i + 1) {
                        bindingProblem = problem
                        return StatementBinding.invalidValue
                    }
                    let rc = bind(value, at: Int32(i + 1))
                    if rc != SQLITE_OK { return rc }
                }
                return SQLITE_OK
            }
        }
        return SQLITE_OK
    }

    @inline(__always)
    private func bind(_ value: SQLValue, at index: Int32) -> Int32 {
        switch value {
        case .null:
            return sqlite3_bind_null(handle, index)
        case .integer(let v):
            return sqlite3_bind_int64(handle, index, v)
        case .real(let v):
            return sqlite3_bind_double(handle, index, v)
        case .text(var v):
            if v.isEmpty { return sqlite3_bind_text(handle, index, "", 0, orion_transient()) }
            return v.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) {
                    sqlite3_bind_text64(handle, index, $0.baseAddress, UInt64($0.count), orion_transient(), UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let v):
            if v.isEmpty { return sqlite3_bind_zeroblob(handle, index, 0) }
            return v.withUnsafeBytes {
                sqlite3_bind_blob64(handle, index, $0.baseAddress, UInt64($0.count), orion_transient())
            }
        }
    }

    /// Resets the statement and drops its bindings, so no bound value outlives the call.
    func finish() {
        sqlite3_reset(handle)
        if parameterCount > 0 { sqlite3_clear_bindings(handle) }
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}

/// What ``SQLiteStatement/bind(_:)`` returns besides SQLite's codes.
enum StatementBinding {
    /// A value the store refuses to bind (see ``SQLiteStatement/bindingProblem``).
    static let invalidValue: Int32 = -1
}

/// The parameters of one call: the values of the `[SQLValue]` requirements, or the variadic
/// values as a feature passed them, bound one by one without building a `[SQLValue]` first.
enum Parameters {
    case values([SQLValue])
    case bindables([(any SQLBindable)?])

    var count: Int {
        switch self {
        case .values(let values): values.count
        case .bindables(let bindables): bindables.count
        }
    }

    /// The values as bound: for keeping them out of an error, never on the hot path.
    var boundValues: [SQLValue] {
        switch self {
        case .values(let values): values
        case .bindables(let bindables): bindables.map { $0?.sqlValue ?? .null }
        }
    }
}
