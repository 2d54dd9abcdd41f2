internal import CSQLite

/// SQLite's result codes by name, and their translation into ``StoreError``.
enum SQLiteCodes {
    // Extended codes, as sqlite3.h defines them (its macros do not import into Swift).
    static let constraintCheck: Int32 = 275
    static let constraintForeignKey: Int32 = 787
    static let constraintNotNull: Int32 = 1299
    static let constraintPrimaryKey: Int32 = 1555
    static let constraintTrigger: Int32 = 1811
    static let constraintUnique: Int32 = 2067
    static let constraintRowID: Int32 = 2579
    static let constraintDatatype: Int32 = 3091
    static let busyRecovery: Int32 = 261
    static let busySnapshot: Int32 = 517
    static let busyTimeout: Int32 = 773
    static let abortRollback: Int32 = 516

    private static let primaryNames: [Int32: String] = [
        SQLITE_ERROR: "SQLITE_ERROR", SQLITE_INTERNAL: "SQLITE_INTERNAL", SQLITE_PERM: "SQLITE_PERM",
        SQLITE_ABORT: "SQLITE_ABORT", SQLITE_BUSY: "SQLITE_BUSY", SQLITE_LOCKED: "SQLITE_LOCKED",
        SQLITE_NOMEM: "SQLITE_NOMEM", SQLITE_READONLY: "SQLITE_READONLY",
        SQLITE_INTERRUPT: "SQLITE_INTERRUPT", SQLITE_IOERR: "SQLITE_IOERR",
        SQLITE_CORRUPT: "SQLITE_CORRUPT", SQLITE_NOTFOUND: "SQLITE_NOTFOUND", SQLITE_FULL: "SQLITE_FULL",
        SQLITE_CANTOPEN: "SQLITE_CANTOPEN", SQLITE_PROTOCOL: "SQLITE_PROTOCOL",
        SQLITE_SCHEMA: "SQLITE_SCHEMA", SQLITE_TOOBIG: "SQLITE_TOOBIG",
        SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT", SQLITE_MISMATCH: "SQLITE_MISMATCH",
        SQLITE_MISUSE: "SQLITE_MISUSE", SQLITE_AUTH: "SQLITE_AUTH", SQLITE_RANGE: "SQLITE_RANGE",
        SQLITE_NOTADB: "SQLITE_NOTADB",
    ]

    private static let extendedNames: [Int32: String] = [
        constraintCheck: "SQLITE_CONSTRAINT_CHECK", constraintForeignKey: "SQLITE_CONSTRAINT_FOREIGNKEY",
        constraintNotNull: "SQLITE_CONSTRAINT_NOTNULL", constraintPrimaryKey: "SQLITE_CONSTRAINT_PRIMARYKEY",
        constraintTrigger: "SQLITE_CONSTRAINT_TRIGGER", constraintUnique: "SQLITE_CONSTRAINT_UNIQUE",
        constraintRowID: "SQLITE_CONSTRAINT_ROWID", constraintDatatype: "SQLITE_CONSTRAINT_DATATYPE",
        busyRecovery: "SQLITE_BUSY_RECOVERY", busySnapshot: "SQLITE_BUSY_SNAPSHOT",
        busyTimeout: "SQLITE_BUSY_TIMEOUT", abortRollback: "SQLITE_ABORT_ROLLBACK",
    ]

    /// `SQLITE_CONSTRAINT_UNIQUE`, or the primary name with the extended number.
    static func name(_ code: Int32) -> String {
        if let name = extendedNames[code] ?? primaryNames[code] { return name }
        let primary = code & 0xff
        if let name = primaryNames[primary] { return "\(name), extended code \(code)" }
        return "SQLite code \(code)"
    }

    /// SQLite's failure `code` as a ``StoreError``, its code named.
    static func error(_ code: Int32, _ message: String, sql: String? = nil) -> StoreError {
        StoreError(kind(code), message, sql: sql, sqliteCode: code, sqliteCodeName: name(code))
    }

    static func kind(_ code: Int32) -> StoreError.Code {
        switch code & 0xff {
        case SQLITE_CONSTRAINT: .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_INTERRUPT: .interrupted
        case SQLITE_IOERR, SQLITE_FULL, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CANTOPEN: .io
        case SQLITE_MISUSE: .misuse
        case SQLITE_READONLY: .readOnly
        case SQLITE_AUTH: .fence
        default: .sql
        }
    }
}
