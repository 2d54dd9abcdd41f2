internal import CSQLite

/// The storage class of one column of the current row.
enum ColumnType: Sendable {
    case null, integer, real, text, blob
}

/// Read access to the current row of a result, column by column, without materializing it.
///
/// A concrete enum rather than a protocol: the decoder is reached through `any Decoder`, where
/// generic code would run unspecialized; a switch per column read costs almost nothing.
enum RowSource {
    /// A stepping SQLite statement: values are read straight from `sqlite3_column_*`.
    case statement(OpaquePointer)
    /// A row of values (``Row/decode(_:)``).
    case values(names: [String], values: [SQLValue])
    /// The current row of a whole result another adapter fetched (``ResultTable``).
    case table(ResultTable)

    var columnCount: Int {
        switch self {
        case .statement(let handle): Int(sqlite3_column_count(handle))
        case .values(_, let values): values.count
        case .table(let table): table.columnCount
        }
    }

    /// The column names in order. Called once per result, not per row.
    func columnNames() -> [String] {
        switch self {
        case .statement(let handle):
            (0..<Int(sqlite3_column_count(handle))).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
        case .values(let names, _):
            names
        case .table(let table):
            table.names
        }
    }

    /// The value of column `i` for the cases that hold values.
    @inline(__always)
    private func held(_ i: Int) -> SQLValue {
        switch self {
        case .statement: .null
        case .values(_, let values): values[i]
        case .table(let table): table.values[table.start + i]
        }
    }

    @inline(__always)
    func type(at i: Int) -> ColumnType {
        switch self {
        case .statement(let handle):
            switch sqlite3_column_type(handle, Int32(i)) {
            case SQLITE_INTEGER: .integer
            case SQLITE_FLOAT: .real
            case SQLITE_TEXT: .text
            case SQLITE_BLOB: .blob
            default: .null
            }
        case .values, .table:
            switch held(i) {
            case .null: .null
            case .integer: .integer
            case .real: .real
            case .text: .text
            case .blob: .blob
            }
        }
    }

    @inline(__always)
    func int64(at i: Int) -> Int64 {
        switch self {
        case .statement(let handle): return sqlite3_column_int64(handle, Int32(i))
        case .values, .table:
            if case .integer(let v) = held(i) { return v }
            return 0
        }
    }

    @inline(__always)
    func double(at i: Int) -> Double {
        switch self {
        case .statement(let handle): return sqlite3_column_double(handle, Int32(i))
        case .values, .table:
            switch held(i) {
            case .real(let v): return v
            case .integer(let v): return Double(v)
            default: return 0
            }
        }
    }

    @inline(__always)
    func string(at i: Int) -> String {
        switch self {
        case .statement(let handle):
            guard let text = sqlite3_column_text(handle, Int32(i)) else { return "" }
            let count = Int(sqlite3_column_bytes(handle, Int32(i)))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        case .values, .table:
            if case .text(let v) = held(i) { return v }
            return ""
        }
    }

    func bytes(at i: Int) -> [UInt8] {
        switch self {
        case .statement(let handle):
            guard let blob = sqlite3_column_blob(handle, Int32(i)) else { return [] }
            let count = Int(sqlite3_column_bytes(handle, Int32(i)))
            return Array(UnsafeRawBufferPointer(start: blob, count: count))
        case .values, .table:
            switch held(i) {
            case .blob(let v): return v
            case .text(let v): return Array(v.utf8)
            default: return []
            }
        }
    }

    /// The UTF-8 bytes of a text column, without copying where the source allows it.
    func withText<R>(at i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch self {
        case .statement(let handle):
            let text = sqlite3_column_text(handle, Int32(i))
            let count = Int(sqlite3_column_bytes(handle, Int32(i)))
            return try body(UnsafeBufferPointer(start: text, count: text == nil ? 0 : count))
        case .values, .table:
            var text = string(at: i)
            return try text.withUTF8(body)
        }
    }

    func value(at i: Int) -> SQLValue {
        switch type(at: i) {
        case .null: .null
        case .integer: .integer(int64(at: i))
        case .real: .real(double(at: i))
        case .text: .text(string(at: i))
        case .blob: .blob(bytes(at: i))
        }
    }

    func row(names: [String]) -> Row {
        switch self {
        case .values(_, let values): return Row(columns: names, values: values)
        case .table(let table): return Row(columns: names, values: Array(table.values[table.start..<table.start + table.columnCount]))
        case .statement: break
        }
        var values: [SQLValue] = []
        values.reserveCapacity(columnCount)
        for i in 0..<columnCount { values.append(value(at: i)) }
        return Row(columns: names, values: values)
    }
}

/// The rows of one statement of an adapter outside this module (PostgreSQL's), row after row
/// in one array, with a cursor: one decoder reads every row in place, as it reads a stepping
/// SQLite statement. Kept with the adapter's prepared statement, it is refilled by each run,
/// and its decoder (with the key positions it learned) is reused while the type is the same.
///
/// Not `Sendable`: it is used only by the thread that holds its connection. Call
/// ``releaseDecoder()`` when the statement goes away (decoder and table refer to each other).
package final class ResultTable {
    /// The column names, in result order.
    package let names: [String]
    package let columnCount: Int
    /// Every row's values, row after row; refill with ``load(_:)``.
    @exclusivity(unchecked) package private(set) var values: [SQLValue] = []
    /// The number of rows.
    @exclusivity(unchecked) package private(set) var rowCount = 0
    /// Where the current row starts in ``values``.
    @exclusivity(unchecked) var start = 0
    @exclusivity(unchecked) private var decoder: RowDecoder?

    package init(names: [String]) {
        self.names = names
        columnCount = names.count
    }

    /// Replaces the rows: `fill` appends `rows × columnCount` values to the emptied buffer.
    package func load(rows: Int, _ fill: (inout [SQLValue]) -> Void) {
        values.removeAll(keepingCapacity: true)
        values.reserveCapacity(rows * columnCount)
        fill(&values)
        rowCount = rows
        start = 0
    }

    /// Breaks the cycle between this table and its cached decoder.
    package func releaseDecoder() {
        decoder?.releaseContainer()
        decoder = nil
    }

    private func decoder(for type: Any.Type) -> RowDecoder {
        if let decoder, decoder.target == type { return decoder }
        releaseDecoder()
        let fresh = RowDecoder(.table(self), names: names, for: type)
        decoder = fresh
        return fresh
    }

    /// Decodes every row into `T`, with the rules of ``Store/query(_:_:)-(String,[SQLValue])``.
    package func decodeAll<T: Decodable>(as type: T.Type) throws -> [T] {
        guard rowCount > 0 else { return [] }
        let decoder = decoder(for: T.self)
        // The count is known: fill the array in place (no `append`, which looks up `Array<T>`'s
        // metadata on every row in this unspecialized code).
        return try [T](unsafeUninitializedCapacity: rowCount) { rows, initialized in
            for row in 0..<rowCount {
                start = row * columnCount
                (rows.baseAddress! + row).initialize(to: try decoder.decodeRow(T.self))
                initialized = row + 1
            }
        }
    }

    /// Decodes the first row into `T`; `nil` for no row or a one-column NULL, as ``Store/one(_:_:)-(String,[SQLValue])``.
    package func decodeFirst<T: Decodable>(as type: T.Type) throws -> T? {
        guard rowCount > 0 else { return nil }
        let decoder = decoder(for: T.self)
        start = 0
        do {
            return try decoder.decodeRow(T.self)
        } catch where decoder.metNullScalar {
            return nil
        }
    }
}
