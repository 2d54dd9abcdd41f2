/// Feature-owned, forward-only migrations with the ownership fence.
///
/// Two tables record what happened; their schemas are permanent:
/// ```sql
/// create table _orion_migrations (
///     feature text not null,          -- the feature that owns the entry
///     idx integer not null,           -- the entry's position in the feature's list, from 0
///     sha256 text not null,           -- SHA-256 of the entry's exact text, lowercase hex
///     applied_at text not null,       -- UTC, YYYY-MM-DD HH:MM:SS.SSS
///     primary key (feature, idx)
/// )
/// create table _orion_tables (
///     name text not null primary key collate nocase,   -- a table or view
///     type text not null,                              -- 'table' or 'view'
///     feature text not null                            -- the feature whose migration created it
/// )
/// ```
enum Migrator {
    private struct Applied: Decodable {
        let idx: Int
        let sha256: String
    }

    /// An object of `sqlite_schema`, compared byte for byte (see ``SQLName``).
    private struct SchemaObject: Decodable, Hashable {
        let type: String
        let name: String
        let table: String
        let sql: String?

        enum CodingKeys: String, CodingKey {
            case type, name, sql
            case table = "tbl_name"
        }

        static func == (a: SchemaObject, b: SchemaObject) -> Bool {
            a.type.utf8.elementsEqual(b.type.utf8) && a.name.utf8.elementsEqual(b.name.utf8)
                && a.table.utf8.elementsEqual(b.table.utf8) && (a.sql?.utf8).map(Array.init) == (b.sql?.utf8).map(Array.init)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(Array(name.utf8))
            hasher.combine(Array(type.utf8))
        }
    }

    /// Applies `entries[i]` for every `i` not yet recorded for `feature`, each in its own
    /// transaction, after checking that the recorded ones are unchanged.
    static func migrate(feature: String, entries: [String], on connection: SQLiteConnection) throws {
        try ensureBookkeeping(connection)
        let applied: [Applied] = try connection.all(
            "select idx, sha256 from _orion_migrations where feature = ? order by idx",
            [.text(feature)], access: .internal)
        try Migrations.run(
            feature: feature, entries: entries, applied: applied.map { Migrations.Applied(index: $0.idx, sha256: $0.sha256) }
        ) { index, fingerprint, fingerprints in
            try apply(feature: feature, index: index, entry: entries[index], fingerprint: fingerprint, fingerprints: fingerprints, on: connection)
        }
    }

    /// On a read-only store: checks that every entry is applied and unchanged, and applies
    /// nothing (an entry not yet applied is an error).
    static func verify(feature: String, entries: [String], on connection: SQLiteConnection) throws {
        let bookkeeping: Int? = try connection.first(
            "select count(*) from sqlite_schema where type = 'table' and name = '_orion_migrations'", [], access: .internal)
        let applied: [Applied] =
            bookkeeping == 1
            ? try connection.all(
                "select idx, sha256 from _orion_migrations where feature = ? order by idx", [.text(feature)], access: .internal)
            : []
        try Migrations.run(
            feature: feature, entries: entries, applied: applied.map { Migrations.Applied(index: $0.idx, sha256: $0.sha256) }
        ) { index, _, _ in
            throw StoreError(
                .readOnly,
                "migration \(feature)[\(index)] is not applied, and this store is read-only: migrate with a store that writes (mode: .readWrite) first",
                sql: entries[index])
        }
    }

    private static func ensureBookkeeping(_ connection: SQLiteConnection) throws {
        let existing: Int? = try connection.first(
            "select count(*) from sqlite_schema where type = 'table' and name in ('_orion_migrations', '_orion_tables')",
            [], access: .internal)
        guard existing != 2 else { return }
        try connection.run("begin immediate")
        do {
            try connection.run(
                """
                create table if not exists _orion_migrations (
                    feature text not null,
                    idx integer not null,
                    sha256 text not null,
                    applied_at text not null,
                    primary key (feature, idx)
                )
                """)
            try connection.run(
                """
                create table if not exists _orion_tables (
                    name text not null primary key collate nocase,
                    type text not null,
                    feature text not null
                )
                """)
            try connection.run("commit")
        } catch {
            if !connection.isAutocommit { try? connection.run("rollback") }
            throw error
        }
    }

    private static func apply(
        feature: String, index: Int, entry: String, fingerprint: String, fingerprints: [String],
        on connection: SQLiteConnection
    ) throws {
        // Table rebuilds must not cascade into child tables: foreign keys are off for the entry
        // (the pragma does nothing inside a transaction) and checked before its COMMIT.
        try connection.run("pragma foreign_keys = off")
        defer { try? connection.run("pragma foreign_keys = on") }
        try connection.run("begin immediate")
        connection.writeLog.begin()
        do {
            // Another store or process may have applied it since the list was read.
            let recorded: String? = try connection.first(
                "select sha256 from _orion_migrations where feature = ? and idx = ?",
                [.text(feature), .integer(Int64(index))], access: .internal)
            if let recorded {
                try connection.run("rollback")
                connection.writeLog.discard()
                try Migrations.checkUnchanged(feature: feature, index: index, recorded: recorded, fingerprints: fingerprints)
                return
            }
            try connection.refreshRegistry()
            let before = try schema(connection)
            connection.touchedTables = []
            defer { connection.touchedTables = nil }
            let access = Access.migration(feature: feature, index: index)
            try connection.executeScript(entry, access: access)
            let after = try schema(connection)
            try checkBodies(before: before, after: after, access: access, on: connection)
            try register(feature: feature, before: before, after: after, on: connection)
            try connection.refreshRegistry()
            try checkFullTextContent(feature: feature, index: index, on: connection)
            let changed = Set(after.subtracting(before).filter { $0.type == "table" }.map { SQLName($0.name) })
            try checkForeignKeys(
                feature: feature, index: index, tables: changed.union(connection.touchedTables ?? []), on: connection)
            try connection.withStatement(
                "insert into _orion_migrations (feature, idx, sha256, applied_at) values (?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))",
                [.text(feature), .integer(Int64(index)), .text(fingerprint)], access: .internal
            ) { _ = try connection.execute($0) }
            try connection.run("commit")
            connection.announceCommit()
        } catch {
            if !connection.isAutocommit { try? connection.run("rollback") }
            connection.writeLog.discard()
            throw describe(error, feature: feature, index: index, entry: entry)
        }
    }

    /// A full-text index of the feature's over another feature's table (`content='people'`)
    /// would read that table's rows wherever the index is read: refused.
    private static func checkFullTextContent(feature: String, index: Int, on connection: SQLiteConnection) throws {
        let registry = connection.registry
        for (name, owner) in registry.owners where owner == feature {
            if let (content, contentOwner) = registry.foreignContent(of: name.original, for: feature) {
                throw StoreError(
                    .fence,
                    "migration \(feature)[\(index)] cannot make the virtual table '\(name.original)' over '\(content)' (which its module reads by itself): it belongs to \(contentOwner.hasPrefix("no feature") ? contentOwner : "feature '\(contentOwner)'"); index your own table, or ask its owner for what you need")
            }
        }
    }

    private static func describe(_ error: any Error, feature: String, index: Int, entry: String) -> StoreError {
        guard let error = error as? StoreError else {
            return StoreError(.migration, "migration \(feature)[\(index)] failed and was rolled back: \(error)", sql: entry)
        }
        if error.code == .fence || error.code == .transactionControl || error.message.hasPrefix("migration ") {
            return error.with(sql: entry)
        }
        // Changes that work on an empty table (development) and fail once it has rows (production).
        let rebuild =
            "or rebuild the table in one entry: create the new table, copy the rows, drop the old one, rename the new one (see \"Rebuilding a table\" in the migrations article)"
        let onlyEmpty: [(String, String)] = [
            (
                "Cannot add a column with non-constant default",
                "SQLite cannot add a column whose default is an expression, such as (datetime('now')), to a table that has rows (it worked where the table was empty). Give the column a constant default (default '' or default 0, then fill it with an update in the same entry), \(rebuild)"
            ),
            (
                "Cannot add a NOT NULL column with default value NULL",
                "SQLite cannot add a NOT NULL column without a default to a table that has rows (it worked where the table was empty). Give it a constant default (not null default ''), \(rebuild)"
            ),
            (
                "cannot add a STORED column",
                "SQLite cannot add a STORED generated column with ALTER TABLE to a table that has rows (it worked where the table was empty). Make it VIRTUAL, \(rebuild)"
            ),
        ]
        if let (_, advice) = onlyEmpty.first(where: { error.message.contains($0.0) }) {
            return StoreError(
                .migration, "migration \(feature)[\(index)] failed and was rolled back: \(advice)",
                sql: entry, sqliteCode: error.sqliteCode, sqliteCodeName: error.sqliteCodeName)
        }
        return .migrationFailed(feature: feature, index: index, reason: error.message, entry: entry, sqliteCode: error.sqliteCode, sqliteCodeName: error.sqliteCodeName)
    }

    private static func schema(_ connection: SQLiteConnection) throws -> Set<SchemaObject> {
        let objects: [SchemaObject] = try connection.all(
            "select type, name, tbl_name, sql from sqlite_schema where name not like 'sqlite\\_%' escape '\\'",
            [], access: .internal)
        return Set(objects)
    }

    /// View and trigger bodies are not authorized when they are created: compile what runs them
    /// (a select from the view; an insert, update and delete on the trigger's table) under the
    /// entry's fence.
    private static func checkBodies(
        before: Set<SchemaObject>, after: Set<SchemaObject>, access: Access, on connection: SQLiteConnection
    ) throws {
        for object in after.subtracting(before) {
            var probes: [String] = []
            switch object.type {
            case "view":
                probes = ["select * from \(SQLText.quoteIdentifier(object.name))"]
            case "trigger":
                let table = SQLText.quoteIdentifier(object.table)
                let columns: [String] = try connection.all(
                    "select name from pragma_table_xinfo(?) where hidden = 0", [.text(object.table)], access: .internal)
                probes = ["insert into \(table) default values", "delete from \(table)"]
                if !columns.isEmpty {
                    probes.append("update \(table) set " + columns.map { "\(SQLText.quoteIdentifier($0)) = \(SQLText.quoteIdentifier($0))" }.joined(separator: ", "))
                }
            default:
                continue
            }
            for probe in probes {
                switch connection.compileUnderFence(probe, access: access) {
                case .fine:
                    break
                case .refused(let refusal):
                    throw refusal
                case .failed(let reason):
                    guard case .migration(let feature, let index) = access else { throw reason }
                    throw StoreError(
                        .fence,
                        "migration \(feature)[\(index)]: the body of \(object.type) '\(object.name)' does not compile (\(reason.message)), so the fence cannot check what it touches; create what it uses in an earlier entry, or earlier in this one")
                }
            }
        }
    }

    /// Tables and views that appeared belong to `feature`; those that disappeared are forgotten.
    private static func register(
        feature: String, before: Set<SchemaObject>, after: Set<SchemaObject>, on connection: SQLiteConnection
    ) throws {
        let kinds: Set<String> = ["table", "view"]
        let beforeNames = Set(before.filter { kinds.contains($0.type) }.map { SQLName($0.name) })
        let afterObjects = after.filter { kinds.contains($0.type) }
        let afterNames = Set(afterObjects.map { SQLName($0.name) })
        for object in afterObjects where !beforeNames.contains(SQLName(object.name)) {
            try connection.withStatement(
                "insert or replace into _orion_tables (name, type, feature) values (?, ?, ?)",
                [.text(object.name), .text(object.type), .text(feature)], access: .internal
            ) { _ = try connection.execute($0) }
        }
        for name in beforeNames.subtracting(afterNames) {
            try connection.withStatement(
                "delete from _orion_tables where name = ?", [.text(name.original)], access: .internal
            ) { _ = try connection.execute($0) }
        }
    }

    private struct Violation: Decodable {
        let table: String
        let parent: String
    }

    /// The entry ran with foreign keys off: refuse it if the tables it touched, or their child
    /// tables, now hold rows whose parent is missing.
    private static func checkForeignKeys(
        feature: String, index: Int, tables: Set<SQLName>, on connection: SQLiteConnection
    ) throws {
        var check = tables
        for fk in connection.registry.foreignKeys where tables.contains(fk.parent) { check.insert(fk.child) }
        let existing: [String] = try connection.all(
            "select name from sqlite_schema where type = 'table'", [], access: .internal)
        for table in check.intersection(existing.map(SQLName.init)).map(\.original).sorted() {
            let violation: Violation? = try connection.first(
                "select \"table\" as \"table\", parent from pragma_foreign_key_check(?) limit 1",
                [.text(table)], access: .internal)
            if let violation {
                throw SQLiteCodes.error(
                    SQLiteCodes.constraintForeignKey,
                    "migration \(feature)[\(index)] leaves rows of table '\(violation.table)' whose parent in '\(violation.parent)' is missing (pragma foreign_key_check); it was rolled back")
            }
        }
    }
}
