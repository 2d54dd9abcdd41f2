internal import CSQLite

/// The fence's rules: what a statement prepared with some ``Access`` may do.
///
/// Called from SQLite's authorizer (`sqlite3_set_authorizer`) while a statement compiles, so it
/// sees what SQLite itself resolved (tables behind views and triggers included), never SQL text.
///
/// What it refuses to all feature SQL (the root store, scoped stores and migration entries):
/// transaction control; `ATTACH`/`DETACH`; pragmas that set something (a pragma set through a
/// pooled store changes only the connection that ran it, and every later caller of that
/// connection), except the root store's `user_version` and `application_id`; writes to
/// `_orion_*` and to SQLite's own tables (`sqlite_sequence`, `sqlite_stat1`, …) other than
/// the writes a schema change makes itself; TEMP tables, views, triggers and indexes (they
/// live on one pooled connection and would shadow a table for every later caller there); and
/// functions that hand out raw pointers (`fts3_tokenizer`, `load_extension`). Scoped stores
/// and migration entries also may not touch a table another feature owns, and scoped stores
/// run no DDL and read only the pragmas in ``readablePragmas``.
enum Fence {
    /// What the fence says about one access.
    enum Verdict {
        case allow
        case deny(StoreError)
        /// Allowed only when SQLite makes the access itself, enforcing a foreign key (a parent-key
        /// lookup, a declared cascade); refused with this error when the statement makes it.
        case enforcement(StoreError)

        var isDenial: Bool {
            if case .deny = self { return true }
            return false
        }
    }

    /// The verdict on an access made inside the trigger or view `code`, which belongs to feature
    /// `owner`: code runs within its owner's fence. Its migration checked what it touches; this
    /// check holds when ownership changed since. An access of enforcement's shape passes (the
    /// migration compiled the body without that excuse).
    static func checkCode(
        _ action: Int32, _ a1: String?, _ a2: String?, code: String, owner: String, registry: Registry
    ) -> Verdict {
        let verdict = checkTables(action, a1, a2, feature: owner, registry: registry, excusesEnforcement: true) {
            "the trigger or view '\(code)' of feature '\(owner)' cannot \($0) table '\($1)': it belongs to feature '\($2)'"
        }
        return verdict.isDenial ? verdict : .allow
    }

    /// Pragmas any feature SQL may read (the form without an argument).
    static let readablePragmas: Set<String> = [
        "application_id", "auto_vacuum", "busy_timeout", "cache_size", "collation_list", "compile_options",
        "data_version", "database_list", "defer_foreign_keys", "encoding", "foreign_keys", "freelist_count",
        "function_list", "journal_mode", "journal_size_limit", "locking_mode", "max_page_count", "mmap_size",
        "module_list", "page_count", "page_size", "pragma_list", "query_only", "recursive_triggers",
        "schema_version", "synchronous", "table_list", "temp_store", "user_version", "wal_autocheckpoint",
    ]

    /// Pragmas whose argument names a table or index to describe, not a value to set.
    static let describingPragmas: Set<String> = [
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
        "foreign_key_list", "foreign_key_check",
    ]

    /// Pragmas that change the database although SQLite calls their statement read-only:
    /// `optimize` runs ANALYZE (writes `sqlite_stat1`), `incremental_vacuum` frees pages.
    static let writingPragmas: Set<String> = ["optimize", "incremental_vacuum"]

    /// Pragmas the root store may set: they are kept in the database file, not per connection.
    static let databasePragmas: Set<String> = ["user_version", "application_id"]

    /// Functions refused to feature SQL: they return or register raw pointers.
    static let refusedFunctions: Set<String> = ["fts3_tokenizer", "load_extension"]

    /// SQLite's own tables that only SQLite writes, by its schema changes (defensive mode guards
    /// the schema tables themselves).
    static let schemaTables: Set<SQLName> = Set(
        ["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"].map(SQLName.init))

    /// The planner's statistics, which `ANALYZE` and `pragma optimize` write.
    static let statisticsTables: Set<SQLName> = Set(["sqlite_stat1", "sqlite_stat4"].map(SQLName.init))

    /// Tables that describe every feature's tables (`dbstat`: their pages and row counts;
    /// `sqlite_stmt`: the statements of a connection; `sqlite_dbpage`: raw pages;
    /// `sqlite_stat1` and `sqlite_stat4`: the planner's row counts and samples of every table
    /// and index; `sqlite_sequence`: every AUTOINCREMENT table's largest id): scoped stores and
    /// migrations may not read them.
    static let introspectionTables: Set<SQLName> = Set(
        ["dbstat", "sqlite_stmt", "sqlite_dbpage", "sqlite_stat1", "sqlite_stat4", "sqlite_sequence"].map(SQLName.init))

    /// SQLite's bookkeeping that a DROP TABLE or ANALYZE reads and writes by itself.
    static let bookkeepingTables: Set<SQLName> = Set(["sqlite_stat1", "sqlite_stat4", "sqlite_sequence"].map(SQLName.init))

    /// What each introspection table would tell another feature.
    private static func describes(_ table: SQLName) -> String {
        switch table {
        case SQLName("sqlite_stmt"): "the statements of a pooled connection"
        case SQLName("sqlite_stat1"), SQLName("sqlite_stat4"): "the planner's row counts and samples of every feature's tables"
        case SQLName("sqlite_sequence"): "the largest id of every feature's AUTOINCREMENT table"
        default: "every feature's pages and rows"
        }
    }

    /// Functions that report the shared connection's last statement, which may be another
    /// feature's: refused to scoped stores and migrations.
    static let connectionStateFunctions: Set<String> = ["last_insert_rowid", "changes", "total_changes"]

    /// Virtual-table modules that describe every feature's tables (their pages, rows and
    /// statements): no feature makes a table of them, under any name.
    static let introspectionModules: Set<String> = ["dbstat", "sqlite_dbpage", "sqlite_stmt"]

    /// Whether feature SQL made as `access` may call the function `name`.
    static func checkFunction(_ name: String?, access: Access) -> Verdict {
        guard let name = name?.lowercased() else { return .allow }
        if refusedFunctions.contains(name) {
            return .deny(StoreError(.fence, "function \(name)() is refused to feature SQL: it hands out or registers raw pointers inside the process"))
        }
        if access.feature != nil, connectionStateFunctions.contains(name) {
            return .deny(
                StoreError(
                    .fence,
                    "function \(name)() is refused to scoped stores and migrations: it reports the shared writer's last statement, which may be another feature's; exec returns this statement's changes and lastId"))
        }
        return .allow
    }

    /// The verdict on `action`.
    ///
    /// - Parameters:
    ///   - a1: SQLite's first string: the object (table, index, pragma …).
    ///   - a2: Its detail: the column, the table of an index or trigger, or a pragma's argument.
    ///   - database: The schema the object lives in (`main`, `temp`), when SQLite says.
    ///   - withinSchemaChange: Whether the statement compiled a schema change before this access.
    ///   - withinDropOrAnalyze: Whether it drops a table or runs ANALYZE, whose own reads of
    ///     SQLite's bookkeeping tables (for that table) are SQLite's.
    static func check(
        _ action: Int32, _ a1: String?, _ a2: String?, database: String?,
        access: Access, registry: Registry, withinSchemaChange: Bool, withinDropOrAnalyze: Bool = false
    ) -> Verdict {
        if case .internal = access { return .allow }
        switch action {
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
            return .deny(FenceRefusal.transactionControl)
        case SQLITE_ATTACH, SQLITE_DETACH:
            return .deny(StoreError(.fence, "ATTACH and DETACH are refused to feature SQL: an attached database would step around the fence"))
        case SQLITE_CREATE_VTABLE where access.feature != nil && introspectionModules.contains(a2?.lowercased() ?? ""):
            return .deny(
                StoreError(
                    .fence,
                    "a virtual table of module \(a2?.lowercased() ?? "") is refused to migrations: it describes every feature's tables, under whatever name it is made"))
        case SQLITE_PRAGMA:
            return checkPragma(a1?.lowercased(), a2, access: access, registry: registry)
        default:
            break
        }
        if isTemporary(action, database: database) { return .deny(temporaryRefusal) }
        if let denial = checkReserved(action, a1, a2) { return .deny(denial) }
        if !withinSchemaChange, let denial = checkSQLiteTable(action, a1, access: access) { return .deny(denial) }
        if access.feature != nil, action == SQLITE_READ, let table = a1, let module = registry.modules[SQLName(table)],
            introspectionModules.contains(module)
        {
            return .deny(
                StoreError(
                    .fence,
                    "feature SQL cannot read '\(table)': it is a \(module) table, which holds every feature's pages and rows; read it through the root store"))
        }
        if access.feature != nil, action == SQLITE_READ, let table = a1, introspectionTables.contains(SQLName(table)),
            !(withinDropOrAnalyze && bookkeepingTables.contains(SQLName(table)))
        {
            return .deny(
                StoreError(
                    .fence,
                    "feature SQL cannot read '\(table)': it holds \(describes(SQLName(table))); read it through the root store"))
        }
        switch access {
        case .internal, .root:
            return .allow
        case .scoped(let scope):
            if isDDL(action) || action == SQLITE_ANALYZE || action == SQLITE_REINDEX {
                return .deny(FenceRefusal.schemaChange(feature: scope.feature))
            }
            return checkTables(action, a1, a2, feature: scope.feature, registry: registry, excusesEnforcement: true) {
                FenceRefusal.scoped(feature: scope.feature, verb: $0, table: $1, owner: $2).message
            }
        case .migration(let feature, let index):
            // Migrations run with foreign keys off: SQLite enforces none while an entry runs, so
            // every access is the entry's own and none is excused as enforcement.
            return checkMigration(action, a1, a2, feature: feature, registry: registry) {
                FenceRefusal.migration(feature: feature, index: index, verb: $0, table: $1, owner: $2).message
            }
        }
    }

    /// Pragmas: feature SQL reads; only the root store sets, and only what the database file keeps.
    private static func checkPragma(_ name: String?, _ argument: String?, access: Access, registry: Registry) -> Verdict {
        guard let name else { return .allow }
        if name == "writable_schema" {
            return .deny(StoreError(.fence, "pragma writable_schema is refused to feature SQL: it would let SQL rewrite the schema the fence relies on"))
        }
        let scoped: String?
        if case .scoped(let scope) = access { scoped = scope.feature } else { scoped = nil }
        if let argument {
            if describingPragmas.contains(name) {
                // foreign_key_check reads the rows of the table it checks.
                if let scoped, name == "foreign_key_check", let owner = registry.owner(of: argument), owner != scoped {
                    return .deny(FenceRefusal.scoped(feature: scoped, verb: "check the rows of", table: argument, owner: owner))
                }
                return .allow
            }
            if case .root = access, databasePragmas.contains(name) { return .allow }
            return .deny(
                StoreError(
                    .fence,
                    "pragma \(name) with a value is refused to feature SQL: through a pooled store it would change only the one connection this statement runs on, and every later caller of it; the store sets its connections itself (open the store with the setting you need)"))
        }
        if scoped != nil || access.feature != nil, !readablePragmas.contains(name) {
            return .deny(
                StoreError(
                    .fence,
                    "pragma \(name) is refused to scoped stores and migrations: they may read a store setting or describe a table, not run a pragma that acts; run it through the root store"))
        }
        return .allow
    }

    /// Feature SQL tried to create a TEMP object.
    static let temporaryRefusal = StoreError(
        .fence,
        "TEMP tables, views, triggers and indexes are refused to feature SQL: a TEMP object lives on the one pooled connection that made it, where it would shadow a table for every later caller; create a table in a migration")

    /// `_orion_*` tables are the store's: no feature SQL writes them or changes their schema.
    private static func checkReserved(_ action: Int32, _ a1: String?, _ a2: String?) -> StoreError? {
        let target: String?
        switch action {
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_CREATE_TABLE, SQLITE_CREATE_TEMP_TABLE,
            SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_TABLE, SQLITE_CREATE_VIEW, SQLITE_CREATE_TEMP_VIEW:
            target = a1
        case SQLITE_ALTER_TABLE, SQLITE_CREATE_INDEX, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TRIGGER,
            SQLITE_CREATE_TEMP_TRIGGER, SQLITE_DROP_INDEX, SQLITE_DROP_TRIGGER:
            target = a2
        default:
            target = nil
        }
        guard let target, SQLName(target).hasPrefix(FenceRefusal.reservedPrefix) else { return nil }
        return FenceRefusal.reserved(table: target)
    }

    /// Feature SQL may not write SQLite's own tables (`sqlite_sequence` holds every table's
    /// AUTOINCREMENT counter); the schema changes that write them do so themselves.
    private static func checkSQLiteTable(_ action: Int32, _ a1: String?, access: Access) -> StoreError? {
        guard action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE,
            let name = a1.map(SQLName.init), name.hasPrefix("sqlite_"), !schemaTables.contains(name)
        else { return nil }
        // The planner's statistics: `ANALYZE t` clears a table's rows before it says it analyzes;
        // the root store and migrations may keep them (scoped stores run no ANALYZE).
        if statisticsTables.contains(name), access.feature == nil || access.isMigration { return nil }
        let table = name.original
        return StoreError(.fence, "feature SQL cannot write SQLite's own table '\(table)': SQLite keeps it for every table of the database")
    }

    /// Whether `action` creates or drops a TEMP object (`create temp …`, or one named `temp.…`).
    private static func isTemporary(_ action: Int32, database: String?) -> Bool {
        switch action {
        case SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_TEMP_TRIGGER, SQLITE_CREATE_TEMP_VIEW,
            SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_TEMP_TRIGGER, SQLITE_DROP_TEMP_VIEW:
            return true
        default:
            return database?.lowercased() == "temp" && isDDL(action)
        }
    }

    static func isDDL(_ action: Int32) -> Bool {
        switch action {
        case SQLITE_CREATE_INDEX, SQLITE_CREATE_TABLE, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_TABLE,
            SQLITE_CREATE_TEMP_TRIGGER, SQLITE_CREATE_TEMP_VIEW, SQLITE_CREATE_TRIGGER, SQLITE_CREATE_VIEW,
            SQLITE_DROP_INDEX, SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TEMP_TABLE,
            SQLITE_DROP_TEMP_TRIGGER, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_TRIGGER, SQLITE_DROP_VIEW,
            SQLITE_ALTER_TABLE, SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE:
            true
        default:
            false
        }
    }

    private static func checkMigration(
        _ action: Int32, _ a1: String?, _ a2: String?, feature: String, registry: Registry,
        message: (String, String, String) -> String
    ) -> Verdict {
        func guardOwner(_ verb: String, _ table: String?) -> Verdict {
            guard let table, let owner = registry.owner(of: table), owner != feature else { return .allow }
            return .deny(StoreError(.fence, message(verb, table, owner)))
        }
        switch action {
        case SQLITE_CREATE_INDEX: return guardOwner("index", a2)
        case SQLITE_CREATE_TRIGGER: return guardOwner("put a trigger on", a2)
        case SQLITE_ALTER_TABLE: return guardOwner("alter", a2)
        case SQLITE_ANALYZE: return guardOwner("analyze", a1)
        case SQLITE_DROP_TABLE, SQLITE_DROP_VIEW: return guardOwner("drop", a1)
        case SQLITE_DROP_INDEX: return guardOwner("drop an index of", a2)
        case SQLITE_DROP_TRIGGER: return guardOwner("drop a trigger of", a2)
        default:
            return checkTables(action, a1, a2, feature: feature, registry: registry, excusesEnforcement: false, message: message)
        }
    }

    /// Reads and writes of tables: a table another feature owns is refused. When
    /// `excusesEnforcement`, an access of the shape SQLite's foreign-key enforcement makes is
    /// refused only if the statement makes it itself (``Verdict/enforcement(_:)``).
    private static func checkTables(
        _ action: Int32, _ a1: String?, _ a2: String?, feature: String, registry: Registry,
        excusesEnforcement: Bool, message: (String, String, String) -> String
    ) -> Verdict {
        let verb: String
        switch action {
        case SQLITE_READ: verb = "read"
        case SQLITE_INSERT: verb = "insert into"
        case SQLITE_UPDATE: verb = "update"
        case SQLITE_DELETE: verb = "delete from"
        default: return .allow
        }
        guard let table = a1 else { return .allow }
        if let (content, owner) = registry.foreignContent(of: table, for: feature) {
            // A full-text index over another feature's table: reading the index reads its rows.
            return .deny(StoreError(.fence, message("\(verb) '\(table)', the full-text index over", content, owner)))
        }
        guard let owner = registry.owner(of: table), owner != feature else { return .allow }
        let refusal = StoreError(.fence, message(verb, table, owner))
        if excusesEnforcement, isEnforcement(action, table: table, column: a2, feature: feature, registry: registry) {
            return .enforcement(refusal)
        }
        return .deny(refusal)
    }

    /// Whether the access has the shape of SQLite enforcing a foreign key between `table` and a
    /// table of `feature`: reading the parent's key for a child row, reading the child's key
    /// columns for a parent change, or the child-side writes of `on delete`/`on update` actions.
    /// The shape alone proves nothing (a statement can read the same columns itself); it only
    /// says a proof is worth trying.
    static func isEnforcement(
        _ action: Int32, table: String, column: String?, feature: String, registry: Registry
    ) -> Bool {
        let name = SQLName(table)
        let col = column.map(SQLName.init)
        // The other end of the key is one the feature may write: its own table, or one no
        // feature owns.
        func writable(_ table: SQLName) -> Bool {
            let owner = registry.owners[table]
            return owner == nil || owner == feature
        }
        for fk in registry.foreignKeys {
            if action == SQLITE_READ, fk.parent == name, writable(fk.child),
                let col, fk.parentColumns.contains(col)
            {
                return true
            }
            guard fk.child == name, writable(fk.parent) else { continue }
            switch action {
            case SQLITE_READ:
                if let col, fk.childColumns.contains(col) { return true }
            case SQLITE_DELETE:
                if fk.deletesChild { return true }
            case SQLITE_UPDATE:
                if fk.updatesChild, let col, fk.childColumns.contains(col) {
                    return true
                }
            default:
                break
            }
        }
        return false
    }
}
