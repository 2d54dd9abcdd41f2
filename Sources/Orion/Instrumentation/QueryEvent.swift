public import Foundation

/// One statement the store ran: what a query panel shows and what metrics count.
///
/// ```swift
/// let store = InstrumentedStore(base, sample: 1) { event in
///     print(event.kind, event.sql, event.rows, event.duration)
/// }
/// ```
///
/// Parameter values are never recorded in any field: only the parameterized SQL and how many
/// parameters it had.
public struct QueryEvent: Sendable, Hashable, Codable {
    /// Whether the call read (`query`, `one`) or wrote (`exec`).
    public enum Kind: String, Sendable, Hashable, Codable {
        case read, write
    }

    /// The SQL as written, with its `?` placeholders.
    public let sql: String
    /// How many parameters were bound.
    public let paramCount: Int
    /// Rows returned (`query`, `one`) or changed (`exec`); 0 when the call failed.
    public let rows: Int
    /// How long the call took, waiting for a connection included.
    public let duration: Duration
    /// Read or write.
    public let kind: Kind
    /// When the call started (wall clock).
    public let start: Date
    /// The failure's ``StoreError/Code`` name (or the error's type), when the call failed.
    public let error: String?
    /// The feature of the scoped store the call went through, when known.
    public let feature: String?

    /// Creates an event.
    public init(
        sql: String, paramCount: Int, rows: Int, duration: Duration, kind: Kind, start: Date,
        error: String? = nil, feature: String? = nil
    ) {
        self.sql = sql
        self.paramCount = paramCount
        self.rows = rows
        self.duration = duration
        self.kind = kind
        self.start = start
        self.error = error
        self.feature = feature
    }

    /// Whether the call failed.
    public var failed: Bool { error != nil }
}
