import Foundation
import Orion

/// The rules over a feature's migration code on PostgreSQL: what an entry may not do, read from
/// its text as written, with comments as spaces, and as PostgreSQL's lexer reads it
/// (``PostgresCodeView``). What runs is checked again from the catalog after each statement
/// (``PostgresMigrator``'s `secureRoutines`).
extension PostgresMigrator {
    /// What an entry's code may not do, read from its whole text (function bodies included),
    /// lowercased: change the role it runs as, or run SQL the store never sees.
    private static let codeRules: [(pattern: String, reason: String)] = [
        (#"set_config"#, "it calls set_config(), which can change the role its code runs as"),
        (#"\bu&""#, "it writes a name with Unicode escapes (U&\"…\"), which could spell set_config or a role change past these checks; write the name plainly"),
        (#"\bexecute\b(?!\s+(function|procedure)\s+[a-z_][a-z0-9_$]*(\s*\.\s*[a-z_][a-z0-9_$]*)*\s*\()"#, "it runs dynamic SQL (EXECUTE), whose statements the store cannot check"),
        (#"\bdblink"#, "it opens a connection of its own (dblink)"),
        (
            #"\b(query_to_xml|query_to_xmlschema|query_to_xml_and_xmlschema|cursor_to_xml|cursor_to_xmlschema|ts_stat|ts_rewrite|(table|schema|database)_to_xml(schema|_and_xmlschema)?)\b"#,
            "it runs SQL or reads tables given as text (query_to_xml, ts_rewrite, table_to_xml, ts_stat), which the store cannot check"
        ),
        (#"\buescape\b"#, "it gives a U&\"…\" name or U&'…' string its own escape character (UESCAPE), which the store does not read; write the name or the string plainly"),
        (#"\bsetseed\b"#, "it calls setseed(), which fixes random() for the session of a pooled connection, and so for its next caller"),
        (#"\bpg_settings\b"#, "it names pg_settings, the session's settings (changing a row of it is set_config)"),
        (#"\bpg_temp"#, "it names the TEMP schema (pg_temp), whose objects live on one pooled connection"),
        (#"\bpg_(try_)?advisory_(lock|unlock)(_shared|_all)?\b"#, "it takes or drops session-level advisory locks, which outlive the call on a pooled connection"),
        (#"\bwith\s+hold\b"#, "it makes a cursor WITH HOLD, which outlives its transaction on a pooled connection"),
        (#"\b(prepare|deallocate|discard)\b"#, "it prepares or drops statements of the pooled connection's session, which are the store's"),
        (#"\bcreate\s+(or\s+replace\s+)?(local\s+|global\s+)?temp(orary)?\b"#, "it creates a TEMP object, which lives on one pooled connection"),
        (#"\bset\s+(session\s+)?search_path\b"#, "it changes the search_path of the pooled connection"),
        (#"\b(grant|revoke)\b"#, "it grants or revokes privileges, which are the store's"),
        (#"pg_notify|\bnotify\s+[a-z_"]"#, "it sends notifications, which are the store's (change notifications)"),
    ]

    /// Rules read where statements start (``PostgresCodeView``): the entry's own statements with
    /// their strings left out, and the bodies of the functions it defines, so that a message or
    /// a value (`'then set up'`) is not taken for a statement.
    private static let codeViewRules: [(pattern: String, reason: String)] = [
        (
            #"(^|;|\b(begin|then|else|loop))\s*(set|reset)\s+(local\s+|session\s+)?"?(role|session_authorization|all|session)\b"#,
            "it changes the role or the session its code runs in"
        ),
        (#"\binto\s+(local\s+|global\s+)?temp(orary)?\b"#, "it creates a TEMP table (SELECT … INTO TEMP), which lives on one pooled connection"),
        (
            #"(;|\b(begin|then|else|loop))\s*(set|reset)\s+(?!(local|constraints|transaction)\b)[a-z_"]"#,
            "it changes a setting of the pooled connection's session (SET or RESET without LOCAL), which the connection's next caller would inherit; use SET LOCAL"
        ),
    ]

    /// Rules read on the bodies of the functions an entry defines
    /// (``PostgresCodeView/functionBodies(of:)``), where each statement's start is known.
    private static let functionBodyRules: [(pattern: String, reason: String)] = [
        (
            #"(;|\b(begin|then|else|loop))\s*(alter|create|drop|grant|revoke|reassign|comment\s+on|security\s+label|import\s+foreign|do)\b"#,
            "a function body changes the schema (ALTER, CREATE, DROP…): it would run at any time, as the feature, past the migrator's checks (a function could make the feature's trigger run as its caller); put schema changes in migration entries"
        ),
        (
            #"(;|\b(begin|then|else|loop))\s*(listen|unlisten|load|notify)\b"#,
            "a function body listens, loads a library or notifies on the pooled connection, which its next caller would inherit"
        ),
        (
            #"(;|\b(begin|then|else|loop))\s*explain\s*(\(|analy[sz]e\b|verbose\s+analy[sz]e\b)"#,
            "a function body runs EXPLAIN ANALYZE, which runs its statement past these checks"
        ),
        (
            #"(;|\b(begin|then|else|loop))\s*(set|reset)\s+(local\s+|session\s+)?"?(\#(StatementKind.storeSettings.sorted().joined(separator: "|")))\b"#,
            "a function body sets what the store sets on every connection (search_path, the role, time zone, formats…), even for its transaction, and the store's reads after it would be wrong"
        ),
    ]

    /// Why the entry's code is refused, or `nil`. The rules read the text as written, once more
    /// with every comment as a space (`reset/**/role`, `set -- x⏎ role`), and once as
    /// PostgreSQL's lexer reads it, every string and function body read again as code
    /// (``PostgresCodeView``): a comment opener inside a string, a string continued on the next
    /// line or a name spelled with escapes hides nothing. Whatever got past them still cannot
    /// change its role: every function a feature owns runs as its owner (``secureRoutines``).
    static func codeProblem(in entry: String) -> String? {
        let text = entry.lowercased()
        let view = PostgresCodeView.of(entry)
        for variant in [text, withoutComments(text), view] {
            for rule in codeRules where variant.range(of: rule.pattern, options: .regularExpression) != nil {
                return rule.reason
            }
        }
        let bodies = PostgresCodeView.functionBodies(of: entry)
        let statements = PostgresCodeView.of(entry, readingStrings: false) + " " + bodies
        for rule in codeViewRules where statements.range(of: rule.pattern, options: .regularExpression) != nil {
            return rule.reason
        }
        for rule in functionBodyRules where bodies.range(of: rule.pattern, options: .regularExpression) != nil {
            return rule.reason
        }
        return nil
    }

    /// `text` with each `/* … */` and each `--` comment (to a line feed or carriage return) as
    /// one space, wherever it is: quoting is not read, which can only hide less.
    static func withoutComments(_ text: String) -> String {
        text.replacingOccurrences(of: #"(?s)/\*.*?\*/"#, with: " ", options: .regularExpression)
            .replacingOccurrences(of: #"--[^\n\r]*"#, with: " ", options: .regularExpression)
    }
}
