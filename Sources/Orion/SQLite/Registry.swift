import Foundation

/// A foreign key as `pragma foreign_key_list` reports it, with the parent's key columns resolved.
struct ForeignKey: Sendable, Equatable {
    let child: SQLName
    let parent: SQLName
    let childColumns: [SQLName]
    let parentColumns: [SQLName]
    /// `on delete cascade`: deleting a parent row deletes child rows.
    let deletesChild: Bool
    /// `on delete set null|set default` or any `on update` action: a parent change updates child rows.
    let updatesChild: Bool
}

/// Which feature owns which table or view, and the foreign keys between tables: what the
/// authorizer consults. Loaded from `_orion_tables` and SQLite's own catalog.
struct Registry: Sendable {
    /// `pragma schema_version` when this was loaded; -1 before the first load.
    var schemaVersion: Int64 = -1
    /// Whether it was read inside a transaction: then it describes a schema that a rollback can
    /// take back, after which another connection may commit the same version number with other
    /// tables. A rollback on the connection forgets such a record (see
    /// ``SQLiteConnection/forgetTentativeRegistry()``).
    var tentative = false
    /// Which load of this connection's this is: what a statement's proof is kept against (a
    /// schema version can repeat; a load never does). -2 before the first load.
    var generation: Int64 = -2
    /// Table or view name → owning feature.
    var owners: [SQLName: String] = [:]
    /// Trigger name → the table it is on (a trigger belongs to its table's feature).
    var triggerTables: [SQLName: SQLName] = [:]
    var foreignKeys: [ForeignKey] = []
    /// Full-text index (an FTS4 or FTS5 virtual table) → the table it reads its rows from (its
    /// `content=` option). FTS prepares its own reads of that table once per connection and
    /// reuses them unchecked, so reading the index is reading that table.
    var contents: [SQLName: SQLName] = [:]

    /// The feature that owns the table `index` reads its content from, when that is not
    /// `feature`: reading `index` would read another feature's rows.
    func foreignContent(of index: String, for feature: String) -> (table: String, owner: String)? {
        guard let content = contents[SQLName(index)], let owner = owners[content], owner != feature else { return nil }
        return (content.original, owner)
    }

    func owner(of name: String) -> String? {
        owners[SQLName(name)]
    }

    /// The feature whose code a trigger or view is: the owner of the trigger's table, or of the
    /// view; `nil` for the store's own, or code no feature's migration created.
    func owner(ofCode name: String) -> String? {
        let key = SQLName(name)
        if let table = triggerTables[key] { return owners[table] }
        return owners[key]
    }
}

/// Reading the registry: `_orion_tables`, and the foreign keys from SQLite's own catalog.
extension Registry {
    /// The table an FTS4 or FTS5 virtual table reads its content from (`content='people'`,
    /// quoted any way SQLite accepts, or bare), from its `CREATE VIRTUAL TABLE` statement; `nil`
    /// for other modules and for contentless or self-contained indexes.
    static func contentTable(ofVirtualTable sql: String) -> String? {
        let bytes = Array(sql.utf8)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close
        else { return nil }
        let head = String(decoding: bytes[..<open], as: UTF8.self).lowercased()
        guard let using = head.range(of: "using", options: .backwards) else { return nil }
        let module = head[using.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        guard module == "fts4" || module == "fts5" else { return nil }
        // The arguments, split at commas outside quotes and brackets.
        var arguments: [[UInt8]] = [[]]
        var quote: UInt8?
        for byte in bytes[(open + 1)..<close] {
            if let q = quote {
                if byte == q { quote = nil }
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "`") {
                quote = byte
            } else if byte == UInt8(ascii: "[") {
                quote = UInt8(ascii: "]")
            } else if byte == UInt8(ascii: ",") {
                arguments.append([])
                continue
            }
            arguments[arguments.count - 1].append(byte)
        }
        for argument in arguments {
            let text = String(decoding: argument, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            let key = text[..<equals].trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            guard key == "content" else { continue }
            let value = unquoted(text[text.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// An SQL name or string without its quotes ('…', "…", `…`, […]), doubled quotes undone.
    private static func unquoted(_ text: String) -> String {
        guard let first = text.first, let last = text.last, text.count >= 2 else { return text }
        switch (first, last) {
        case ("'", "'"), ("\"", "\""), ("`", "`"):
            return String(text.dropFirst().dropLast()).replacing(String([first, first]), with: String(first))
        case ("[", "]"):
            return String(text.dropFirst().dropLast())
        default:
            return text
        }
    }

    private struct Owner: Decodable {
        let name: String
        let feature: String
    }

    private struct Virtual: Decodable {
        let name: String
        let sql: String?
    }

    private struct Trigger: Decodable {
        let name: String
        let table: String

        enum CodingKeys: String, CodingKey {
            case name
            case table = "tbl_name"
        }
    }

    private struct Link: Decodable {
        let child: String
        let id: Int
        let parent: String
        let from: String
        let to: String?
        let onUpdate: String
        let onDelete: String

        enum CodingKeys: String, CodingKey {
            case child, id, parent, from, to
            case onUpdate = "on_update"
            case onDelete = "on_delete"
        }
    }

    /// Reads who owns what, and every foreign key, on `connection`.
    static func load(from connection: SQLiteConnection, schemaVersion: Int64) throws -> Registry {
        var registry = Registry(schemaVersion: schemaVersion)
        let hasRegistry: Int? = try connection.first(
            "select 1 from sqlite_schema where type = 'table' and name = '_orion_tables'", [], access: .internal)
        if hasRegistry != nil {
            let owners: [Owner] = try connection.all("select name, feature from _orion_tables", [], access: .internal)
            for owner in owners { registry.owners[SQLName(owner.name)] = owner.feature }
        }
        let links: [Link] = try connection.all(
            """
            select m.name as child, f.id as id, f."table" as parent, f."from" as "from", f."to" as "to",
                   f.on_update as on_update, f.on_delete as on_delete
            from sqlite_schema m join pragma_foreign_key_list(m.name) f
            where m.type = 'table'
            order by m.name, f.id, f.seq
            """, [], access: .internal)
        let triggers: [Trigger] = try connection.all(
            "select name, tbl_name from sqlite_schema where type = 'trigger'", [], access: .internal)
        let virtuals: [Virtual] = try connection.all(
            "select name, sql from sqlite_schema where type = 'table' and sql like 'create virtual table%'", [],
            access: .internal)
        for virtual in virtuals {
            if let sql = virtual.sql, let content = Self.contentTable(ofVirtualTable: sql) {
                registry.contents[SQLName(virtual.name)] = SQLName(content)
            }
        }
        for trigger in triggers { registry.triggerTables[SQLName(trigger.name)] = SQLName(trigger.table) }
        var index = 0
        while index < links.count {
            let first = links[index]
            var childColumns: [SQLName] = []
            var parentColumns: [SQLName?] = []
            while index < links.count, SQLName(links[index].child) == SQLName(first.child), links[index].id == first.id {
                childColumns.append(SQLName(links[index].from))
                parentColumns.append(links[index].to.map(SQLName.init))
                index += 1
            }
            var resolved = parentColumns.compactMap { $0 }
            if resolved.count != parentColumns.count {
                // `references parent` without columns means the parent's primary key.
                let keys: [String] = try connection.all(
                    "select name from pragma_table_info(?) where pk > 0 order by pk",
                    [.text(first.parent)], access: .internal)
                resolved = keys.map(SQLName.init)
            }
            let changesChild: Set<String> = ["CASCADE", "SET NULL", "SET DEFAULT"]
            registry.foreignKeys.append(
                ForeignKey(
                    child: SQLName(first.child),
                    parent: SQLName(first.parent),
                    childColumns: childColumns,
                    parentColumns: resolved,
                    deletesChild: first.onDelete.uppercased() == "CASCADE",
                    updatesChild: ["SET NULL", "SET DEFAULT"].contains(first.onDelete.uppercased())
                        || changesChild.contains(first.onUpdate.uppercased())))
        }
        return registry
    }
}
