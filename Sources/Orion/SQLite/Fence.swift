internal import CSQLite

/// On whose behalf a statement is prepared; the authorizer decides by it.
enum Access {
    /// The store's own statements (transactions, bookkeeping): everything is allowed.
    case `internal`
    /// The unscoped store of the composition root: any table, but no transaction control,
    /// no `ATTACH`, no writes to `_orion_*`, no changes to the pragmas the store sets.
    case root
    /// A feature's scoped store: the root's rules, no DDL, and no table another feature owns.
    case scoped(Scope)
    /// A feature's migration entry: the root's rules, and no table another feature owns.
    case migration(feature: String, index: Int)

    /// The statement cache's key part; `nil` for statements that are not cached.
    var cacheScope: Int? {
        switch self {
        case .internal: -1
        case .root: 0
        case .scoped(let scope): scope.id
        case .migration: nil
        }
    }

    var feature: String? {
        switch self {
        case .internal, .root: nil
        case .scoped(let scope): scope.feature
        case .migration(let feature, _): feature
        }
    }
}

/// A feature name with a number that keys its cached statements.
final class Scope: Sendable {
    let feature: String
    let id: Int

    init(feature: String, id: Int) {
        self.feature = feature
        self.id = id
    }
}

/// A foreign key as `pragma foreign_key_list` reports it, with the parent's key columns resolved.
struct ForeignKey: Sendable, Equatable {
    let child: String
    let parent: String
    let childColumns: [String]
    let parentColumns: [String]
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
    /// Lowercased table or view name → owning feature.
    var owners: [String: String] = [:]
    var foreignKeys: [ForeignKey] = []

    func owner(of name: String) -> String? {
        owners[name] ?? owners[name.lowercased()]
    }
}

/// The fence's rules: what a statement prepared with some ``Access`` may do.
///
/// Called from SQLite's authorizer (`sqlite3_set_authorizer`) while a statement compiles, so it
/// sees what SQLite itself resolved (tables behind views and triggers included), never SQL text.
package enum Fence {
    /// Pragmas the store sets on every connection; feature SQL may read them, not set them.
    static let storePragmas: Set<String> = [
        "journal_mode", "synchronous", "foreign_keys", "busy_timeout", "locking_mode", "query_only",
        "writable_schema", "trusted_schema", "schema_version", "cell_size_check", "ignore_check_constraints",
        "legacy_alter_table", "recursive_triggers", "temp_store_directory", "data_store_directory",
    ]

    package static let reservedPrefix = "_orion_"

    /// Returns the reason to deny `action`, or `nil` to allow it.
    ///
    /// - Parameters:
    ///   - a1: SQLite's first string: the object (table, index, pragma …).
    ///   - a2: Its detail: the column, the table of an index or trigger, or a pragma's value.
    static func check(
        _ action: Int32, _ a1: String?, _ a2: String?,
        access: Access, registry: Registry
    ) -> StoreError? {
        if case .internal = access { return nil }
        switch action {
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT:
            return transactionControlRefusal
        case SQLITE_ATTACH, SQLITE_DETACH:
            return StoreError(.fence, "ATTACH and DETACH are refused to feature SQL: an attached database would step around the fence")
        case SQLITE_PRAGMA:
            guard let name = a1?.lowercased() else { return nil }
            if name == "writable_schema" || (a2 != nil && storePragmas.contains(name)) {
                return StoreError(.misuse, "pragma \(name) is set by the store on every connection; feature SQL may not change it")
            }
            return nil
        default:
            break
        }
        if let denial = checkReserved(action, a1, a2) { return denial }
        switch access {
        case .internal, .root:
            return nil
        case .scoped(let scope):
            if isDDL(action) { return schemaChangeRefusal(feature: scope.feature) }
            return checkTables(action, a1, a2, feature: scope.feature, registry: registry) {
                scopedRefusal(feature: scope.feature, verb: $0, table: $1, owner: $2).message
            }
        case .migration(let feature, let index):
            return checkMigration(action, a1, a2, feature: feature, registry: registry) {
                migrationRefusal(feature: feature, index: index, verb: $0, table: $1, owner: $2).message
            }
        }
    }

    // The fence's errors, in the words every adapter uses.

    /// Feature SQL wrote BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE.
    package static let transactionControlRefusal = StoreError(
        .transactionControl,
        "transaction control belongs to the store: wrap the work in tx { … } instead of writing BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE")

    /// A scoped store ran DDL.
    package static func schemaChangeRefusal(feature: String) -> StoreError {
        StoreError(
            .fence,
            "feature '\(feature)' ran a schema change through its scoped store; schema changes go through migrate(\"\(feature)\", …)")
    }

    /// A scoped store touched a table another feature owns.
    package static func scopedRefusal(feature: String, verb: String, table: String, owner: String) -> StoreError {
        StoreError(
            .fence,
            "feature '\(feature)' cannot \(verb) table '\(table)': it belongs to feature '\(owner)'; call the owner's functions on its scoped store")
    }

    /// A migration entry touched a table another feature owns.
    package static func migrationRefusal(feature: String, index: Int, verb: String, table: String, owner: String) -> StoreError {
        StoreError(.fence, "migration \(feature)[\(index)] cannot \(verb) table '\(table)': it belongs to feature '\(owner)'")
    }

    /// Feature SQL tried to change a table of the store's own bookkeeping.
    package static func reservedRefusal(table: String) -> StoreError {
        StoreError(.fence, "tables named \(reservedPrefix)* belong to the store; feature SQL cannot change '\(table)'")
    }

    /// A scoped store was asked to migrate another feature.
    package static func foreignMigrateRefusal(scope: String, feature: String) -> StoreError {
        StoreError(
            .fence,
            "the store scoped to feature '\(scope)' cannot migrate feature '\(feature)'; migrate it through its own scoped store or the root store")
    }

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
        guard let target, target.lowercased().hasPrefix(reservedPrefix) else { return nil }
        return reservedRefusal(table: target)
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
    ) -> StoreError? {
        func guardOwner(_ verb: String, _ table: String?) -> StoreError? {
            guard let table, let owner = registry.owner(of: table), owner != feature else { return nil }
            return StoreError(.fence, message(verb, table, owner))
        }
        switch action {
        case SQLITE_CREATE_INDEX, SQLITE_CREATE_TEMP_INDEX: return guardOwner("index", a2)
        case SQLITE_CREATE_TRIGGER, SQLITE_CREATE_TEMP_TRIGGER: return guardOwner("put a trigger on", a2)
        case SQLITE_ALTER_TABLE: return guardOwner("alter", a2)
        case SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_TABLE: return guardOwner("drop", a1)
        case SQLITE_DROP_VIEW, SQLITE_DROP_TEMP_VIEW: return guardOwner("drop", a1)
        case SQLITE_DROP_INDEX, SQLITE_DROP_TEMP_INDEX: return guardOwner("drop an index of", a2)
        case SQLITE_DROP_TRIGGER, SQLITE_DROP_TEMP_TRIGGER: return guardOwner("drop a trigger of", a2)
        default:
            return checkTables(action, a1, a2, feature: feature, registry: registry, message: message)
        }
    }

    /// Reads and writes of tables: a foreign table is refused unless the access is SQLite
    /// enforcing a foreign key that links it with one of the feature's own tables.
    private static func checkTables(
        _ action: Int32, _ a1: String?, _ a2: String?, feature: String, registry: Registry,
        message: (String, String, String) -> String
    ) -> StoreError? {
        let verb: String
        switch action {
        case SQLITE_READ: verb = "read"
        case SQLITE_INSERT: verb = "insert into"
        case SQLITE_UPDATE: verb = "update"
        case SQLITE_DELETE: verb = "delete from"
        default: return nil
        }
        guard let table = a1, let owner = registry.owner(of: table), owner != feature else { return nil }
        if isEnforcement(action, table: table, column: a2, feature: feature, registry: registry) { return nil }
        return StoreError(.fence, message(verb, table, owner))
    }

    /// Whether SQLite would make this access to enforce a foreign key between `table` and a
    /// table of `feature`: reading the parent's key for a child row, reading the child's key
    /// columns for a parent change, or the child-side writes of `on delete`/`on update` actions.
    static func isEnforcement(
        _ action: Int32, table: String, column: String?, feature: String, registry: Registry
    ) -> Bool {
        let name = table.lowercased()
        let col = column?.lowercased()
        // The other end of the key is one the feature may write: its own table, or one no
        // feature owns.
        func writable(_ table: String) -> Bool {
            let owner = registry.owner(of: table)
            return owner == nil || owner == feature
        }
        for fk in registry.foreignKeys {
            if action == SQLITE_READ, fk.parent == name, writable(fk.child),
               let col, fk.parentColumns.contains(col) {
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
