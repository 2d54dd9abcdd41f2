/// The storage class of one column of the current row.
enum ColumnType: Sendable {
    case null, integer, real, text, blob
}

/// Read access to the current row of a result, column by column, without materializing it.
///
/// The SQLite statement is one (values are read straight from `sqlite3_column_*`); a row of
/// ``SQLValue``s is another (``Row/decode(_:)``, PostgreSQL results).
protocol RowSource {
    var columnCount: Int { get }
    /// The column names in order. Called once per result, not per row.
    func columnNames() -> [String]
    func type(at i: Int) -> ColumnType
    func int64(at i: Int) -> Int64
    func double(at i: Int) -> Double
    func string(at i: Int) -> String
    func bytes(at i: Int) -> [UInt8]
    /// The UTF-8 bytes of a text column, without copying where the source allows it.
    func withText<R>(at i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R
}

extension RowSource {
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
        var values: [SQLValue] = []
        values.reserveCapacity(columnCount)
        for i in 0..<columnCount { values.append(value(at: i)) }
        return Row(columns: names, values: values)
    }
}

/// A row of ``SQLValue``s as a ``RowSource``.
struct ValuesRowSource: RowSource {
    var names: [String]
    var values: [SQLValue]

    init(row: Row) {
        names = row.columns
        values = row.values
    }

    init(names: [String], values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    var columnCount: Int { values.count }
    func columnNames() -> [String] { names }

    func type(at i: Int) -> ColumnType {
        switch values[i] {
        case .null: .null
        case .integer: .integer
        case .real: .real
        case .text: .text
        case .blob: .blob
        }
    }

    func int64(at i: Int) -> Int64 {
        if case .integer(let v) = values[i] { return v }
        return 0
    }

    func double(at i: Int) -> Double {
        switch values[i] {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: 0
        }
    }

    func string(at i: Int) -> String {
        if case .text(let v) = values[i] { return v }
        return ""
    }

    func bytes(at i: Int) -> [UInt8] {
        switch values[i] {
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        default: []
        }
    }

    func withText<R>(at i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        var text = string(at: i)
        return try text.withUTF8(body)
    }
}
