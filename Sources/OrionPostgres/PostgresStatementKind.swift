import Foundation
import Orion

/// What a statement's first words say it does, for the rules that hold before PostgreSQL runs it.
enum StatementKind {
    case transactionControl
    /// Changes the session the pool hands to the next caller (roles, settings, prepared
    /// statements): refused to all feature SQL.
    case sessionControl(String)
    /// Runs code the store cannot check, or leaves state on a pooled connection: refused to all
    /// feature SQL, with the reason.
    case refused(String)
    case schemaChange
    case other

    init(_ statement: PostgresStatementText) {
        self.init(statement.words)
        guard case .other = self else { return }
        if statement.words.first == "explain",
            statement.original.range(of: #"(?i)\banaly[sz]e\b"#, options: .regularExpression) != nil
        {
            // EXPLAIN (ANALYZE …) runs its statement too.
            self = .refused("EXPLAIN ANALYZE runs its statement past the store's checks; EXPLAIN without ANALYZE plans it without running it, or use psql")
        } else if statement.callsNotify {
            self = .refused("pg_notify() sends notifications, which are the store's (its change notifications)")
        } else if statement.callsSetConfig {
            self = .refused("set_config() changes a setting of the pooled connection, its role among them; use SET LOCAL inside tx { } for a setting of one transaction")
        } else if statement.callsSQLText {
            self = .refused("query_to_xml(), ts_rewrite(), table_to_xml() and their kin run SQL or read tables given as text, which the store cannot check; run the query itself")
        } else if statement.namesSettings {
            self = .refused("pg_settings, pg_prepared_statements and pg_cursors show a pooled connection's session: its settings (changing a row of pg_settings is set_config), and the statements and cursors of its other callers; read a setting with current_setting(), and use SET LOCAL inside tx { }")
        } else if statement.namesTempSchema {
            self = .refused("pg_temp is the TEMP schema of one pooled connection; create a table in a migration")
        } else if statement.usesUEscape {
            self = .refused("UESCAPE gives a U&\"…\" name or U&'…' string an escape character of its own, which the store does not read; write the name plainly (a string with \\ escapes needs no UESCAPE)")
        } else if statement.callsSetSeed {
            self = .refused("setseed() fixes random() for the pooled connection's session, and so for its next caller; random() needs no seed")
        } else if statement.callsSessionLock {
            self = .refused("a session-level advisory lock outlives this call on a pooled connection, where the next caller inherits it; take pg_advisory_xact_lock() inside tx { }, which ends with the transaction")
        } else if statement.selectsInto {
            self = .refused("SELECT … INTO creates a table; create tables in a migration (CREATE TABLE … AS), and read rows with query")
        }
    }

    init(_ words: [String]) {
        let first = words.first ?? ""
        let second = words.count > 1 ? words[1] : ""
        switch first {
        case "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release":
            self = .transactionControl
        case "prepare" where second == "transaction":
            self = .transactionControl
        case "set":
            // SET LOCAL lasts until the transaction ends: allowed, except for what the store owns.
            let setting = second == "local" ? (words.count > 2 ? words[2] : "") : second
            if second != "local" {
                self = .sessionControl("a session-wide SET outlives this call on a pooled connection; use SET LOCAL inside tx { }")
            } else if setting.hasPrefix("u&") {
                self = .sessionControl("SET LOCAL \(setting) names its setting with Unicode escapes; write the setting's name plainly")
            } else if StatementKind.storeSettings.contains(StatementKind.settingName(setting)) {
                self = .sessionControl("SET LOCAL \(setting) changes what the store sets on every connection")
            } else {
                self = .other
            }
        case "explain" where ["analyze", "analyse", "verbose"].contains(second):
            // EXPLAIN ANALYZE runs its statement, which the store's first-word rules never read
            // (explain analyze create temp table …).
            self = .refused("EXPLAIN ANALYZE runs its statement past the store's checks; EXPLAIN without ANALYZE plans it without running it, or use psql")
        case "reset", "discard", "deallocate":
            self = .sessionControl("\(first.uppercased()) changes the session the store keeps on each pooled connection")
        case "do":
            self = .refused("a DO block runs procedural code the store cannot check, which can change the role and settings of the pooled connection; write its steps as statements inside tx { }")
        case "prepare", "execute":
            self = .refused("PREPARE and EXECUTE keep statements in a pooled connection's session; the store prepares every statement itself")
        case "fetch", "move", "close":
            self = .refused("FETCH, MOVE and CLOSE read or end a cursor, and a cursor on a pooled connection may be another caller's (one opened in a transaction several features share); read rows with query")
        case "declare":
            self = .refused("DECLARE makes a cursor on a pooled connection (WITH HOLD, past its transaction, where another caller could read from it); read rows with query")
        case "listen", "unlisten":
            self = .refused("LISTEN ties a pooled connection to a channel; subscribe with store.changes() instead")
        case "notify":
            self = .refused("notifications are the store's (its change notifications); subscribe and announce with store.changes()")
        case "copy":
            self = .refused("COPY is not supported through the store; insert or select the rows with statements")
        case "load":
            self = .refused("LOAD loads a library into the server session of a pooled connection")
        case "create"
        where ["temp", "temporary"].contains(second)
            || (["local", "global"].contains(second) && ["temp", "temporary"].contains(words.count > 2 ? words[2] : "")):
            self = .refused("a TEMP object lives on the one pooled connection that made it; create a table in a migration")
        case "create", "alter", "drop", "grant", "revoke", "comment", "reassign", "security", "import", "reindex", "cluster":
            self = .schemaChange
        default:
            self = .other
        }
    }

    /// Settings the store sets on each connection, and roles, which carry the fence
    /// (`session_authorization` set to the login role's own name resets the role).
    static let storeSettings: Set<String> = [
        "role", "session", "session_authorization", "time", "timezone", "datestyle", "intervalstyle", "statement_timeout",
        "bytea_output", "client_encoding", "standard_conforming_strings", "search_path", "extra_float_digits",
        // SET SCHEMA is search_path, SET NAMES client_encoding; SET SEED fixes random() for the
        // connection's next caller.
        "schema", "names", "seed",
    ]

    /// A setting's name from its word: a quoted one without its quotes (a setting's name is not
    /// case-sensitive, and words are lowercased).
    static func settingName(_ word: String) -> String {
        guard word.count >= 2, word.hasPrefix("\""), word.hasSuffix("\"") else { return word }
        return String(word.dropFirst().dropLast()).replacing("\"\"", with: "\"")
    }

    /// The verb of a fence error for a statement starting with `words`.
    static func verb(_ words: [String]) -> String {
        let second = words.count > 1 ? words[1] : ""
        switch words.first ?? "" {
        case "select", "with", "values", "table": return "read"
        case "insert": return "insert into"
        case "update": return "update"
        case "delete": return "delete from"
        case "merge": return "merge into"
        case "truncate": return "truncate"
        case "alter": return "alter"
        case "drop": return "drop"
        case "create" where second == "index" || second == "unique": return "index"
        case "create" where second == "trigger" || second == "constraint": return "put a trigger on"
        default: return "use"
        }
    }
}
