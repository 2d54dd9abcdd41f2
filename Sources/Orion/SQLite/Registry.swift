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
    /// Table or view name → owning feature.
    var owners: [SQLName: String] = [:]
    /// Trigger name → the table it is on (a trigger belongs to its table's feature).
    var triggerTables: [SQLName: SQLName] = [:]
    var foreignKeys: [ForeignKey] = []

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
