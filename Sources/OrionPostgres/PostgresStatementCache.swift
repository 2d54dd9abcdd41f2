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

        init(statement: PostgresStatementText) {
            self.statement = statement
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

    /// The statements of one connection by SQL text, least recently used evicted first.
    struct StatementCache {
        private var entries: [String: Entry] = [:]
        private var clock: UInt64 = 0
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
        }

        /// The entry for `sql`, counted as used now.
        mutating func get(_ sql: String) -> Entry? {
            clock &+= 1
            guard let entry = entries[sql] else { return nil }
            entry.lastUsed = clock
            return entry
        }

        /// Adds `entry`; returns the one evicted to make room, if any.
        mutating func put(_ sql: String, _ entry: Entry) -> Entry? {
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

        mutating func remove(_ sql: String) -> Entry? {
            entries.removeValue(forKey: sql)
        }
    }

    /// The statement for `sql`: from the cache, or parsed (not yet prepared) and cached.
    func entry(for sql: String) throws -> Entry {
        if let entry = statements.get(sql) { return entry }
        let entry = Entry(statement: try PostgresSQL.single(sql))
        if let evicted = statements.put(sql, entry), let name = evicted.name {
            _ = try? simpleQuery("deallocate \(name)")
        }
        return entry
    }

    /// Forgets a prepared statement whose result shape changed under it (a table altered since).
    func forget(_ sql: String) {
        guard let entry = statements.remove(sql), let name = entry.name else { return }
        _ = try? simpleQuery("deallocate \(name)")
    }
}
