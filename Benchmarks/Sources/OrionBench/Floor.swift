// The least any `Decodable` row decoder can cost on this standard library: a bench-only decoder
// with none of a store's duties. It reads columns in key order (no lookup by name), checks no
// type or NULL, hands out one cached keyed container, and runs on a statement prepared once and
// bound in place — raw C's loop with only `init(from:)` in between. What it costs over raw C is
// the standard library's `Decodable` machinery (the keyed container's boxes and their metadata)
// and Swift `String`s; a store that decodes through `Decodable` cannot go below it.
import RawSQLite

final class FloorDecoder: Decoder {
    let statement: OpaquePointer
    var column: Int32 = 0
    private var cached: AnyObject?

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ statement: OpaquePointer) { self.statement = statement }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        column = 0
        // One type per decoder here (Item's CodingKeys), so the first container serves every row.
        if let cached { return unsafeBitCast(cached, to: KeyedDecodingContainer<Key>.self) }
        let container = KeyedDecodingContainer(FloorColumns<Key>(decoder: self))
        cached = unsafeBitCast(container, to: AnyObject.self)
        return container
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { fatalError("not in the floor") }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { fatalError("not in the floor") }
}

struct FloorColumns<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: FloorDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    @inline(__always) private func next() -> Int32 {
        defer { decoder.column += 1 }
        return decoder.column
    }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { false }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { Int(sqlite3_column_int64(decoder.statement, next())) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { sqlite3_column_int64(decoder.statement, next()) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { sqlite3_column_double(decoder.statement, next()) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        let i = next()
        let text = sqlite3_column_text(decoder.statement, i)
        let count = Int(sqlite3_column_bytes(decoder.statement, i))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { fatalError("not in the floor") }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        fatalError("not in the floor")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { fatalError("not in the floor") }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

/// Point reads by primary key through the floor decoder, as `raw_point_reads` does them in C.
struct FloorReads {
    let db: OpaquePointer
    let point: OpaquePointer
    let range: OpaquePointer

    init(path: String) {
        db = OpaquePointer(raw_open(path, 1)!)
        var s: OpaquePointer?
        sqlite3_prepare_v3(db, "select id, name, qty, price from items where id = ?", -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        point = s!
        sqlite3_prepare_v3(db, "select id, name, qty, price from items where id >= ? and id < ? order by id", -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        range = s!
    }

    func close() {
        sqlite3_finalize(point)
        sqlite3_finalize(range)
        raw_close(UnsafeMutableRawPointer(db))
    }

    @inline(never)
    func one(_ id: Int64, _ decoder: FloorDecoder) throws -> Item? {
        sqlite3_bind_int64(point, 1, id)
        defer { sqlite3_reset(point) }
        guard sqlite3_step(point) == SQLITE_ROW else { return nil }
        return try Item(from: decoder)
    }

    @inline(never)
    func rows(from first: Int64, count: Int64, _ decoder: FloorDecoder) throws -> [Item] {
        sqlite3_bind_int64(range, 1, first)
        sqlite3_bind_int64(range, 2, first + count)
        defer { sqlite3_reset(range) }
        var items: [Item] = []
        while sqlite3_step(range) == SQLITE_ROW { items.append(try Item(from: decoder)) }
        return items
    }
}
