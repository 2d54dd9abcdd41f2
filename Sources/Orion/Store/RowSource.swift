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
    /// A row of values (``Row/decode(_:)``, results of other adapters).
    case values(names: [String], values: [SQLValue])

    var columnCount: Int {
        switch self {
        case .statement(let handle): Int(sqlite3_column_count(handle))
        case .values(_, let values): values.count
        }
    }

    /// The column names in order. Called once per result, not per row.
    func columnNames() -> [String] {
        switch self {
        case .statement(let handle):
            (0..<Int(sqlite3_column_count(handle))).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
        case .values(let names, _):
            names
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
        case .values(_, let values):
            switch values[i] {
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
        case .values(_, let values):
            if case .integer(let v) = values[i] { return v }
            return 0
        }
    }

    @inline(__always)
    func double(at i: Int) -> Double {
        switch self {
        case .statement(let handle): return sqlite3_column_double(handle, Int32(i))
        case .values(_, let values):
            switch values[i] {
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
        case .values(_, let values):
            if case .text(let v) = values[i] { return v }
            return ""
        }
    }

    func bytes(at i: Int) -> [UInt8] {
        switch self {
        case .statement(let handle):
            guard let blob = sqlite3_column_blob(handle, Int32(i)) else { return [] }
            let count = Int(sqlite3_column_bytes(handle, Int32(i)))
            return Array(UnsafeRawBufferPointer(start: blob, count: count))
        case .values(_, let values):
            switch values[i] {
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
        case .values:
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
        if case .values(_, let values) = self { return Row(columns: names, values: values) }
        var values: [SQLValue] = []
        values.reserveCapacity(columnCount)
        for i in 0..<columnCount { values.append(value(at: i)) }
        return Row(columns: names, values: values)
    }
}
