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
    /// Virtual table → the table its module reads by itself (an FTS index's `content=` table,
    /// the index an `fts4aux` or `fts5vocab` table reads; see ``VirtualTableSQL``). The module
    /// prepares those reads once per connection and reuses them unchecked, so reading the
    /// virtual table is reading that table.
    var contents: [SQLName: SQLName] = [:]
    /// Virtual table → its module, lowercased.
    var modules: [SQLName: String] = [:]
    /// The views of the database.
    var views: Set<SQLName> = []

    /// What reading `table` would read that `feature` may not: the table or view its module
    /// reads by itself, when another feature owns it or it is a view no feature owns (a view
    /// reads what its SQL says, and the module's reuse of it is never checked again).
    func foreignContent(of table: String, for feature: String) -> (table: String, owner: String)? {
        guard let content = contents[SQLName(table)] else { return nil }
        if let owner = owners[content] { return owner == feature ? nil : (content.original, owner) }
        return views.contains(content) ? (content.original, "no feature (a view the root store made)") : nil
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
    private struct Owner: Decodable {
        let name: String
        let feature: String
    }

    private struct Virtual: Decodable {
        let name: String
        let type: String
        let sql: String?
    }

    /// The shadow tables FTS4 and FTS5 make beside an index, by their name's ending.
    static let shadowSuffixes: [String: [String]] = [
        "fts5": ["_data", "_idx", "_content", "_docsize", "_config"],
        "fts4": ["_content", "_segments", "_segdir", "_docsize", "_stat"],
        "fts3": ["_content", "_segments", "_segdir", "_docsize", "_stat"],
    ]

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
        let objects: [Virtual] = try connection.all(
            "select name, type, sql from sqlite_schema where type = 'view' or type = 'table' and sql like 'create virtual table%'", [],
            access: .internal)
        for object in objects {
            let name = SQLName(object.name)
            if object.type == "view" {
                registry.views.insert(name)
                continue
            }
            guard let sql = object.sql, let virtual = VirtualTableSQL(sql) else { continue }
            registry.modules[name] = virtual.module
            if let reads = virtual.readsTable { registry.contents[name] = SQLName(reads) }
        }
        // A full-text index's shadow tables hold its words: they belong to whoever owns the index,
        // or — for an index the root store made over a feature's table — to that feature.
        for (index, module) in registry.modules {
            guard let suffixes = Self.shadowSuffixes[module] else { continue }
            guard let owner = registry.owners[index] ?? registry.contents[index].flatMap({ registry.owners[$0] }) else { continue }
            for suffix in suffixes where registry.owners[SQLName(index.original + suffix)] == nil {
                registry.owners[SQLName(index.original + suffix)] = owner
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
