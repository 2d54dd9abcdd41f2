internal import CLibPQ
import Orion

extension PostgresConnection {
    /// A statement of feature SQL on this connection: parsed once, prepared on its first run,
    /// with the table its results are read into (and that table's decoder).
    final class Entry {
        let statement: PostgresStatementText
        let kind: StatementKind
        /// The prepared statement's name, once PostgreSQL has it.
        @exclusivity(unchecked) var name: String?
        @exclusivity(unchecked) var table: ResultTable?
        @exclusivity(unchecked) var lastUsed: UInt64 = 0

        /// Whether the statement can write and return rows (`RETURNING`): an INSERT, UPDATE,
        /// DELETE or MERGE, or a WITH whose parts do one of those (its words read as PostgreSQL's
        /// lexer reads them, strings and comments left out).
        let writesRows: Bool
        /// Whether `exec` runs it: an INSERT then returns its row ids (see ``RowID``).
        let forExec: Bool
        /// Where an `exec`'s INSERT finds its `lastId`, once the statement is prepared.
        @exclusivity(unchecked) var rowID: RowID = .none

        /// The column an INSERT run by `exec` returns for `lastId`: the table's integer primary
        /// key (one column), else its first integer column a sequence fills (`serial`,
        /// identity) — the row id as SQLite's integer primary key is. With an upsert, also
        /// whether each row was inserted (`xmax = 0`), not updated.
        enum RowID {
            case none
            case column(String, upsert: Bool)

            var isColumn: Bool {
                if case .column = self { return true }
                return false
            }
        }

        init(statement: PostgresStatementText, forExec: Bool) {
            self.statement = statement
            self.forExec = forExec
            kind = StatementKind(statement)
            switch statement.words.first ?? "" {
            case "insert", "update", "delete", "merge":
                writesRows = true
            case "with":
                let words = PostgresCodeView.of(statement.original, readingStrings: false).split(separator: " ")
                writesRows = words.contains { ["insert", "update", "delete", "merge"].contains($0) }
            default:
                writesRows = false
            }
        }

        deinit {
            table?.releaseDecoder()
        }
    }

    /// A statement's place in the cache: its SQL, and whether `exec` runs it (an INSERT is then
    /// prepared with the `RETURNING` its `lastId` needs, which `query` must not see).
    /// A statement is prepared for one role: PostgreSQL checks some privileges (a schema's
    /// `USAGE`) when it prepares, as the role of the moment, so a statement the root store
    /// prepared is never run for a feature, nor the other way round.
    struct StatementKey: Hashable {
        let sql: String
        let exec: Bool
        let role: RoleState
    }

    /// The statements of one connection by SQL text, least recently used evicted first.
    struct StatementCache {
        private var entries: [StatementKey: Entry] = [:]
        private var clock: UInt64 = 0
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
        }

        /// The entry for `sql`, counted as used now.
        mutating func get(_ sql: StatementKey) -> Entry? {
            clock &+= 1
            guard let entry = entries[sql] else { return nil }
            entry.lastUsed = clock
            return entry
        }

        /// Adds `entry`; returns the one evicted to make room, if any.
        mutating func put(_ sql: StatementKey, _ entry: Entry) -> Entry? {
            clock &+= 1
            entry.lastUsed = clock
            var evicted: Entry?
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                entries[oldest.key] = nil
                evicted = oldest.value
            }
            entries[sql] = entry
            return evicted
        }

        mutating func remove(_ sql: StatementKey) -> Entry? {
            entries.removeValue(forKey: sql)
        }
    }

    /// The statement for `sql`: from the cache, or parsed (not yet prepared) and cached.
    func entry(for sql: String, exec: Bool, role: RoleState) throws -> Entry {
        let key = StatementKey(sql: sql, exec: exec, role: role)
        if let entry = statements.get(key) { return entry }
        let entry = Entry(statement: try PostgresSQL.single(sql), forExec: exec)
        if let evicted = statements.put(key, entry), let name = evicted.name {
            _ = try? simpleQuery("deallocate \(name)")
        }
        return entry
    }

    /// Forgets a prepared statement whose result shape changed under it (a table altered since).
    func forget(_ sql: String, exec: Bool, role: RoleState) {
        guard let entry = statements.remove(StatementKey(sql: sql, exec: exec, role: role)), let name = entry.name else { return }
        _ = try? simpleQuery("deallocate \(name)")
    }
}
