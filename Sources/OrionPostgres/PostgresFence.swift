import Foundation
import Orion
import Synchronization

/// The fence on PostgreSQL: each feature's role, and PostgreSQL's refusals of a privilege
/// turned into the fence's errors, in the words SQLite's fence uses.
extension PostgresStore {
    /// The role of a feature: `orion_<feature>`, or for names too long for PostgreSQL's 63
    /// bytes, a prefix of it with a hash of the whole name.
    static func roleName(of feature: String) -> String {
        let name = "orion_" + feature
        guard name.utf8.count > 63 else { return name }
        return "orion_" + feature.prefix(40) + "_" + SHA256.hex(feature).prefix(16)
    }

    /// The relation a "permission denied" or "must be owner" message names.
    static func refusedRelation(in message: String) -> String? {
        let kinds = ["table ", "view ", "materialized view ", "sequence ", "relation ", "index ", "foreign table "]
        for prefix in ["permission denied for ", "must be owner of "] where message.hasPrefix(prefix) {
            let rest = message.dropFirst(prefix.count)
            for kind in kinds where rest.hasPrefix(kind) {
                let name = rest.dropFirst(kind.count)
                return name.isEmpty ? nil : String(name)
            }
        }
        return nil
    }

    /// Reads `_orion_tables` into ``owners`` (after a migration, and when a fence error needs it).
    func reloadOwners(_ connection: PostgresConnection) {
        connection.role = .unknown
        guard (try? connection.use(role: .login)) != nil,
            let rows = try? connection.simpleRows("select name, feature from _orion_tables")
        else { return }
        var map: [String: String] = [:]
        for row in rows {
            if let name = row[0], let feature = row[1] { map[name] = feature }
        }
        owners.withLock { $0 = map }
    }

    enum Ownership {
        case feature(String)
        /// No migration created it.
        case none
        /// Not in what was read last, and the registry cannot be read now (inside a transaction).
        case unknown
    }

    /// Who owns `table`: from `_orion_tables` when the connection can query now, else from
    /// what was read last.
    func owner(of table: String, connection: PostgresConnection, canQuery: Bool) -> Ownership {
        if canQuery { reloadOwners(connection) }
        if let owner = owners.withLock({ $0[table] ?? $0[table.lowercased()] }) { return .feature(owner) }
        return canQuery ? .none : .unknown
    }

    /// PostgreSQL's refusal of a privilege (SQLSTATE 42501) as the fence's error.
    func fenceError(
        _ error: StoreError, feature: String, migration index: Int?, words: [String],
        connection: PostgresConnection, canQuery: Bool
    ) -> StoreError {
        let sql = error.sql
        guard let table = Self.refusedRelation(in: error.message) else {
            let who = index.map { "migration \(feature)[\($0)]" } ?? "feature '\(feature)'"
            for prefix in ["permission denied for function ", "permission denied for procedure "] where error.message.hasPrefix(prefix) {
                return StoreError(
                    .fence,
                    "\(who) cannot call \(error.message.dropFirst(prefix.count)): it is another feature's, and on PostgreSQL a feature's functions run as that feature and only it (and the root store) may call them",
                    sql: sql, sqlState: error.sqlState)
            }
            return StoreError(
                .fence, "\(who) was refused by PostgreSQL's privileges (\(error.message)); a feature reaches only its own tables",
                sql: sql, sqlState: error.sqlState, detail: error.detail)
        }
        if table.lowercased().hasPrefix(FenceRefusal.reservedPrefix) {
            return StoreError(.fence, FenceRefusal.reserved(table: table).message, sql: sql, sqlState: error.sqlState)
        }
        let verb = StatementKind.verb(words)
        let who = index.map { "migration \(feature)[\($0)]" } ?? "feature '\(feature)'"
        let message: String
        switch owner(of: table, connection: connection, canQuery: canQuery) {
        case .feature(let owner) where owner != feature:
            message =
                index.map { FenceRefusal.migration(feature: feature, index: $0, verb: verb, table: table, owner: owner).message }
                ?? FenceRefusal.scoped(feature: feature, verb: verb, table: table, owner: owner).message
        case .feature, .unknown:
            message = "\(who) cannot \(verb) table '\(table)': it is not one of the feature's tables (PostgreSQL refused the feature's role)"
        case .none:
            message = "\(who) cannot \(verb) table '\(table)': no feature's migration created it, and on PostgreSQL a feature reaches only its own tables; create the table in a migration, or grant the role \(Self.roleName(of: feature)) access to it"
        }
        return StoreError(.fence, message, sql: sql, sqlState: error.sqlState)
    }
}
