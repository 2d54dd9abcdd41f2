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

    var isMigration: Bool {
        if case .migration = self { return true }
        return false
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
