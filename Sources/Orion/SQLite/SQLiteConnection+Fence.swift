internal import CSQLite

/// What the fence and the write queue learn from compiling: migration entries under the fence,
/// the proof of foreign-key enforcement, the risk of a whole-transaction rollback, the registry.
extension SQLiteConnection {
    /// Runs every statement of `script` in order (a migration entry), uncached.
    func executeScript(_ script: String, access: Access) throws {
        authorizer.access = access
        runningScript = true
        defer { runningScript = false }
        try script.withCString { start in
            var next: UnsafePointer<CChar>? = start
            while let cursor = next, cursor.pointee != 0 {
                var raw: OpaquePointer?
                authorizer.beginCompile(access)
                let rc = sqlite3_prepare_v3(handle, cursor, -1, 0, &raw, &next)
                authorizer.explicitPrepare = false
                guard rc == SQLITE_OK else { throw error(rc, sql: script) }
                guard let raw else { continue }
                let statement = SQLiteStatement(
                    handle: raw, sql: script, inserts: false, changesSchema: authorizer.sawSchemaChange, tables: authorizer.takeTables())
                try loggingWrites(statement) { while try step(statement) {} }
            }
        }
    }

    /// What compiling a statement under the fence gave.
    enum Compiled {
        case fine
        case refused(StoreError)
        /// It does not compile at all (a missing table), so the fence saw only part of it.
        case failed(StoreError)
    }

    /// Prepares `sql` under `access` without running it.
    func compileUnderFence(_ sql: String, access: Access) -> Compiled {
        let outerAccess = authorizer.access
        defer { authorizer.access = outerAccess }
        authorizer.beginCompile(access)
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, 0, &raw, nil)
        authorizer.explicitPrepare = false
        if let raw { sqlite3_finalize(raw) }
        _ = authorizer.takeTables()
        if let refusal = authorizer.denial {
            authorizer.denial = nil
            return .refused(refusal)
        }
        return rc == SQLITE_OK ? .fine : .failed(error(rc, sql: sql))
    }

    /// Proves that `sql` makes, by itself, no access the fence refuses: compiles it once more
    /// with foreign keys off, where SQLite generates no enforcement, so every access the
    /// authorizer sees is the statement's own and none is excused.
    ///
    /// Run only for statements that met an access of enforcement's shape (rare: a feature
    /// writing a table with a foreign key into another feature's). Switching foreign keys off
    /// and on expires this connection's prepared statements, which SQLite re-prepares on
    /// their next step.
    func prove(_ sql: String, access: Access) throws {
        let foreignKeysWereOn = orion_db_config_flag(handle, SQLITE_DBCONFIG_ENABLE_FKEY, -1) == 1
        if foreignKeysWereOn { _ = orion_db_config_flag(handle, SQLITE_DBCONFIG_ENABLE_FKEY, 0) }
        let outerAccess = authorizer.access
        let outerExplicit = authorizer.explicitPrepare
        defer {
            if foreignKeysWereOn { _ = orion_db_config_flag(handle, SQLITE_DBCONFIG_ENABLE_FKEY, 1) }
            authorizer.strict = false
            authorizer.access = outerAccess
            authorizer.explicitPrepare = outerExplicit
        }
        authorizer.beginCompile(access)
        authorizer.strict = true
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, 0, &raw, nil)
        authorizer.explicitPrepare = false
        if let raw { sqlite3_finalize(raw) }
        _ = authorizer.takeTables()
        if let denial = authorizer.denial {
            authorizer.denial = nil
            throw denial.with(sql: sql)
        }
        if rc != SQLITE_OK { throw error(rc, sql: sql) }
    }

    /// What can make a statement end the whole transaction, read from its bytecode.
    enum RollbackRisk {
        case none
        /// An `OR ROLLBACK` clause, an `ON CONFLICT ROLLBACK` constraint, `RAISE(ROLLBACK)` in a
        /// trigger, or an AUTOINCREMENT insert that may be given a rowid or fires triggers.
        case always
        /// An AUTOINCREMENT insert: SQLite fails it with SQLITE_FULL, and rolls back the whole
        /// transaction, once the table's largest rowid is the largest integer.
        case whenCounterNearEnd
    }

    /// Whether `statement`, run now, may end the whole transaction when it fails (see
    /// ``RollbackRisk``). The bytecode is read (`EXPLAIN`, which lists trigger and foreign-key
    /// action programs too) once per schema epoch; an AUTOINCREMENT counter is checked each time.
    func mayRollBackTransaction(_ statement: SQLiteStatement) throws -> Bool {
        let risk: RollbackRisk
        if let known = statement.rollbackRisk, known.epoch == schemaEpoch {
            risk = known.risk
        } else {
            risk = try readRollbackRisk(statement.sql)
            statement.rollbackRisk = (schemaEpoch, risk)
        }
        switch risk {
        case .none: return false
        case .always: return true
        case .whenCounterNearEnd: return try autoincrementCounterNearEnd()
        }
    }

    private func readRollbackRisk(_ sql: String) throws -> RollbackRisk {
        // Prepared and finalized here, not cached: it runs once per compile of the statement.
        let outerAccess = authorizer.access
        authorizer.access = .internal
        defer { authorizer.access = outerAccess }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, "explain " + sql, -1, 0, &raw, nil)
        guard rc == SQLITE_OK, let explain = raw else { throw error(rc, sql: sql) }
        defer { sqlite3_finalize(explain) }
        var autoincrement = false
        var runsTriggers = false
        var lastNotNull: Int32 = -1
        while true {
            let step = sqlite3_step(explain)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(step, sql: sql) }
            // EXPLAIN's columns: addr, opcode, p1, p2, p3, p4, p5, comment.
            guard let text = sqlite3_column_text(explain, 1) else { continue }
            let opcode = String(cString: text)
            let p1 = sqlite3_column_int(explain, 2)
            let p2 = sqlite3_column_int(explain, 3)
            switch opcode {
            case "Halt", "HaltIfNull":
                if p2 == Self.conflictRollback { return .always }
            case "VUpdate":
                // A virtual table's write with OR ROLLBACK: P5 holds the conflict action.
                if sqlite3_column_int(explain, 6) == Self.conflictRollback { return .always }
            case "NewRowid" where sqlite3_column_int(explain, 4) != 0:
                // P3 names the AUTOINCREMENT counter. A NotNull just before, on the same register,
                // means the statement may give the rowid itself: it may set the largest one and
                // then need another, all in one statement.
                if lastNotNull == p2 { return .always }
                autoincrement = true
            case "Program":
                runsTriggers = true
            default:
                break
            }
            lastNotNull = opcode == "NotNull" ? p1 : -1
        }
        guard autoincrement else { return .none }
        // A trigger could move the rowid to the end between two rows of the same statement.
        return runsTriggers ? .always : .whenCounterNearEnd
    }

    /// Whether an AUTOINCREMENT counter (or its table's largest rowid, which an update can set)
    /// is within 2^62 of the end: far beyond what any statement could insert, and far beyond what
    /// any table reaches by counting.
    private func autoincrementCounterNearEnd() throws -> Bool {
        let hasCounters: Int? = try first(
            "select 1 from sqlite_schema where type = 'table' and name = 'sqlite_sequence'", [], access: .internal)
        guard hasCounters != nil else { return false }
        let tables: [String] = try all("select name from sqlite_sequence", [], access: .internal)
        for table in tables {
            let top: Int64? = try first(
                "select max(coalesce(max(rowid), 0), coalesce((select seq from sqlite_sequence where name = ?), 0)) from \(SQLText.quoteIdentifier(table))",
                [.text(table)], access: .internal)
            if let top, top >= 1 << 62 { return true }
        }
        return false
    }

    /// Reads the schema at a batch's start: SQLite reloads it if another connection changed it,
    /// and a changed version starts a new schema epoch (what the store learned from compiling
    /// is learned again).
    func noteSchemaAtBatchStart() throws {
        let version: Int64? = try first(
            "select (select schema_version from pragma_schema_version) from sqlite_schema limit 1", [], access: .internal)
        if let version, version != lastSchemaVersion {
            lastSchemaVersion = version
            schemaEpoch &+= 1
        }
    }

    /// SQLite's `OE_Rollback`: the conflict action that rolls back the whole transaction.
    private static let conflictRollback: Int32 = 1

    /// Reads who owns what again when the schema changed since the last read.
    func refreshRegistry() throws {
        let outerAccess = authorizer.access
        defer { authorizer.access = outerAccess }
        let version: Int64 = try first("pragma schema_version", [], access: .internal) ?? 0
        guard version != authorizer.registry.schemaVersion else { return }
        authorizer.registry = try Registry.load(from: self, schemaVersion: version)
        authorizer.registry.tentative = !isAutocommit
        authorizer.registryLoads += 1
        authorizer.registry.generation = authorizer.registryLoads
    }

    /// After a rollback (a whole transaction, or to a savepoint): a record of owners read inside
    /// the transaction may describe tables that no longer exist, at a schema version another
    /// connection can reach with other tables. It is read again at the next feature statement.
    func forgetTentativeRegistry() {
        if authorizer.registry.tentative { authorizer.registry.schemaVersion = -1 }
    }
}
