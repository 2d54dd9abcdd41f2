/// The fence's refusals, in the words every adapter uses, so feature code and logs read the same
/// whichever database enforces it (SQLite's authorizer, PostgreSQL's privileges).
package enum FenceRefusal {
    /// The prefix of the store's own tables (`_orion_migrations`, `_orion_tables`).
    package static let reservedPrefix = "_orion_"

    /// Feature SQL wrote BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE.
    package static let transactionControl = StoreError(
        .transactionControl,
        "transaction control belongs to the store: wrap the work in tx { … } instead of writing BEGIN, COMMIT, ROLLBACK, SAVEPOINT or RELEASE")

    /// A scoped store ran DDL.
    package static func schemaChange(feature: String) -> StoreError {
        StoreError(
            .fence,
            "feature '\(feature)' ran a schema change through its scoped store; schema changes go through migrate(\"\(feature)\", …)")
    }

    /// A scoped store touched a table another feature owns.
    package static func scoped(feature: String, verb: String, table: String, owner: String) -> StoreError {
        StoreError(
            .fence,
            "feature '\(feature)' cannot \(verb) table '\(table)': it belongs to feature '\(owner)'; call the owner's functions on its scoped store")
    }

    /// A migration entry touched a table another feature owns.
    package static func migration(feature: String, index: Int, verb: String, table: String, owner: String) -> StoreError {
        StoreError(.fence, "migration \(feature)[\(index)] cannot \(verb) table '\(table)': it belongs to feature '\(owner)'")
    }

    /// Feature SQL tried to change a table of the store's own bookkeeping.
    package static func reserved(table: String) -> StoreError {
        StoreError(.fence, "tables named \(reservedPrefix)* belong to the store; feature SQL cannot change '\(table)'")
    }

    /// A scoped store was asked to migrate another feature.
    package static func foreignMigrate(scope: String, feature: String) -> StoreError {
        StoreError(
            .fence,
            "the store scoped to feature '\(scope)' cannot migrate feature '\(feature)'; migrate it through its own scoped store or the root store")
    }
}
