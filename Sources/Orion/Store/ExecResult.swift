/// What a write statement did.
///
/// ```swift
/// let result = try store.exec("insert into todos (title) values (?)", "milk")
/// print(result.changes, result.lastId)   // 1, the new row's id
/// ```
public struct ExecResult: Sendable, Hashable {
    /// The rows this statement inserted, updated or deleted; 0 for DDL and reads.
    public let changes: Int
    /// The rowid of the row this statement inserted; 0 when it inserted none.
    public let lastId: Int64

    /// Creates a result.
    public init(changes: Int, lastId: Int64) {
        self.changes = changes
        self.lastId = lastId
    }
}
