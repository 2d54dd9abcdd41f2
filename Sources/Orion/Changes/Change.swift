/// One commit, as a subscriber of ``SQLiteStore/changes()`` sees it: the tables it wrote.
///
/// ```swift
/// for await change in store.changes(to: ["todos"]) {
///     render(change.tables)          // ["todos"], or more when several commits were merged
/// }
/// ```
///
/// A subscriber that falls behind receives the commits it missed merged into one `Change`, so
/// its memory stays bounded however fast others write.
public struct Change: Sendable, Hashable {
    /// The tables the commit wrote — directly, or through triggers and foreign-key cascades —
    /// by the names the database gives them. For a commit made elsewhere (another store or
    /// process), whose tables are not known, every table the subscriber asked for (for
    /// ``SQLiteStore/changes()``, every table of the database).
    public let tables: Set<String>
    /// Whether a commit made elsewhere is in it: another store or process on the same file, or
    /// (PostgreSQL) commits the listener may have missed while it reconnected.
    public let isExternal: Bool

    /// Creates a change.
    public init(tables: Set<String>, isExternal: Bool = false) {
        self.tables = tables
        self.isExternal = isExternal
    }

    /// This change and `other`, as one.
    func merged(with other: Change) -> Change {
        Change(tables: tables.union(other.tables), isExternal: isExternal || other.isExternal)
    }
}
