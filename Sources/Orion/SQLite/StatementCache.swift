/// A bounded least-recently-used cache of prepared statements, one per connection.
///
/// A hit is one dictionary lookup and a counter store; eviction (rare) scans for the oldest entry.
/// Statements are keyed by SQL text and by the scope they were authorized for, so a statement
/// checked for one feature is never reused by another.
struct StatementCache {
    struct Key: Hashable {
        let sql: String
        let scope: Int
    }

    let capacity: Int
    private var entries: [Key: SQLiteStatement] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity >= 1, "the statement cache needs room for at least one statement")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    mutating func get(_ key: Key) -> SQLiteStatement? {
        guard let statement = entries[key] else { return nil }
        clock &+= 1
        statement.lastUsed = clock
        return statement
    }

    /// Adds `statement`, evicting the least recently used one (which finalizes when released).
    mutating func put(_ key: Key, _ statement: SQLiteStatement) {
        // A statement in use when it is evicted stays alive with its user and is finalized after.
        if entries.count >= capacity,
           let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            entries[oldest] = nil
        }
        clock &+= 1
        statement.lastUsed = clock
        entries[key] = statement
    }

    /// Finalizes every statement.
    mutating func removeAll() {
        entries.removeAll()
    }
}
