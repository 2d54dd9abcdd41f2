import Foundation

/// Decodes rows of a `RowSource` into any `Decodable`, reading columns in place.
///
/// One decoder serves every row of a result. Keyed lookups are remembered by position: the
/// synthesized `init(from:)` asks for the same keys in the same order on every row, so after the
/// first row a lookup is one comparison of the key with the column name it found last time.
/// The same memory (``keyPlan``) is kept with a cached statement between executions.
final class RowDecoder: Decoder, RowProvidingDecoder {
    let source: RowSource
    let names: [String]
    /// The type being decoded.
    let target: Any.Type
    /// For the n-th keyed lookup of a row, the column it found last time (-1: none).
    @exclusivity(unchecked) var keyPlan: [Int]
    @exclusivity(unchecked) private var cursor = 0
    /// Set when a top-level scalar met NULL (`one` turns that into `nil`).
    @exclusivity(unchecked) private(set) var metNullScalar = false
    /// The keyed container handed out for `cachedKeyType`, kept as its box reference. It holds
    /// this decoder strongly: `releaseContainer()` breaks the cycle when the result is done.
    @exclusivity(unchecked) private var cachedContainer: AnyObject?
    @exclusivity(unchecked) private var cachedKeyType: ObjectIdentifier?

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// For a ``RowDecodable`` target, what calls its `init(row:)` (looked up once per decoder).
    let byPosition: ReadsByPosition?
    /// Advances when a result's rows have been read: a ``RowReader`` made before (kept past its
    /// `init(row:)`) traps instead of reading a statement that may be finalized.
    @exclusivity(unchecked) private(set) var readerGeneration: UInt64 = 0

    /// Ends the readers handed out so far (see ``readerGeneration``).
    @inline(__always)
    func endReaders() { readerGeneration &+= 1 }

    init(_ source: RowSource, names: [String]? = nil, for target: Any.Type, keyPlan: [Int] = []) {
        self.source = source
        self.names = names ?? source.columnNames()
        self.target = target
        self.keyPlan = keyPlan
        byPosition = (target as? any RowDecodable.Type).map { ReadsByPosition.make(for: $0) }
    }

    /// Decodes the source's current row: by position for a ``RowDecodable`` type, else by name.
    func decodeRow<T: Decodable>(_ type: T.Type) throws -> T {
        if let byPosition {
            defer { endReaders() }
            return try byPosition.read(RowReader(self), as: T.self)
        }
        cursor = 0
        metNullScalar = false
        if T.self == Row.self { return source.row(names: names) as! T }
        if Self.isColumnType(T.self) {
            try requireOneColumn(T.self)
            return try decodeColumn(T.self, at: 0)
        }
        do {
            return try T(from: self)
        } catch let error as DecodingError {
            throw failure(Self.describe(error))
        }
    }

    /// A `DecodingError` thrown by a type's own `init(from:)`, described by kind and path only:
    /// its debug description may quote the value.
    static func describe(_ error: DecodingError) -> String {
        let (kind, context): (String, DecodingError.Context?) =
            switch error {
            case .typeMismatch(_, let c): ("a type mismatch", c)
            case .valueNotFound(_, let c): ("a missing value", c)
            case .keyNotFound(_, let c): ("a missing key", c)
            case .dataCorrupted(let c): ("a value it does not accept", c)
            @unknown default: ("an error", nil)
            }
        let path = context?.codingPath.map(\.stringValue).joined(separator: ".") ?? ""
        return "its init(from:) reported \(kind)" + (path.isEmpty ? "" : " at '\(path)'")
    }

    func currentRow() -> Row { source.row(names: names) }

    /// Drops the cached container (which refers back to this decoder).
    func releaseContainer() {
        cachedContainer = nil
        cachedKeyType = nil
    }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        // Every row asks for the same container; making one costs an allocation and a generic
        // metadata lookup (a locked hash map) per row. `KeyedDecodingContainer` is one reference
        // to its box, so the first one is kept as that reference and handed out again.
        if cachedKeyType == ObjectIdentifier(Key.self), let cachedContainer {
            return unsafeBitCast(cachedContainer, to: KeyedDecodingContainer<Key>.self)
        }
        let container = KeyedDecodingContainer(KeyedColumns<Key>(decoder: self))
        if MemoryLayout<KeyedDecodingContainer<Key>>.size == MemoryLayout<AnyObject>.size {
            cachedContainer = unsafeBitCast(container, to: AnyObject.self)
            cachedKeyType = ObjectIdentifier(Key.self)
        }
        return container
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw failure("a row decodes into a struct by column name, or into a scalar; \(target) asks for an array")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        try requireOneColumn(target)
        return ColumnValue(decoder: self, column: 0, topLevel: true)
    }

    // MARK: Columns

    /// The column named `name`, remembered by lookup position.
    @inline(__always)
    func column(named name: String) -> Int? {
        let n = cursor
        cursor &+= 1
        if n < keyPlan.count {
            let i = keyPlan[n]
            if i >= 0 && names[i] == name { return i }
        }
        let found = names.firstIndex(of: name)
        if n < keyPlan.count {
            keyPlan[n] = found ?? -1
        } else if n == keyPlan.count {
            keyPlan.append(found ?? -1)
        }
        return found
    }

    /// What to do when a camelCase property meets its snake_case column: a hint naming both.
    static func keyHint(_ name: String, _ names: [String]) -> String {
        var snake = ""
        for character in name {
            if character.isUppercase {
                snake += "_" + character.lowercased()
            } else {
                snake.append(character)
            }
        }
        guard snake != name, names.contains(snake) else { return "" }
        return "; name the column in the query (\(snake) as \(name)) or map it in CodingKeys (case \(name) = \"\(snake)\")"
    }

    /// The column named `name`, or an error naming it, the type, and the columns there are.
    /// Takes the key's string, not the key: a generic parameter here would run unspecialized.
    func requiredColumn(_ name: String, _ type: Any.Type) throws -> Int {
        if let i = column(named: name) { return i }
        throw failure("no column '\(name)' for \(type); the result has columns \(names.joined(separator: ", "))" + Self.keyHint(name, names))
    }

    private func requireOneColumn(_ type: Any.Type) throws {
        guard source.columnCount == 1 else {
            throw failure(
                "\(type) decodes from exactly one column, the result has \(source.columnCount) (\(names.joined(separator: ", ")))")
        }
    }

    static func isColumnType(_ type: Any.Type) -> Bool {
        type == Date.self || type == UUID.self || type == Data.self || type == [UInt8].self
            || type == SQLValue.self
    }

    // MARK: Values

    func isNull(_ i: Int) -> Bool { source.cell(i).type == .null }

    func bool(_ i: Int, topLevel: Bool = false) throws -> Bool {
        let cell = source.cell(i)
        switch cell.type {
        case .integer:
            switch cell.int64 {
            case 0: return false
            case 1: return true
            default: throw mismatch(i, Bool.self, "holds an INTEGER other than 0 or 1")
            }
        case .null: throw null(i, Bool.self, topLevel: topLevel)
        case let other: throw mismatch(i, Bool.self, "holds \(other.sqlName), Bool needs INTEGER 0 or 1")
        }
    }

    func integer<I: FixedWidthInteger>(_ i: Int, _ type: I.Type, topLevel: Bool = false) throws -> I {
        let cell = source.cell(i)
        switch cell.type {
        case .integer:
            if let v = I(exactly: cell.int64) { return v }
            throw mismatch(i, I.self, "holds an INTEGER out of range for \(I.self)")
        case .real:
            let d = cell.double
            if let v = I(exactly: d) { return v }
            throw mismatch(i, I.self, "holds a REAL that is not a whole number in range for \(I.self)")
        case .null: throw null(i, I.self, topLevel: topLevel)
        case let other: throw mismatch(i, I.self, "holds \(other.sqlName), \(I.self) needs INTEGER")
        }
    }

    func double(_ i: Int, topLevel: Bool = false) throws -> Double {
        let cell = source.cell(i)
        switch cell.type {
        case .real, .integer: return cell.double
        case .null: throw null(i, Double.self, topLevel: topLevel)
        case let other: throw mismatch(i, Double.self, "holds \(other.sqlName), Double needs REAL or INTEGER")
        }
    }

    func string(_ i: Int, topLevel: Bool = false) throws -> String {
        let cell = source.cell(i)
        switch cell.type {
        case .text: return cell.string
        case .null: throw null(i, String.self, topLevel: topLevel)
        case let other: throw mismatch(i, String.self, "holds \(other.sqlName), String needs TEXT")
        }
    }

    /// Decodes column `i` as `T`: the column types (`Date`, `UUID`, `Data`, `[UInt8]`, `SQLValue`)
    /// directly, anything else (raw-value enums, optionals, wrappers) through its single value.
    func decodeColumn<T: Decodable>(_ type: T.Type, at i: Int, topLevel: Bool = false) throws -> T {
        if T.self == Date.self { return try date(i, topLevel: topLevel) as! T }
        if T.self == UUID.self { return try uuid(i, topLevel: topLevel) as! T }
        if T.self == Data.self { return Data(try bytes(i, Data.self, topLevel: topLevel)) as! T }
        if T.self == [UInt8].self { return try bytes(i, [UInt8].self, topLevel: topLevel) as! T }
        if T.self == SQLValue.self { return source.cell(i).value as! T }
        do {
            return try T(from: ColumnDecoder(decoder: self, column: i, topLevel: topLevel))
        } catch let error as DecodingError {
            throw mismatch(i, T.self, "holds a value \(T.self) does not accept (\(Self.describe(error)))")
        }
    }

    private func date(_ i: Int, topLevel: Bool) throws -> Date {
        let cell = source.cell(i)
        switch cell.type {
        case .text:
            if let date = cell.withText({ SQLDate.parse($0) }) { return date }
            throw mismatch(i, Date.self, "holds TEXT that is not a date (expected YYYY-MM-DD HH:MM:SS.SSS or ISO-8601)")
        case .integer: return Date(timeIntervalSince1970: Double(cell.int64))
        case .real: return Date(timeIntervalSince1970: cell.double)
        case .null: throw null(i, Date.self, topLevel: topLevel)
        case .blob: throw mismatch(i, Date.self, "holds BLOB, Date needs TEXT or a number of Unix seconds")
        }
    }

    private func uuid(_ i: Int, topLevel: Bool) throws -> UUID {
        let cell = source.cell(i)
        switch cell.type {
        case .text:
            if let uuid = UUID(uuidString: cell.string) { return uuid }
            throw mismatch(i, UUID.self, "holds TEXT that is not a UUID")
        case .blob:
            let b = cell.bytes
            guard b.count == 16 else { throw mismatch(i, UUID.self, "holds a BLOB of \(b.count) bytes, UUID needs 16") }
            return UUID(
                uuid: (
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
                ))
        case .null: throw null(i, UUID.self, topLevel: topLevel)
        case let other: throw mismatch(i, UUID.self, "holds \(other.sqlName), UUID needs TEXT")
        }
    }

    private func bytes(_ i: Int, _ type: Any.Type, topLevel: Bool) throws -> [UInt8] {
        let cell = source.cell(i)
        switch cell.type {
        case .blob: return cell.bytes
        case .null: throw null(i, type, topLevel: topLevel)
        case let other: throw mismatch(i, type, "holds \(other.sqlName), \(type) needs BLOB")
        }
    }

    // MARK: Errors

    func failure(_ problem: String) -> StoreError {
        StoreError(.decoding, "cannot decode \(target): \(problem)")
    }

    func mismatch(_ i: Int, _ type: Any.Type, _ problem: String) -> StoreError {
        failure("column '\(names[i])' \(problem)")
    }

    func null(_ i: Int, _ type: Any.Type, topLevel: Bool) -> StoreError {
        if topLevel {
            metNullScalar = true
            return failure("column '\(names[i])' is NULL but \(type) is not optional; ask for \(type)? to accept NULL")
        }
        return failure("column '\(names[i])' is NULL but \(type) is not optional; make the property \(type)? or select a non-NULL value")
    }
}

/// The keyed view of a row: one key per column name.
private struct KeyedColumns<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RowDecoder

    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.names.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { decoder.names.contains(key.stringValue) }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let i = decoder.column(named: key.stringValue) else { return true }
        return decoder.isNull(i)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try decoder.bool(decoder.requiredColumn(key.stringValue, type))
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try decoder.string(decoder.requiredColumn(key.stringValue, type))
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try decoder.double(decoder.requiredColumn(key.stringValue, type))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        Float(try decoder.double(decoder.requiredColumn(key.stringValue, type)))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try int(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try int(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try int(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try int(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try int(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try int(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try int(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try int(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try int(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try int(type, key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.decodeColumn(type, at: decoder.requiredColumn(key.stringValue, type))
    }

    @inline(__always)
    private func int<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I {
        try decoder.integer(decoder.requiredColumn(key.stringValue, type), type)
    }

    /// One lookup for an optional property: NULL is `nil`; a missing column is an error, as for
    /// any property (a misspelt column must not read as "no value").
    @inline(__always)
    private func present(_ key: Key, _ type: Any.Type) throws -> Int? {
        let i = try decoder.requiredColumn(key.stringValue, type)
        return decoder.isNull(i) ? nil : i
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try present(key, Bool?.self).map { try decoder.bool($0) }
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try present(key, String?.self).map { try decoder.string($0) }
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try present(key, Double?.self).map { try decoder.double($0) }
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try present(key, Float?.self).map { Float(try decoder.double($0)) }
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optionalInt(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optionalInt(type, key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try present(key, T?.self).map { try decoder.decodeColumn(type, at: $0) }
    }

    @inline(__always)
    private func optionalInt<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I? {
        try present(key, I?.self).map { try decoder.integer($0, type) }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        throw decoder.failure("'\(key.stringValue)' asks for a nested container; a column holds one value")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw decoder.failure("'\(key.stringValue)' asks for an array; a column holds one value")
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ColumnDecoder(decoder: decoder, column: try decoder.requiredColumn(key.stringValue, Any.self), topLevel: false)
    }
}

/// One column as a decoder, for types that decode from a single value (raw-value enums,
/// optionals, property wrappers).
private struct ColumnDecoder: Decoder {
    let decoder: RowDecoder
    let column: Int
    let topLevel: Bool

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw decoder.failure("column '\(decoder.names[column])' holds one value; the property's type asks for a keyed container")
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw decoder.failure("column '\(decoder.names[column])' holds one value; the property's type asks for an array")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ColumnValue(decoder: decoder, column: column, topLevel: topLevel)
    }
}

/// The single value of one column.
private struct ColumnValue: SingleValueDecodingContainer {
    let decoder: RowDecoder
    let column: Int
    let topLevel: Bool

    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { decoder.isNull(column) }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.bool(column, topLevel: topLevel) }
    func decode(_ type: String.Type) throws -> String { try decoder.string(column, topLevel: topLevel) }
    func decode(_ type: Double.Type) throws -> Double { try decoder.double(column, topLevel: topLevel) }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.double(column, topLevel: topLevel)) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.integer(column, type, topLevel: topLevel) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.decodeColumn(type, at: column, topLevel: topLevel)
    }
}
