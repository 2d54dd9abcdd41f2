/// The one error type of the store: what went wrong, in words a person can act on.
///
/// ```swift
/// do {
///     try store.exec("insert into todos (title) values (?)", nil)
/// } catch let error as StoreError where error.code == .constraint {
///     print(error)   // NOT NULL constraint failed: todos.title (SQLITE_CONSTRAINT_NOTNULL) — in: insert into …
/// }
/// ```
///
/// The description names what to fix (the feature, table, owner, column, counts) and the SQL
/// that failed. A bound value never appears in any field: parameters carry secrets.
public struct StoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Kind: Hashable, Sendable {
            case sql, constraint, busy, interrupted, parameterCount, multipleStatements,
                unsupportedParameter, transactionControl, decoding, closed, fence, migration,
                writeQueueStopped, misuse, connection, io, readOnly
        }
        let kind: Kind
        init(_ kind: Kind) { self.kind = kind }

        /// The SQL is invalid or the database refused it (syntax, unknown table, …).
        public static let sql = Code(.sql)
        /// A constraint failed: UNIQUE, NOT NULL, CHECK, FOREIGN KEY.
        public static let constraint = Code(.constraint)
        /// Another connection or process held the lock past the busy timeout.
        public static let busy = Code(.busy)
        /// The statement ran past the store's statement time limit and was stopped.
        public static let interrupted = Code(.interrupted)
        /// The number of parameters differs from the number of `?` in the SQL.
        public static let parameterCount = Code(.parameterCount)
        /// `query`, `one` or `exec` got more than one statement.
        public static let multipleStatements = Code(.multipleStatements)
        /// The SQL uses a parameter form other than a positional `?`.
        public static let unsupportedParameter = Code(.unsupportedParameter)
        /// Feature SQL tried `begin`, `commit`, `rollback`, `savepoint` or `release`: use `tx`.
        public static let transactionControl = Code(.transactionControl)
        /// A row did not decode into the requested Swift type.
        public static let decoding = Code(.decoding)
        /// The store was closed.
        public static let closed = Code(.closed)
        /// A statement touched a table that another feature owns, or a scope stepped outside itself.
        public static let fence = Code(.fence)
        /// A migration entry failed, was edited, or is missing.
        public static let migration = Code(.migration)
        /// A batch of the write queue was lost; the store refuses writes until it is reopened.
        public static let writeQueueStopped = Code(.writeQueueStopped)
        /// The store was used in a way it does not support (see the message).
        public static let misuse = Code(.misuse)
        /// The connection to the database server failed or was lost.
        public static let connection = Code(.connection)
        /// The database reported an I/O failure or a full disk.
        public static let io = Code(.io)
        /// A write reached a store opened read-only, or a database SQLite can only read (the
        /// file's permissions, a file moved or replaced while open).
        public static let readOnly = Code(.readOnly)

        /// The code's name, as used in events and metrics (`constraint`, `fence`, …).
        public var description: String {
            switch kind {
            case .sql: "sql"
            case .constraint: "constraint"
            case .busy: "busy"
            case .interrupted: "interrupted"
            case .parameterCount: "parameterCount"
            case .multipleStatements: "multipleStatements"
            case .unsupportedParameter: "unsupportedParameter"
            case .transactionControl: "transactionControl"
            case .decoding: "decoding"
            case .closed: "closed"
            case .fence: "fence"
            case .migration: "migration"
            case .writeQueueStopped: "writeQueueStopped"
            case .misuse: "misuse"
            case .connection: "connection"
            case .io: "io"
            case .readOnly: "readOnly"
            }
        }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What went wrong and what to fix, without the SQL.
    public let message: String
    /// The statement that failed, as written (with its `?` placeholders), where there is one.
    public let sql: String?
    /// SQLite's extended result code, when SQLite reported the failure.
    public let sqliteCode: Int32?
    /// PostgreSQL's SQLSTATE, when PostgreSQL reported the failure.
    public let sqlState: String?
    /// Detail a database server attached that may quote data (PostgreSQL's `DETAIL`); only in
    /// ``debugDescription``, never in ``description``.
    public let detail: String?
    /// The name of ``sqliteCode`` (`SQLITE_CONSTRAINT_UNIQUE`), given by the SQLite adapter.
    let sqliteCodeName: String?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, sql: String? = nil,
        sqliteCode: Int32? = nil, sqlState: String? = nil, detail: String? = nil
    ) {
        self.init(code, message, sql: sql, sqliteCode: sqliteCode, sqliteCodeName: nil, sqlState: sqlState, detail: detail)
    }

    /// Creates an error with the name of SQLite's code, for the description.
    package init(
        _ code: Code, _ message: String, sql: String? = nil,
        sqliteCode: Int32?, sqliteCodeName: String?, sqlState: String? = nil, detail: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sql = sql
        self.sqliteCode = sqliteCode
        self.sqliteCodeName = sqliteCodeName
        self.sqlState = sqlState
        self.detail = detail
    }

    /// The message, the database's code, and the SQL. Never a bound value.
    public var description: String {
        var text = message
        if let sqliteCode { text += " (\(sqliteCodeName ?? "SQLite code \(sqliteCode)"))" }
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let sql { text += " — in: \(sql)" }
        return text
    }

    /// The description plus the server's detail, which may quote data: keep it out of logs that
    /// leave the machine.
    public var debugDescription: String {
        guard let detail else { return description }
        return description + " — detail: \(detail)"
    }

    /// The same error for another statement (used where a wrapper knows the SQL and the cause does not).
    package func with(sql: String?) -> StoreError {
        StoreError(code, message, sql: sql, sqliteCode: sqliteCode, sqliteCodeName: sqliteCodeName, sqlState: sqlState, detail: detail)
    }

    /// The same error with another message (used to take bound values out of it).
    package func with(message: String) -> StoreError {
        StoreError(code, message, sql: sql, sqliteCode: sqliteCode, sqliteCodeName: sqliteCodeName, sqlState: sqlState, detail: detail)
    }
}
