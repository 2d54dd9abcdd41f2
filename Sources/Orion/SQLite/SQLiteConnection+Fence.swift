internal import CSQLite

/// What the fence and the write queue learn from compiling: migration entries under the fence,
/// the proof of foreign-key enforcement, the risk of a whole-transaction rollback, the registry.
extension SQLiteConnection {
    /// Runs every statement of `script` in order (a migration entry), uncached.
    func executeScript(_ script: String, access: Access) throws {
        authorizer.access = access
        try script.withCString { start in
            var next: UnsafePointer<CChar>? = start
            while let cursor = next, cursor.pointee != 0 {
                var raw: OpaquePointer?
                authorizer.beginCompile(access)
                let rc = sqlite3_prepare_v3(handle, cursor, -1, 0, &raw, &next)
                authorizer.explicitPrepare = false
                guard rc == SQLITE_OK else { throw error(rc, sql: script) }
                guard let raw else { continue }
                let statement = SQLiteStatement(handle: raw, sql: script, inserts: false)
                while try step(statement) {}
            }
        }
    }

    /// Prepares `sql` under `access` without running it, and returns the fence's refusal if
    /// there was one (other compile errors are not the fence's business and are ignored).
    func fenceRefusal(compiling sql: String, access: Access) -> StoreError? {
        let outerAccess = authorizer.access
        defer { authorizer.access = outerAccess }
        authorizer.beginCompile(access)
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, 0, &raw, nil)
        authorizer.explicitPrepare = false
        if let raw { sqlite3_finalize(raw) }
        let refusal = authorizer.denial
        authorizer.denial = nil
        return rc == SQLITE_OK ? nil : refusal
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
        if let denial = authorizer.denial {
            authorizer.denial = nil
            throw denial.with(sql: sql)
        }
        if rc != SQLITE_OK { throw error(rc, sql: sql) }
    }

    /// Whether `statement` may end the whole transaction when it fails: an `OR ROLLBACK`
    /// conflict clause, a constraint declared `ON CONFLICT ROLLBACK`, or `RAISE(ROLLBACK)` in a
    /// trigger it fires. Read from its bytecode (`EXPLAIN`, which lists trigger programs too):
    /// a `Halt` or `HaltIfNull` whose P2 is `OE_Rollback`. Learned once per compile.
    func mayRollBackTransaction(_ statement: SQLiteStatement) throws -> Bool {
        let prepares = sqlite3_stmt_status(statement.handle, SQLITE_STMTSTATUS_REPREPARE, 0)
        if let known = statement.rollbackRisk, known.prepares == prepares { return known.risk }
        // Prepared and finalized here, not cached: it runs once per compile of `statement`.
        let outerAccess = authorizer.access
        authorizer.access = .internal
        defer { authorizer.access = outerAccess }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, "explain " + statement.sql, -1, 0, &raw, nil)
        guard rc == SQLITE_OK, let explain = raw else { throw error(rc, sql: statement.sql) }
        defer { sqlite3_finalize(explain) }
        var risk = false
        while true {
            let step = sqlite3_step(explain)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(step, sql: statement.sql) }
            // EXPLAIN's columns: addr, opcode, p1, p2, p3, p4, p5, comment.
            guard sqlite3_column_int(explain, 3) == Self.conflictRollback,
                let opcode = sqlite3_column_text(explain, 1)
            else { continue }
            let name = String(cString: opcode)
            if name == "Halt" || name == "HaltIfNull" {
                risk = true
                break
            }
        }
        statement.rollbackRisk = (prepares, risk)
        return risk
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
    }
}
