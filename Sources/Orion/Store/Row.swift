/// One result row: its columns in order, readable by name or position.
///
/// ```swift
/// let row: Row? = try store.one("select id, title from todos where id = ?", 1)
/// if case .text(let title)? = row?["title"] { print(title) }
/// let todo: Todo? = try row?.decode()
/// ```
public struct Row: Sendable, Hashable {
    /// The column names, in result order.
    public let columns: [String]
    /// The values, in result order.
    public let values: [SQLValue]

    /// Creates a row; `columns` and `values` must have the same count.
    public init(columns: [String], values: [SQLValue]) {
        precondition(columns.count == values.count, "Row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The number of columns.
    public var count: Int { values.count }

    /// The value of the first column named `name` (compared as SQLite does, ignoring ASCII case),
    /// or `nil` when the row has no such column. A NULL column gives `.null`, not `nil`.
    public subscript(_ name: String) -> SQLValue? {
        if let i = columns.firstIndex(of: name) { return values[i] }
        let lower = name.lowercased()
        return columns.firstIndex { $0.lowercased() == lower }.map { values[$0] }
    }

    /// The value at `index` (0-based).
    public subscript(_ index: Int) -> SQLValue { values[index] }

    /// Decodes this row into `T`, by column name, with the rules of ``Store/query(_:_:)-(String,[SQLValue])``.
    ///
    /// - Throws: ``StoreError`` with code ``StoreError/Code/decoding``.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        let decoder = RowDecoder(.values(names: columns, values: values), for: T.self)
        defer { decoder.releaseContainer() }
        return try decoder.decodeRow(T.self)
    }
}

extension Row: Decodable {
    /// Decodes a row from the store's row decoder, or from any keyed container of SQL values.
    public init(from decoder: any Decoder) throws {
        if let source = decoder as? any RowProvidingDecoder {
            self = source.currentRow()
            return
        }
        let container = try decoder.container(keyedBy: AnyColumnKey.self)
        var columns: [String] = []
        var values: [SQLValue] = []
        for key in container.allKeys {
            columns.append(key.stringValue)
            values.append(try container.decode(SQLValue.self, forKey: key))
        }
        self.init(columns: columns, values: values)
    }
}

/// A decoder that can hand over its current row whole (the store's decoders).
protocol RowProvidingDecoder: Decoder {
    func currentRow() -> Row
}

/// A coding key for any column name.
struct AnyColumnKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
