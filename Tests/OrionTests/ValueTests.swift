import Foundation
import Synchronization
import Testing

@testable import Orion

@Suite("Values: binding and decoding")
struct ValueTests {
    let store: SQLiteStore

    init() throws {
        store = try SQLiteStore(path: ":memory:")
    }

    @Test("Int64 round-trips exactly at both ends of its range", arguments: [Int64.min, -1, 0, 1, Int64.max, 9_007_199_254_740_993])
    func int64RoundTrip(value: Int64) throws {
        let back: Int64? = try store.one("select ?", value)
        #expect(back == value)
    }

    @Test("every SQLBindable type binds to the storage class it documents")
    func bindables() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123)
        let uuid = UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!
        let cases: [(any SQLBindable, SQLValue)] = [
            (1, .integer(1)), (Int8(-8), .integer(-8)), (Int16(16), .integer(16)), (Int32(32), .integer(32)),
            (UInt8(8), .integer(8)), (UInt16(16), .integer(16)), (UInt32.max, .integer(Int64(UInt32.max))),
            (2.5, .real(2.5)), (Float(1.5), .real(1.5)), (true, .integer(1)), (false, .integer(0)),
            ("s", .text("s")), (Substring("sub"), .text("sub")), ([UInt8]([1, 2]), .blob([1, 2])),
            (Data([3]), .blob([3])), (date, .text("2023-11-14 22:13:20.123")),
            (uuid, .text("e621e1f8-c36c-495a-93fc-0c247a3e6e5f")), (SQLValue.null, .null), (Optional<Int>.none, .null),
            (Optional<Int>.some(4), .integer(4)),
        ]
        for (bindable, expected) in cases {
            #expect(bindable.sqlValue == expected)
            let back: SQLValue? = try store.one("select ?", [bindable.sqlValue])
            #expect(back == expected)
            // The variadic forms bind the value as passed, without the [SQLValue] step.
            let direct: SQLValue? = try store.one("select ?", bindable)
            #expect(direct == expected)
            let queried: [SQLValue] = try store.query("select ?", bindable)
            #expect(queried == [expected])
            try store.exec("create table if not exists bound (v)")
            try store.exec("delete from bound")
            try store.exec("insert into bound (v) values (?)", bindable)
            #expect(try store.one("select v from bound") as SQLValue? == expected)
        }
    }

    @Test("a store with only the five requirements gets the variadic forms as [SQLValue]")
    func variadicDefaults() throws {
        let recorder = RecordingStore(base: store)
        let _: Int? = try recorder.one("select ? + ?", 1, nil)
        let _: [String] = try recorder.query("select ?", "x")
        try recorder.exec("select ?", 2.5)
        #expect(
            recorder.calls.withLock { $0 } == [
                "one [.integer(1), .null]", "query [.text(\"x\")]", "exec [.real(2.5)]",
            ])
    }

    @Test("nil binds NULL in the variadic forms")
    func nilBindsNull() throws {
        let isNull: Bool? = try store.one("select ? is null", nil)
        #expect(isNull == true)
        let text: String? = nil
        let alsoNull: Bool? = try store.one("select ? is null", text)
        #expect(alsoNull == true)
    }

    @Test("empty text and empty blobs bind as empty, not NULL")
    func emptyValues() throws {
        let text: String? = try store.one("select ?", "")
        #expect(text == "")
        let blob: [UInt8]? = try store.one("select ?", [UInt8]())
        #expect(blob == [])
    }

    @Test("Date binds as SQLite's UTC text, which datetime() reads, and round-trips to the millisecond")
    func dateRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_234_567_890.987)
        let text: String? = try store.one("select datetime(?)", date)
        #expect(text == "2009-02-13 23:31:30")
        let back: Date? = try store.one("select ?", date)
        #expect(back.map { abs($0.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.0005 } == true)
        let before1970 = Date(timeIntervalSince1970: -86_400.5)
        let old: Date? = try store.one("select ?", before1970)
        #expect(old?.timeIntervalSince1970 == -86_400.5)
    }

    // Seconds since 1970, not Dates: Foundation's Date.description traps on a non-finite date.
    @Test(
        "a Date SQLite's date text cannot hold is refused, naming the parameter, on every path",
        arguments: [
            Double.infinity, -Double.infinity, Double.nan, 253_402_300_800, -62_167_219_200.001, 1e15,
        ])
    func unrepresentableDates(seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        try store.exec("create table if not exists stamps (id integer, at text)")
        let error = expectStoreError(.unsupportedParameter) { try store.exec("insert into stamps (id, at) values (?, ?)", 1, date) }
        #expect(error?.message.contains("parameter 2") == true)
        #expect(error?.message.contains("0000–9999") == true || error?.message.contains("finite") == true)
        #expect(error?.sql != nil)
        let recorder = RecordingStore(base: store)
        expectStoreError(.unsupportedParameter) { try recorder.exec("insert into stamps (id, at) values (?, ?)", 1, date) }
        let scoped = store.scoped(to: "stamps")
        expectStoreError(.unsupportedParameter) { let _: [Int] = try scoped.query("select ? is null", date) }
        #expect(try store.one("select count(*) from stamps") == 0)
        #expect(date.sqlValue == .null)
    }

    @Test("the ends of SQLite's date range bind and round-trip")
    func dateRangeEnds() throws {
        for (seconds, text) in [(-62_167_219_200.0, "0000-01-01 00:00:00.000"), (253_402_300_799.999, "9999-12-31 23:59:59.999")] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(date.sqlValue == .text(text))
            let back: Date? = try store.one("select ?", date)
            #expect(back.map { abs($0.timeIntervalSince1970 - seconds) < 0.0005 } == true)
        }
    }

    @Test(
        "SQLite's messages never carry a bound value into an error",
        arguments: [
            "select json_extract('{}', ?)", "select json_extract('{\"a\":1}', ?)",
        ])
    func boundValuesStayOut(sql: String) throws {
        let secret = "4111-1111-1111-1111"
        let error = expectStoreError(.sql) { let _: String? = try store.one(sql, secret) }
        #expect(error.map { !$0.description.contains(secret) && !$0.message.contains("1111") } == true, "\(error?.description ?? "")")
        let listed = expectStoreError(.sql) { let _: String? = try store.one(sql, [SQLValue.text("$[" + secret + "]")]) }
        #expect(listed.map { !$0.description.contains(secret) } == true, "\(listed?.description ?? "")")
    }

    @Test("FTS5 query errors never quote the bound query")
    func fts5Errors() throws {
        try store.migrate("docs", ["create virtual table docs using fts5(body)"])
        try store.exec("insert into docs (body) values ('hello world')")
        for secret in ["hunter2secret: x", "\"hunter2secret", "hunter2 AND ("] {
            let error = expectStoreError(.sql) { let _: [String] = try store.query("select body from docs where docs match ?", secret) }
            #expect(error.map { !$0.description.contains("hunter2") } == true, "\(error?.description ?? "")")
        }
        // A message that quotes no bound value keeps every word.
        let plain = expectStoreError(.sql) { let _: String? = try store.one("select json_extract(?, '$.a')", "{not: valid") }
        #expect(plain?.message == "malformed JSON")
    }

    @Test(
        "Date decodes from datetime(), ISO-8601 with T, Z or an offset, and Unix seconds",
        arguments: [
            ("select '2024-03-01 12:30:45'", 1_709_296_245.0),
            ("select '2024-03-01T12:30:45Z'", 1_709_296_245.0),
            ("select '2024-03-01T14:30:45+02:00'", 1_709_296_245.0),
            ("select '2024-03-01T12:30:45.250Z'", 1_709_296_245.25),
            ("select '2024-03-01 14:30:45.250000+02'", 1_709_296_245.25),
            ("select '2024-03-01 12:30'", 1_709_296_200.0),
            ("select '2024-03-01'", 1_709_251_200.0),
            ("select 1709296245", 1_709_296_245.0),
            ("select 1709296245.5", 1_709_296_245.5),
        ])
    func dateFormats(sql: String, seconds: Double) throws {
        let date: Date? = try store.one(sql)
        #expect(date?.timeIntervalSince1970 == seconds)
    }

    @Test("datetime('now') decodes into Date")
    func sqliteNow() throws {
        let now: Date? = try store.one("select datetime('now')")
        #expect(now.map { abs($0.timeIntervalSinceNow) < 5 } == true)
    }

    @Test("UUID decodes from text in either case and from 16-byte blobs")
    func uuids() throws {
        let uuid = UUID()
        #expect(try store.one("select ?", uuid) == uuid)
        #expect(try store.one("select upper(?)", uuid) == uuid)
        let blob = withUnsafeBytes(of: uuid.uuid) { Array($0) }
        #expect(try store.one("select ?", blob) == uuid)
    }

    @Test("Data and [UInt8] decode from blobs")
    func blobs() throws {
        let data: Data? = try store.one("select x'00ff10'")
        #expect(data == Data([0, 255, 16]))
        let bytes: [UInt8]? = try store.one("select x'0102'")
        #expect(bytes == [1, 2])
    }

    enum Status: String, Codable { case open, closed }
    enum Priority: Int, Codable {
        case low = 1
        case high = 2
    }

    struct Ticket: Decodable, Equatable {
        let id: Int64
        let status: Status
        let priority: Priority
        let note: String?
        let score: Double
        let at: Date
        let ref: UUID?
        let payload: Data?
        let small: Int8
    }

    @Test("a struct decodes by column name, with enums, optionals, dates, UUIDs and data")
    func structDecoding() throws {
        let ticket: Ticket? = try store.one(
            """
            select 'closed' as status, 7 as id, 2 as priority, null as note, 1 as score,
                   '2020-01-02 03:04:05.678' as at, null as ref, x'01' as payload, -5 as small
            """)
        #expect(
            ticket
                == Ticket(
                    id: 7, status: .closed, priority: .high, note: nil, score: 1,
                    at: Date(timeIntervalSince1970: 1_577_934_245.678), ref: nil, payload: Data([1]), small: -5))
    }

    struct Renamed: Decodable {
        let createdAt: String
        enum CodingKeys: String, CodingKey { case createdAt = "created_at" }
    }

    @Test("CodingKeys map properties to column names")
    func codingKeys() throws {
        let row: Renamed? = try store.one("select 'x' as created_at")
        #expect(row?.createdAt == "x")
    }

    @Test("one-column results decode into scalars, and NULL into optionals")
    func scalars() throws {
        #expect(try store.one("select 42") == 42)
        #expect(try store.one("select 'a'") == "a")
        #expect(try store.one("select 1") == true)
        #expect(try store.one("select 2.5") == 2.5)
        #expect(try store.one("select 'open'") == Status.open)
        let values: [Int?] = try store.query("select 1 union all select null")
        #expect(values == [1, nil])
    }

    @Test("one returns nil for no row and for a one-column NULL")
    func oneNil() throws {
        try store.exec("create table t (id integer primary key)")
        let top: Int? = try store.one("select max(id) from t")
        #expect(top == nil)
        let none: Int? = try store.one("select id from t")
        #expect(none == nil)
    }

    @Test("query of a non-optional scalar with a NULL is an error that says to ask for an optional")
    func nonOptionalScalarNull() throws {
        let error = expectStoreError(.decoding) {
            let _: [Int] = try store.query("select 1 union all select null")
        }
        #expect(error?.message.contains("Int?") == true)
    }

    @Test("Row keeps columns in order, by name and by position")
    func rows() throws {
        let row: Row? = try store.one("select 1 as a, 'x' as b, null as c")
        #expect(row?.columns == ["a", "b", "c"])
        #expect(row?["b"] == .text("x"))
        #expect(row?["B"] == .text("x"))
        #expect(row?["c"] == .null)
        #expect(row?["missing"] == nil)
        #expect(row?[0] == .integer(1))
        struct AB: Decodable {
            let a: Int
            let b: String
        }
        #expect(try row?.decode(AB.self).b == "x")
        let all: [Row] = try store.query("select ? as v", [SQLValue.integer(9)])
        #expect(all.first?["v"] == .integer(9))
    }

    struct Needs: Decodable {
        let id: Int
        let title: String
    }

    @Test("a missing column names the column, the type and the columns there are")
    func missingColumn() throws {
        let error = expectStoreError(.decoding) { let _: Needs? = try store.one("select 1 as id") }
        #expect(error?.message.contains("'title'") == true)
        #expect(error?.message.contains("Needs") == true)
        #expect(error?.message.contains("id") == true)
    }

    @Test("an optional property needs its column too: a misspelt column is an error, not nil")
    func missingOptionalColumn() throws {
        struct Note: Decodable {
            let id: Int
            let body: String?
        }
        let error = expectStoreError(.decoding) { let _: Note? = try store.one("select 1 as id, 'x' as bdy") }
        #expect(error?.message.contains("'body'") == true)
        let note: Note? = try store.one("select 1 as id, null as body")
        #expect(note?.body == nil)
    }

    @Test("NULL into a non-optional property names the column and the Swift type")
    func nullIntoNonOptional() throws {
        let error = expectStoreError(.decoding) { let _: Needs? = try store.one("select 1 as id, null as title") }
        #expect(error?.message.contains("'title'") == true)
        #expect(error?.message.contains("String") == true)
    }

    @Test("a wrong type names the column, what it holds and the Swift type")
    func wrongType() throws {
        let error = expectStoreError(.decoding) { let _: Needs? = try store.one("select 'seven' as id, 'x' as title") }
        #expect(error?.message.contains("'id'") == true)
        #expect(error?.message.contains("TEXT") == true)
        #expect(error?.message.contains("Int") == true)
        #expect(error?.message.contains("seven") == false)
    }

    @Test("an out-of-range integer is an error, never a wrapped value")
    func outOfRange() throws {
        struct Small: Decodable { let n: Int8 }
        let error = expectStoreError(.decoding) { let _: Small? = try store.one("select 300 as n") }
        #expect(error?.message.contains("Int8") == true)
        #expect(error?.message.contains("300") == false)
        expectStoreError(.decoding) { let _: UInt8? = try store.one("select -1") }
        expectStoreError(.decoding) { let _: Int? = try store.one("select 2.5") }
    }

    @Test("Bool accepts only 0 and 1")
    func strictBool() throws {
        expectStoreError(.decoding) { let _: Bool? = try store.one("select 2") }
    }

    @Test("a raw-value enum with an unknown value is an error that does not quote the value")
    func unknownEnum() throws {
        let error = expectStoreError(.decoding) { let _: Status? = try store.one("select ?", "secret-state") }
        #expect(error?.description.contains("secret-state") == false)
    }

    @Test("a scalar from a multi-column result is an error naming the column count")
    func scalarFromManyColumns() throws {
        let error = expectStoreError(.decoding) { let _: Int? = try store.one("select 1, 2") }
        #expect(error?.message.contains("2") == true)
    }

    @Test("SQLDate formats and parses around the epoch and leap days")
    func dateCodec() {
        #expect(SQLDate.format(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00.000")
        #expect(SQLDate.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29 00:00:00.000")
        #expect(SQLDate.format(Date(timeIntervalSince1970: -0.001)) == "1969-12-31 23:59:59.999")
        #expect(SQLDate.parse(Array("2000-02-29 00:00:00.000".utf8))?.timeIntervalSince1970 == 951_782_400)
        #expect(SQLDate.parse(Array("2000-13-01".utf8)) == nil)
        #expect(SQLDate.parse(Array("2000-01-01 10:00:00 junk".utf8)) == nil)
        #expect(SQLDate.parse(Array("2000-01-01T10:00:00-0130".utf8))?.timeIntervalSince1970 == 946_726_200.0)
    }

    @Test("SHA-256 matches the standard test vectors")
    func sha256() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

/// A store that implements only the five requirements, recording the values it is given.
private final class RecordingStore: Store {
    let base: any Store
    let calls = Locked<[String]>([])

    init(base: any Store) { self.base = base }

    private func record(_ method: String, _ params: [SQLValue]) {
        let values = params.map { value in
            switch value {
            case .null: ".null"
            case .integer(let v): ".integer(\(v))"
            case .real(let v): ".real(\(v))"
            case .text(let v): ".text(\"\(v)\")"
            case .blob(let v): ".blob(\(v))"
            }
        }
        calls.withLock { $0.append("\(method) [\(values.joined(separator: ", "))]") }
    }

    func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        record("query", params)
        return try base.query(sql, params)
    }
    func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        record("one", params)
        return try base.one(sql, params)
    }
    func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        record("exec", params)
        return try base.exec(sql, params)
    }
    func tx<T>(_ body: () throws -> T) throws -> T { try base.tx(body) }
    func migrate(_ feature: String, _ migrations: [String]) throws { try base.migrate(feature, migrations) }
}
