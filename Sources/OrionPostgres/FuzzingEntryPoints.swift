/// Thin wrappers around the PostgreSQL adapter's internal SQL reader, for the project's fuzzers
/// (`Fuzz/`) only: not API, and free to change or go away in any release.
///
/// ```swift
/// @_spi(Fuzzing) import OrionPostgres
/// let statement = try OrionPostgresFuzzing.single("select ?")  // text "select $1"
/// ```
@_spi(Fuzzing) public enum OrionPostgresFuzzing {
    /// One statement as `PostgresSQL` read it (`PostgresStatementText`'s fields).
    public struct Statement: Sendable, Equatable {
        /// The statement with `?` turned into `$1 … $n` and `??` into `?`.
        public var text: String
        /// The number of `?` parameters.
        public var parameterCount: Int
        /// The first three words outside quotes and comments, lowercased.
        public var words: [String]
        /// The statement as written.
        public var original: String
        /// Whether it calls `set_config(…)`.
        public var callsSetConfig: Bool
        /// Whether it is a `SELECT … INTO`.
        public var selectsInto: Bool
        /// Whether it calls `pg_notify(…)`.
        public var callsNotify: Bool
        /// Whether it calls a session-level advisory lock function.
        public var callsSessionLock: Bool
        /// Whether it calls a function that runs SQL given as text.
        public var callsSQLText: Bool
        /// Whether it calls `setseed(…)`.
        public var callsSetSeed: Bool
        /// Whether it has a `UESCAPE` clause.
        public var usesUEscape: Bool

        init(_ statement: PostgresStatementText) {
            text = statement.text
            parameterCount = statement.parameterCount
            words = statement.words
            original = statement.original
            callsSetConfig = statement.callsSetConfig
            selectsInto = statement.selectsInto
            callsNotify = statement.callsNotify
            callsSessionLock = statement.callsSessionLock
            callsSQLText = statement.callsSQLText
            callsSetSeed = statement.callsSetSeed
            usesUEscape = statement.usesUEscape
        }

        var internalText: PostgresStatementText {
            PostgresStatementText(
                text: text, parameterCount: parameterCount, words: words, original: original,
                callsSetConfig: callsSetConfig, selectsInto: selectsInto, callsNotify: callsNotify,
                callsSessionLock: callsSessionLock, callsSetSeed: callsSetSeed, usesUEscape: usesUEscape,
                callsSQLText: callsSQLText)
        }
    }

    /// What `StatementKind` says of a statement.
    public enum Kind: Sendable, Equatable {
        case transactionControl
        case sessionControl(String)
        case refused(String)
        case schemaChange
        case other

        init(_ kind: StatementKind) {
            switch kind {
            case .transactionControl: self = .transactionControl
            case .sessionControl(let reason): self = .sessionControl(reason)
            case .refused(let reason): self = .refused(reason)
            case .schemaChange: self = .schemaChange
            case .other: self = .other
            }
        }
    }

    /// `PostgresSQL.statements(in:)`: the statements of `sql`, placeholders rewritten.
    public static func statements(in sql: String) throws -> [Statement] {
        try PostgresSQL.statements(in: sql).map(Statement.init)
    }

    /// `PostgresSQL.single(_:)`: the one statement of a `query`, `one` or `exec` call.
    public static func single(_ sql: String) throws -> Statement {
        Statement(try PostgresSQL.single(sql))
    }

    /// `StatementKind.init(_:)` over a whole statement (its words and what it calls).
    public static func kind(of statement: Statement) -> Kind {
        Kind(StatementKind(statement.internalText))
    }

    /// `StatementKind.init(_:)` over a statement's first words.
    public static func kind(words: [String]) -> Kind { Kind(StatementKind(words)) }

    /// `StatementKind.verb(_:)`: the verb of a fence error for a statement starting with `words`.
    public static func verb(_ words: [String]) -> String { StatementKind.verb(words) }
}
