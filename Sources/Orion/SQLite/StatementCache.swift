/// A bounded least-recently-used cache of prepared statements, one per connection.
///
/// Statements are keyed by SQL text and by the scope they were authorized for, so a statement
/// checked for one feature is never reused by another. A small front table keyed by the SQL
/// string's storage address answers the common case (the same string literal, again) without
/// hashing the text; the dictionary behind it answers the rest. Eviction (rare) scans for the
/// least recently used entry.
struct StatementCache {
    struct Key: Hashable {
        let sql: String
        let scope: Int
    }

    private struct FrontEntry {
        let key: Key
        let statement: SQLiteStatement
    }

    private static let frontSize = 64

    let capacity: Int
    private var entries: [Key: SQLiteStatement] = [:]
    private var front: [FrontEntry?] = Array(repeating: nil, count: StatementCache.frontSize)
    private var clock: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity >= 1, "the statement cache needs room for at least one statement")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The front-table slot for `sql`, when its text has a stable address (a literal or a
    /// native string); `nil` for small strings, whose bytes live inline.
    @inline(__always)
    private static func slot(_ sql: String, _ scope: Int) -> Int? {
        guard sql.utf8.count > 15,
            let address = sql.utf8.withContiguousStorageIfAvailable({ UInt(bitPattern: $0.baseAddress) })
        else { return nil }
        return Int(truncatingIfNeeded: (address >> 4) &+ UInt(bitPattern: scope) &* 31) & (frontSize - 1)
    }

    mutating func get(_ sql: String, scope: Int) -> SQLiteStatement? {
        let slot = Self.slot(sql, scope)
        if let slot, let entry = front[slot], entry.key.scope == scope, entry.key.sql == sql {
            clock &+= 1
            entry.statement.lastUsed = clock
            return entry.statement
        }
        let key = Key(sql: sql, scope: scope)
        guard let statement = entries[key] else { return nil }
        clock &+= 1
        statement.lastUsed = clock
        if let slot { front[slot] = FrontEntry(key: key, statement: statement) }
        return statement
    }

    /// Adds `statement`, evicting the least recently used one (which finalizes when released).
    mutating func put(_ sql: String, scope: Int, _ statement: SQLiteStatement) {
        // A statement in use when it is evicted stays alive with its user and is finalized after.
        if entries.count >= capacity,
            let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key
        {
            entries[oldest] = nil
            for i in front.indices where front[i]?.key == oldest { front[i] = nil }
        }
        clock &+= 1
        statement.lastUsed = clock
        let key = Key(sql: sql, scope: scope)
        entries[key] = statement
        if let slot = Self.slot(sql, scope) { front[slot] = FrontEntry(key: key, statement: statement) }
    }

    /// Forgets the statement of `sql` (finalized when its last user lets go).
    mutating func remove(_ sql: String, scope: Int) {
        let key = Key(sql: sql, scope: scope)
        entries[key] = nil
        for i in front.indices where front[i]?.key == key { front[i] = nil }
    }

    /// Finalizes every statement.
    mutating func removeAll() {
        entries.removeAll()
        front = Array(repeating: nil, count: Self.frontSize)
    }
}
