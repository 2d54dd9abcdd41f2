import Foundation
import FuzzSupport
import Orion

/// The row decoder over arbitrary column values: every `query`, `one` and `Row.decode` into a
/// `Decodable` gives a value or throws a `StoreError`, never crashes; reading in place from
/// SQLite and from a held `Row` agree; the plain scalars decode exactly as their rules say; and
/// no error message quotes a bound value.
///
/// An input is five values for the columns `a`–`e` (a byte picks each one's kind), then one byte
/// per decode to run (up to 24; none: every whole-row decode), in that order, so the fuzzer also
/// explores the decoders and cached statements one type leaves behind for the next.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRowDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    var values: [SQLValue] = []
    for _ in 0..<5 { values.append(value(&input)) }
    do {
        try store.exec("delete from t")
        try store.exec("insert into t (a, b, c, d, e) values (?, ?, ?, ?, ?)", values)
    } catch {
        fatalError("inserting \(values.map(\.typeName)) failed: \(error)")
    }
    // The values come back as they went in (SQLite stores a NaN as NULL).
    let stored = expectValue(try store.one("select a, b, c, d, e from t") as Row?, "select a-e as Row")
    let expected = values.map { value -> SQLValue in
        if case .real(let d) = value, d.isNaN { return .null }
        return value
    }
    require(stored?.values == expected, "stored \(String(describing: stored?.values.map(\.typeName))), inserted \(values.map(\.typeName))")

    // At most 24 decodes per input: more inputs a second find more than longer sequences do.
    let steps = input.take(24)
    if steps.isEmpty {
        for n in 0..<recordChecks.count { runCheck(n) }
    } else {
        for step in steps { runCheck(Int(step)) }
    }
    return 0
}

private let marker = "\u{1F9EA}"

private let store: SQLiteStore = {
    do {
        let store = try SQLiteStore(path: ":memory:")
        // No declared types: no affinity, each value keeps the storage class it was bound with.
        try store.migrate("fuzz", ["create table t (a, b, c, d, e)"])
        return store
    } catch {
        fatalError("cannot open the fuzz store: \(error)")
    }
}()

/// One column value: null, any integer, 0/1-ish integers, any double, text, text carrying the
/// marker no message may quote, or bytes.
private func value(_ input: inout FuzzInput) -> SQLValue {
    switch input.byte() % 7 {
    case 0: .null
    case 1: .integer(input.int64())
    case 2: .integer(Int64(input.byte() % 4) - 1)
    case 3: .real(input.double())
    case 4: .text(input.string())
    case 5: .text(marker + input.string())
    default: .blob(input.chunk())
    }
}

/// The columns: the five stored values, and `f`, column `e` cast to text (TEXT that may hold
/// invalid UTF-8 when `e` is a blob).
private let columns = ["a", "b", "c", "d", "e", "cast(e as text) as f"]

/// The decodes of one column, as the types a property or a scalar result can have.
private let scalarChecks: [@Sendable (String) -> Void] = [
    { scalar(Int.self, $0) }, { scalar(Int8.self, $0) }, { scalar(Int16.self, $0) }, { scalar(Int32.self, $0) },
    { scalar(Int64.self, $0) }, { scalar(UInt.self, $0) }, { scalar(UInt8.self, $0) }, { scalar(UInt16.self, $0) },
    { scalar(UInt32.self, $0) }, { scalar(UInt64.self, $0) }, { scalar(Double.self, $0) }, { scalar(Float.self, $0) },
    { scalar(Bool.self, $0) }, { scalar(String.self, $0) }, { scalar(Data.self, $0) }, { scalar([UInt8].self, $0) },
    { scalar(Date.self, $0) }, { scalar(UUID.self, $0) }, { scalar(SQLValue.self, $0) }, { scalar(Color.self, $0) },
    { scalar(Level.self, $0) }, { scalar(Int?.self, $0) }, { scalar(String?.self, $0) }, { scalar(Date?.self, $0) },
    { scalar(Data?.self, $0) }, { scalar(Bool?.self, $0) }, { scalar(Boxed.self, $0) }, { scalar([Int].self, $0) },
    { scalar(Row.self, $0) },
]

/// The decodes of the whole row.
private let recordChecks: [@Sendable () -> Void] = [
    { record(Optionals.self) }, { record(Required.self) }, { record(Mixed.self) }, { record(Missing.self) },
    { record(WithArray.self) }, { record(WithNested.self) }, { record(Unkeyed.self) }, { record(Rejecting.self) },
    { record(Row.self) }, { record(Reordered.self) },
]

private let checkCount = scalarChecks.count * columns.count + recordChecks.count

/// Runs decode number `n` (modulo ``checkCount``).
private func runCheck(_ n: Int) {
    let n = n % checkCount
    if n < recordChecks.count {
        recordChecks[n]()
    } else {
        let m = n - recordChecks.count
        scalarChecks[m % scalarChecks.count](columns[m / scalarChecks.count])
    }
}

/// One column decoded as `T` by `query`, `one` and `Row.decode`.
private func scalar<T: Decodable & Equatable>(_ type: T.Type, _ column: String) {
    let sql = "select \(column) from t"
    let all = outcome { try store.query(sql) as [T] }
    let first = outcome { try store.one(sql) as T? }
    let row = expectValue(try store.one(sql) as Row?, sql)
    let held = outcome { try row?.decode(T.self) }
    switch all {
    case .success(let rows):
        require(rows.count == 1, "\(sql) as [\(T.self)] gave \(rows.count) rows")
        require(same(first, .success(rows.first)), "\(sql): query as \(T.self) gave a value, one gave \(first)")
        require(same(held, .success(rows.first)), "\(sql): query as \(T.self) gave a value, Row.decode gave \(held)")
    case .failure(let error):
        // `one` turns a top-level NULL into nil; otherwise it fails as query does.
        if case .success(nil) = first {
            require(row?.values.first == .null, "\(sql): one as \(T.self) gave nil for a value that is not NULL")
        } else {
            require(same(first, .failure(error)), "\(sql): query as \(T.self) threw '\(error.message)', one gave \(first)")
        }
        require(same(held, .failure(error)), "\(sql): query as \(T.self) threw '\(error.message)', Row.decode gave \(held)")
    }
    if let value = row?.values.first { checkRules(T.self, value, all, sql) }
}

/// The whole row decoded as `T` by `query`, `one` and `Row.decode`.
private func record<T: Decodable & Equatable>(_ type: T.Type) {
    let sql = "select \(columns.joined(separator: ", ")) from t"
    let all = outcome { try store.query(sql) as [T] }
    let first = outcome { try store.one(sql) as T? }
    let row = expectValue(try store.one(sql) as Row?, sql)
    let held = outcome { try row?.decode(T.self) }
    switch all {
    case .success(let rows):
        require(rows.count == 1 && same(first, .success(rows.first)) && same(held, .success(rows.first)), "\(T.self): query, one and Row.decode disagree: \(first), \(held)")
    case .failure(let error):
        require(same(first, .failure(error)) && same(held, .failure(error)), "\(T.self): query threw '\(error.message)', one gave \(first), Row.decode \(held)")
    }
}

/// What the plain scalars must give for a value, by the decoder's documented rules.
private func checkRules<T>(_ type: T.Type, _ value: SQLValue, _ all: Outcome<[T]>, _ sql: String) {
    func expect<V: Equatable>(_ wanted: V?, as: V.Type) {
        switch (all, wanted) {
        case (.success(let rows), let wanted?):
            require(rows.first as? V == wanted, "\(sql): \(value.typeName) as \(V.self) gave a different value")
        case (.failure(let error), nil):
            require(error.code == .decoding, "\(sql): \(value.typeName) as \(V.self) threw \(error.code)")
        case (.success, nil):
            require(false, "\(sql): \(value.typeName) as \(V.self) decoded, the rules refuse it")
        case (.failure(let error), _?):
            require(false, "\(sql): \(value.typeName) as \(V.self) threw '\(error.message)', the rules accept it")
        }
    }
    switch T.self {
    case is Int64.Type:
        switch value {
        case .integer(let v): expect(v, as: Int64.self)
        case .real(let d): expect(Int64(exactly: d), as: Int64.self)
        default: expect(nil, as: Int64.self)
        }
    case is UInt8.Type:
        switch value {
        case .integer(let v): expect(UInt8(exactly: v), as: UInt8.self)
        case .real(let d): expect(UInt8(exactly: d), as: UInt8.self)
        default: expect(nil, as: UInt8.self)
        }
    case is Bool.Type:
        if case .integer(let v) = value, v == 0 || v == 1 { expect(v == 1, as: Bool.self) } else { expect(nil, as: Bool.self) }
    case is Double.Type:
        switch value {
        case .integer(let v): expect(Double(v), as: Double.self)
        case .real(let d): expect(d, as: Double.self)
        default: expect(nil, as: Double.self)
        }
    case is String.Type:
        if case .text(let s) = value { expect(s, as: String.self) } else { expect(nil, as: String.self) }
    case is [UInt8].Type:
        if case .blob(let b) = value { expect(b, as: [UInt8].self) } else { expect(nil, as: [UInt8].self) }
    default:
        break
    }
}

private typealias Outcome<T> = Result<T, StoreError>

/// Runs a decode: a value, or the `StoreError` it threw; any other error stops the run, and so
/// does a message that quotes a bound value.
private func outcome<T>(_ body: () throws -> T) -> Outcome<T> {
    do {
        return .success(try body())
    } catch let error as StoreError {
        let text = "\(error)" + String(reflecting: error)
        require(!text.contains(marker), "a message quotes a bound value: \(error)")
        return .failure(error)
    } catch {
        fatalError("a decode threw \(type(of: error)), not a StoreError: \(error)")
    }
}

private func expectValue<T>(_ body: @autoclosure () throws -> T, _ what: String) -> T {
    do {
        return try body()
    } catch {
        fatalError("\(what) failed: \(error)")
    }
}

/// Whether two outcomes are the same value, or errors with the same code and message.
private func same<T: Equatable>(_ lhs: Outcome<T>, _ rhs: Outcome<T>) -> Bool {
    switch (lhs, rhs) {
    case (.success(let a), .success(let b)): a == b
    case (.failure(let a), .failure(let b)): a.code == b.code && a.message == b.message
    default: false
    }
}

private enum Color: String, Decodable, Equatable { case red, green }
private enum Level: Int, Decodable, Equatable {
    case low = 0
    case high = 1
}

/// A single-value wrapper, decoded through the column's own decoder.
private struct Boxed: Decodable, Equatable {
    let value: Int
    init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(Int.self) }
}

private struct Optionals: Decodable, Equatable {
    let a: Int?
    let b: String?
    let c: Double?
    let d: Data?
    let e: Date?
    let f: Bool?
}

private struct Required: Decodable, Equatable {
    let a: Int64
    let b: String
    let c: Double
    let d: [UInt8]
    let e: UUID
    let f: Float
}

private struct Mixed: Decodable, Equatable {
    let a: SQLValue
    let b: Int8?
    let c: UInt64
    let d: Color?
    let e: Level
    let f: Date
}

/// The same columns asked for in another order, some as wrappers.
private struct Reordered: Decodable, Equatable {
    let f: String?
    let e: Boxed?
    let a: Date?
    let c: UInt32?
    let b: [UInt8]?
    let d: Int?
}

private struct Missing: Decodable, Equatable {
    let a: SQLValue
    let nope: Int?
}

private struct WithArray: Decodable, Equatable {
    let a: [Int]
}

private struct Inner: Decodable, Equatable {
    let x: Int
}

private struct WithNested: Decodable, Equatable {
    let a: Inner
}

private struct Unkeyed: Decodable, Equatable {
    let values: [Int]
    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var values: [Int] = []
        while !container.isAtEnd { values.append(try container.decode(Int.self)) }
        self.values = values
    }
}

/// A type whose own `init(from:)` rejects what it reads.
private struct Rejecting: Decodable, Equatable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let b = try container.decodeIfPresent(String.self, forKey: AnyKey(stringValue: "b")!)
        throw DecodingError.dataCorrupted(.init(codingPath: [AnyKey(stringValue: "b")!], debugDescription: "rejected \(b ?? "")"))
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
