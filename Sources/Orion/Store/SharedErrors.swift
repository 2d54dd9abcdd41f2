/// Errors every adapter raises in the same words, so feature code and logs read the same
/// whichever database is underneath.
extension StoreError {
    /// The number of values differs from the number of `?` in the statement.
    package static func parameterCountMismatch(expected: Int, given: Int, sql: String) -> StoreError {
        StoreError(
            .parameterCount,
            "the statement has \(expected) '?' parameter\(expected == 1 ? "" : "s") but \(given) value\(given == 1 ? " was" : "s were") given",
            sql: sql)
    }

    /// `query`, `one` or `exec` got more than one statement.
    package static func multipleStatements(sql: String) -> StoreError {
        StoreError(
            .multipleStatements,
            "query, one and exec take exactly one statement; split the SQL into separate calls (a migration entry may hold several)",
            sql: sql)
    }

    /// `query`, `one` or `exec` got only whitespace and comments.
    package static func noStatement(sql: String) -> StoreError {
        StoreError(.sql, "the SQL holds no statement", sql: sql)
    }

    /// Inside a `tx` that shares the write queue's batch with other writes, a statement whose
    /// failure would roll back the whole transaction.
    /// A statement that writes, on a store opened read-only.
    package static func readOnlyStore(sql: String) -> StoreError {
        StoreError(.readOnly, "this store was opened read-only, and the statement writes; open the database with mode: .readWrite to write", sql: sql)
    }

    package static func rollbackInSharedBatch(sql: String) -> StoreError {
        StoreError(
            .misuse,
            "this statement can roll back the whole transaction (an OR ROLLBACK conflict clause, a constraint declared ON CONFLICT ROLLBACK, or RAISE(ROLLBACK) in a trigger), and inside tx it shares the write queue's batch with other callers' writes; run it outside tx (it then commits in a batch of its own), or use ABORT or FAIL",
            sql: sql)
    }

    /// `migrate` was called inside a `tx` body.
    package static func migrateInsideTransaction(feature: String) -> StoreError {
        StoreError(.misuse, "migrate(\"\(feature)\", …) cannot run inside tx: migrations commit on their own; call it at boot")
    }

    /// An entry of `migrate` failed for a reason other than the fence.
    package static func migrationFailed(
        feature: String, index: Int, reason: String, entry: String,
        sqliteCode: Int32? = nil, sqliteCodeName: String? = nil, sqlState: String? = nil, detail: String? = nil
    ) -> StoreError {
        StoreError(
            .migration, "migration \(feature)[\(index)] failed and was rolled back: \(reason)",
            sql: entry, sqliteCode: sqliteCode, sqliteCodeName: sqliteCodeName, sqlState: sqlState, detail: detail)
    }
}
