internal import CSQLite
public import Foundation

/// A type that reads itself from a row by column position: the fast path for hot queries.
///
/// `Decodable` is the way to read rows, and stays so: columns are matched to properties by name,
/// and nothing is written by hand. For a query that runs thousands of times a second, a type can
/// also conform to `RowDecodable` and read its columns by position with typed accessors, as
/// GRDB's `init(row:)` does. `query` and `one` take the fast path for such a type — the same
/// calls, fenced and instrumented the same — and skip the `Decodable` machinery (containers,
/// coding keys, name lookups), which costs about as much as SQLite's own work for a small row:
///
/// ```swift
/// struct Item: Codable, RowDecodable {
///     var id: Int64
///     var name: String
///     var note: String?
///     var price: Double
///
///     init(row: RowReader) throws {
///         id = try row.int64(0)
///         name = try row.string(1)
///         note = try row.isNull(2) ? nil : row.string(2)
///         price = try row.double(3)
///     }
/// }
///
/// let item: Item? = try store.one("select id, name, note, price from items where id = ?", 7)
/// ```
///
/// Columns are read in the order the statement selects them, so the SQL and `init(row:)` must
/// agree: select the columns by name (never `select *`) and keep the query next to the type.
/// A column that is missing, `NULL` where a value is read, or of a type the accessor does not
/// take throws ``StoreError/Code/decoding``, naming the column, as the `Decodable` path does.
///
/// The protocol refines `Decodable`, so the type also works with an adapter that has no fast
/// path (it is decoded by name there) and in generic code over `Decodable`. Write the
/// conformance by hand for the queries that matter; everything else stays `Decodable`.
///
/// `one` returns `nil` when there is no row; a row is always read by `init(row:)`, so unlike a
/// `Decodable` scalar, a one-column `NULL` is not turned into `nil` (read it with
/// ``RowReader/isNull(_:)``). Conform your own types, not the standard library's: a
/// conformance of `Int` would change how every `one(…) as Int?` in the process reads.
public protocol RowDecodable: Decodable {
    /// Reads the current row; `row` is valid only during this call.
    init(row: RowReader) throws
}

/// The current row of a result, read by column position (counting from 0) with typed accessors.
///
/// The accessors convert as the `Decodable` path does: integers exactly (a `REAL` that is a
/// whole number is accepted, a fraction is refused), `Double` from `REAL` or `INTEGER`, `Bool`
/// from 0 or 1, `Date` from the text SQLite writes or Unix seconds. Use ``isNull(_:)`` for a
/// column that may be `NULL`, or ``decode(_:at:)`` for any other `Decodable` column type
/// (optionals, raw-value enums).
public struct RowReader {
    let decoder: RowDecoder
    /// The stepping SQLite statement, when the rows come from one: the common cases are read
    /// from it directly (one value fetch and a type check), the rest through the decoder.
    private let statement: OpaquePointer?
    private let columns: Int
    /// The decoder's ``RowDecoder/readerGeneration`` when this was made: valid while it holds.
    private let generation: UInt64

    init(_ decoder: RowDecoder) {
        self.decoder = decoder
        generation = decoder.readerGeneration
        if case .statement(let handle) = decoder.source { statement = handle } else { statement = nil }
        columns = decoder.names.count
    }

    /// Column `column`'s value on a SQLite statement when its storage class is `type`.
    @inline(__always)
    private func sqliteValue(_ column: Int, _ type: Int32) -> OpaquePointer? {
        guard let statement, let value = sqlite3_column_value(statement, Int32(column)), sqlite3_value_type(value) == type else {
            return nil
        }
        return value
    }

    /// The number of columns the statement returns.
    public var columnCount: Int { columns }

    /// The name of column `column`, as the statement returns it.
    public func name(_ column: Int) throws -> String {
        try check(column)
        return decoder.names[column]
    }

    /// Whether column `column` is `NULL`.
    public func isNull(_ column: Int) throws -> Bool {
        try check(column)
        return decoder.isNull(column)
    }

    public func int(_ column: Int) throws -> Int {
        try check(column)
        if let value = sqliteValue(column, SQLITE_INTEGER), let v = Int(exactly: sqlite3_value_int64(value)) { return v }
        return try decoder.integer(column, Int.self)
    }

    public func int64(_ column: Int) throws -> Int64 {
        try check(column)
        if let value = sqliteValue(column, SQLITE_INTEGER) { return sqlite3_value_int64(value) }
        return try decoder.integer(column, Int64.self)
    }

    public func double(_ column: Int) throws -> Double {
        try check(column)
        if let value = sqliteValue(column, SQLITE_FLOAT) { return sqlite3_value_double(value) }
        return try decoder.double(column)
    }

    public func string(_ column: Int) throws -> String {
        try check(column)
        if let value = sqliteValue(column, SQLITE_TEXT), let text = sqlite3_value_text(value) {
            return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_value_bytes(value))), as: UTF8.self)
        }
        return try decoder.string(column)
    }

    public func bool(_ column: Int) throws -> Bool {
        try check(column)
        return try decoder.bool(column)
    }

    public func data(_ column: Int) throws -> Data {
        try check(column)
        return try decoder.decodeColumn(Data.self, at: column)
    }

    public func date(_ column: Int) throws -> Date {
        try check(column)
        return try decoder.decodeColumn(Date.self, at: column)
    }

    public func uuid(_ column: Int) throws -> UUID {
        try check(column)
        return try decoder.decodeColumn(UUID.self, at: column)
    }

    /// Column `column` as it is stored.
    public func value(_ column: Int) throws -> SQLValue {
        try check(column)
        return decoder.source.cell(column).value
    }

    /// Column `column` decoded as `type`, as the `Decodable` path decodes one column: optionals
    /// (`String?.self`), raw-value enums, and the types of the other accessors.
    public func decode<T: Decodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        try check(column)
        return try decoder.decodeColumn(T.self, at: column)
    }

    @inline(__always)
    private func check(_ column: Int) throws {
        // A reader kept past init(row:) would read a statement reset for another result, or
        // finalized: a programming error, stopped here with its cause rather than in SQLite.
        precondition(
            decoder.readerGeneration == generation,
            "a RowReader was used after the init(row:) it was given returned; read every column inside init(row:) and keep the values, not the reader")
        guard column >= 0, column < columns else { throw outOfRange(column) }
    }

    private func outOfRange(_ column: Int) -> StoreError {
        decoder.failure(
            "init(row:) read column \(column), and the statement returns \(decoder.names.count) (\(decoder.names.joined(separator: ", "))), counted from 0; select the columns init(row:) reads, in its order")
    }
}

/// Calls a ``RowDecodable`` type's `init(row:)` from code that knows the type only as a
/// `Decodable` (the stores' generic `query` and `one`): made once per decoder, with the type's
/// conformance found once, so reading a row costs one call and no lookup.
class ReadsByPosition {
    static func make(for type: any RowDecodable.Type) -> ReadsByPosition { make(type) }

    private static func make<F: RowDecodable>(_ type: F.Type) -> ReadsByPosition { ReadsByPositionOf<F>() }

    /// Reads the current row as `T`, which is the type this was made for.
    func read<T>(_ row: RowReader, as type: T.Type) throws -> T { fatalError("abstract") }

    /// Reads the current row into `slot` (uninitialized; left so when it throws), whose type is
    /// the one this was made for: no copy of the value on the way.
    func read<T>(_ row: RowReader, into slot: UnsafeMutablePointer<T>) throws { fatalError("abstract") }
}

private final class ReadsByPositionOf<F: RowDecodable>: ReadsByPosition {
    override func read<T>(_ row: RowReader, as type: T.Type) throws -> T {
        // T is F: the decoder was made for T, and this for the decoder's target.
        precondition(T.self == F.self)
        return unsafeBitCast(try F(row: row), to: T.self)
    }

    override func read<T>(_ row: RowReader, into slot: UnsafeMutablePointer<T>) throws {
        precondition(T.self == F.self)
        UnsafeMutableRawPointer(slot).assumingMemoryBound(to: F.self).initialize(to: try F(row: row))
    }
}
