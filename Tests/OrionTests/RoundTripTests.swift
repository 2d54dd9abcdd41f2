import CSQLite
import Foundation
import StoreConformance
import Testing

@testable import Orion

@Suite("Round trips against SQLite itself")
struct RoundTripTests {
    let dir = TempDir()

    /// What a plain sqlite3 connection binds for `value`, stores, and reads back.
    static func bindPlain(_ statement: OpaquePointer, _ index: Int32, _ value: SQLValue) {
        switch value {
        case .null: sqlite3_bind_null(statement, index)
        case .integer(let v): sqlite3_bind_int64(statement, index, v)
        case .real(let v): sqlite3_bind_double(statement, index, v)
        case .text(let v):
            let bytes = Array(v.utf8)
            bytes.withUnsafeBufferPointer { buffer in
                // An empty string: a zero-length text, not NULL (SQLite needs a non-NULL pointer).
                let base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
                _ = base.withMemoryRebound(to: CChar.self, capacity: max(1, buffer.count)) {
                    sqlite3_bind_text(statement, index, $0, Int32(buffer.count), orion_transient())
                }
            }
        case .blob(let v):
            v.withUnsafeBytes { buffer in
                _ = sqlite3_bind_blob(statement, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, Int32(buffer.count), orion_transient())
            }
        }
    }

    static func readPlain(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(statement, column))
            let bytes = sqlite3_column_text(statement, column).map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
            return .text(String(decoding: bytes, as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, column))
            let bytes = sqlite3_column_blob(statement, column).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
            return .blob(bytes)
        default: return .null
        }
    }

    /// Equal as SQLite keeps them: doubles by bit pattern (so -0.0 is not 0.0), NaN as NULL.
    static func same(_ a: SQLValue, _ b: SQLValue) -> Bool {
        switch (a, b) {
        case (.real(let x), .real(let y)): x.bitPattern == y.bitPattern
        default: a == b
        }
    }

    /// What SQLite stores for `value`: NaN becomes NULL.
    static func stored(_ value: SQLValue) -> SQLValue {
        if case .real(let v) = value, v.isNaN { return .null }
        return value
    }

    @Test("10,000 values and the edges: written with exec, read with query and one, the same as a plain sqlite3 connection stores and returns")
    func againstPlainSQLite() throws {
        let values = RoundTripValues.edges + RoundTripValues.random(10_000, seed: 0x0123_4567_89AB_CDEF)
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("rt", ["create table ours (i integer primary key, x)", "create table plain (i integer primary key, x)"])
        try store.tx {
            for (i, value) in values.enumerated() { try store.exec("insert into ours (i, x) values (?, ?)", i, value) }
        }
        // A plain connection writes the same values into the other table.
        var db: OpaquePointer?
        #expect(sqlite3_open(dir.path(), &db) == SQLITE_OK)
        defer { sqlite3_close(db) }
        var insert: OpaquePointer?
        #expect(sqlite3_prepare_v2(db, "insert into plain (i, x) values (?, ?)", -1, &insert, nil) == SQLITE_OK)
        #expect(sqlite3_exec(db, "begin", nil, nil, nil) == SQLITE_OK)
        for (i, value) in values.enumerated() {
            sqlite3_bind_int64(insert, 1, Int64(i))
            Self.bindPlain(insert!, 2, value)
            #expect(sqlite3_step(insert) == SQLITE_DONE)
            sqlite3_reset(insert)
        }
        sqlite3_finalize(insert)
        #expect(sqlite3_exec(db, "commit", nil, nil, nil) == SQLITE_OK)

        // Stored alike: the same storage class and the same bytes.
        let differing: [Int] = try store.query(
            "select ours.i from ours join plain using (i) where typeof(ours.x) != typeof(plain.x) or ours.x is not plain.x or cast(ours.x as blob) is not cast(plain.x as blob)")
        #expect(differing.isEmpty, "stored differently: \(differing.prefix(10).map { values[$0] })")

        // Read alike: query, one, and the plain connection's own reading.
        let read: [SQLValue] = try store.query("select x from ours order by i")
        var select: OpaquePointer?
        #expect(sqlite3_prepare_v2(db, "select x from plain order by i", -1, &select, nil) == SQLITE_OK)
        var mismatches: [String] = []
        for (i, value) in values.enumerated() {
            #expect(sqlite3_step(select) == SQLITE_ROW)
            let plain = Self.readPlain(select!, 0)
            if !Self.same(read[i], plain) || !Self.same(read[i], Self.stored(value)) {
                mismatches.append("#\(i) wrote \(value), query \(read[i]), plain \(plain)")
            }
        }
        sqlite3_finalize(select)
        #expect(mismatches.isEmpty, "\(mismatches.count) differ: \(mismatches.prefix(5))")
        for i in stride(from: 0, to: values.count, by: 97) {
            let one: SQLValue? = try store.one("select x from ours where i = ?", i)
            #expect(Self.same(one ?? .null, Self.stored(values[i])), "#\(i): one gave \(String(describing: one)) for \(values[i])")
        }
    }

    @Test("text that is not UTF-8, stored by another program: read as text with U+FFFD in place of the bad bytes, and byte for byte as a blob")
    func invalidUTF8() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("rt", ["create table t (x text)"])
        let bad: [UInt8] = [0x61, 0xFF, 0x62, 0xC3, 0x00, 0x63, 0xED, 0xA0, 0x80]
        try store.exec("insert into t (x) values (cast(? as text))", SQLValue.blob(bad))
        #expect(try store.one("select typeof(x) from t") == "text")
        let text: String = try #require(try store.one("select x from t"))
        #expect(text == String(decoding: bad, as: UTF8.self))
        #expect(text.contains("\u{FFFD}"))
        let bytes: [UInt8] = try #require(try store.one("select cast(x as blob) from t"))
        #expect(bytes == bad)
        #expect(try store.one("select length(cast(x as blob)) from t") == bad.count)
    }
}
