internal import CSQLite

/// The storage class of one column of the current row.
enum ColumnType: Sendable {
    case null, integer, real, text, blob

    /// The storage class's SQL name, for messages.
    var sqlName: String {
        switch self {
        case .null: "NULL"
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text: "TEXT"
        case .blob: "BLOB"
        }
    }
}

/// Read access to the current row of a result, column by column, without materializing it.
///
/// A concrete enum rather than a protocol: the decoder is reached through `any Decoder`, where
/// generic code would run unspecialized; a switch per column read costs almost nothing.
enum RowSource {
    /// A stepping SQLite statement: values are read in place (``Cell``).
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

    /// Column `i` of the current row, read once for both its storage class and its value.
    @inline(__always)
    func cell(_ i: Int) -> Cell {
        switch self {
        case .statement(let handle): .sqlite(sqlite3_column_value(handle, Int32(i)))
        case .values(_, let values): .held(values[i])
        case .table(let table): .held(table.values[table.start + i])
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
        for i in 0..<columnCount { values.append(cell(i).value) }
        return Row(columns: names, values: values)
    }
}

/// One column of the current row: its storage class and its value.
///
/// A SQLite column is one `sqlite3_column_value` fetch, then `sqlite3_value_*` reads: each
/// `sqlite3_column_*` call looks the column up again and checks for an out-of-memory error, which
/// cost more than the read itself. SQLite calls that value "unprotected" because no connection
/// mutex guards it; Orion's connections are opened without one (`SQLITE_OPEN_NOMUTEX`) and used
/// by one thread at a time, and a cell is read before the statement steps or resets again.
enum Cell {
    case sqlite(OpaquePointer)
    case held(SQLValue)

    @inline(__always)
    var type: ColumnType {
        switch self {
        case .sqlite(let value):
            switch sqlite3_value_type(value) {
            case SQLITE_INTEGER: .integer
            case SQLITE_FLOAT: .real
            case SQLITE_TEXT: .text
            case SQLITE_BLOB: .blob
            default: .null
            }
        case .held(let value): value.columnType
        }
    }

    /// The integer; 0 unless ``type`` is `.integer`.
    @inline(__always)
    var int64: Int64 {
        switch self {
        case .sqlite(let value): return sqlite3_value_int64(value)
        case .held(let value):
            if case .integer(let v) = value { return v }
            return 0
        }
    }

    /// The number as a double; 0 unless ``type`` is `.real` or `.integer`.
    @inline(__always)
    var double: Double {
        switch self {
        case .sqlite(let value): return sqlite3_value_double(value)
        case .held(let value):
            switch value {
            case .real(let v): return v
            case .integer(let v): return Double(v)
            default: return 0
            }
        }
    }

    /// The text; "" unless ``type`` is `.text`.
    @inline(__always)
    var string: String {
        switch self {
        case .sqlite(let value):
            guard let text = sqlite3_value_text(value) else { return "" }
            let count = Int(sqlite3_value_bytes(value))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        case .held(let value):
            if case .text(let v) = value { return v }
            return ""
        }
    }

    /// The bytes of a blob (or of text).
    var bytes: [UInt8] {
        switch self {
        case .sqlite(let value):
            guard let blob = sqlite3_value_blob(value) else { return [] }
            let count = Int(sqlite3_value_bytes(value))
            return Array(UnsafeRawBufferPointer(start: blob, count: count))
        case .held(let value):
            switch value {
            case .blob(let v): return v
            case .text(let v): return Array(v.utf8)
            default: return []
            }
        }
    }

    /// The UTF-8 bytes of a text value, without copying where the source allows it.
    func withText<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch self {
        case .sqlite(let value):
            let text = sqlite3_value_text(value)
            let count = Int(sqlite3_value_bytes(value))
            return try body(UnsafeBufferPointer(start: text, count: text == nil ? 0 : count))
        case .held:
            var text = string
            return try text.withUTF8(body)
        }
    }

    var value: SQLValue {
        switch type {
        case .null: .null
        case .integer: .integer(int64)
        case .real: .real(double)
        case .text: .text(string)
        case .blob: .blob(bytes)
        }
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
        } catch  where decoder.metNullScalar {
            return nil
        }
    }
}
