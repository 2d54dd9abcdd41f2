internal import CLibPQ
import Foundation
import Orion

/// One libpq connection with its prepared statements and the session state the store tracks.
///
/// `@unchecked Sendable`: a connection is used by one thread at a time. The pool hands it over
/// under its lock, and `tx` pins it to one thread until the body returns.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// Prepared statements by the SQL text the caller wrote.
    private var statements: [String: Prepared] = [:]
    private let statementCapacity: Int
    private var clock: UInt64 = 0
    private var nextStatementNumber = 0
    /// The role statements run as: `nil` is the login; `.some(role)` a feature's role.
    /// `unknown` after a rollback, which undoes a `SET ROLE` made inside the transaction.
    var role: RoleState = .login
    /// The value the `lastId` guard sequence gave last (see ``exec(_:_:words:)``).
    private var guardValue: Int64 = 0
    /// Set when the server went away; the pool drops the connection instead of reusing it.
    private(set) var isBroken = false

    enum RoleState: Equatable {
        case login
        case feature(String)
        case unknown
    }

    private final class Prepared {
        let name: String
        let parameterCount: Int
        var lastUsed: UInt64 = 0
        init(name: String, parameterCount: Int) {
            self.name = name
            self.parameterCount = parameterCount
        }
    }

    /// Connects and sets up the session: UTC, ISO dates, hex bytea, UTF-8, standard strings,
    /// the statement time limit, and the temporary sequence that makes `lastId` exact.
    init(url: String, statementTimeLimit: Duration?, statementCapacity: Int) throws {
        guard let handle = PQconnectdb(url) else {
            throw StoreError(.connection, "libpq could not allocate a connection")
        }
        self.handle = handle
        self.statementCapacity = statementCapacity
        guard PQstatus(handle) == CONNECTION_OK else {
            // Every stored property is set, so deinit runs and closes the handle.
            let message = Self.trimmed(PQerrorMessage(handle))
            throw StoreError(.connection, "cannot connect to PostgreSQL at \(Self.redacted(url)): \(message)")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        var setup = """
            set time zone 'UTC'; set datestyle = 'ISO, YMD'; set bytea_output = 'hex';
            set client_encoding = 'UTF8'; set standard_conforming_strings = on; set extra_float_digits = 1;
            create temporary sequence if not exists orion_last_id as bigint minvalue -9223372036854775808 start -9223372036854775808;
            grant usage on sequence pg_temp.orion_last_id to public;
            select nextval('pg_temp.orion_last_id');
            """
        if let limit = statementTimeLimit {
            let ms = max(1, limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
            setup = "set statement_timeout = \(ms); " + setup
        }
        guardValue = try simpleQuery(setup).flatMap { Int64($0) } ?? 0
        // English messages let fence errors name the table; only a superuser may set this.
        _ = try? simpleQuery("set lc_messages = 'C'")
    }

    deinit {
        PQfinish(handle)
    }

    /// The URL with its password replaced, for messages.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "…"
        return parts.string ?? "the configured URL"
    }

    private static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "no message" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The server process serving this connection (for tests that end it).
    var backendPID: Int32 { PQbackendPID(handle) }

    // MARK: Plain commands

    /// Runs store-written SQL with the simple protocol (several statements allowed, no
    /// parameters) and returns the first column of the last row, if any.
    @discardableResult
    func simpleQuery(_ sql: String) throws -> String? {
        try simpleRows(sql).last?.first ?? nil
    }

    /// Runs store-written SQL with the simple protocol and returns the last result's rows as text.
    func simpleRows(_ sql: String) throws -> [[String?]] {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql: sql)
        let columns = PQnfields(result)
        return (0..<PQntuples(result)).map { r in
            (0..<columns).map { c in PQgetisnull(result, r, c) != 0 ? nil : String(cString: PQgetvalue(result, r, c)) }
        }
    }

    /// Switches the role statements run as, when it differs.
    func use(role target: RoleState) throws {
        guard role != target else { return }
        switch target {
        case .login, .unknown:
            try simpleQuery("reset role")
            role = .login
        case .feature(let name):
            try simpleQuery("set role \(PostgresStore.quoteIdentifier(name))")
            role = target
        }
    }

    // MARK: Feature statements

    /// Runs one feature statement and returns its rows.
    func query(_ statement: PostgresStatementText, sql: String, _ params: [SQLValue]) throws -> ResultTable {
        let result = try execute(statement, sql: sql, params)
        defer { PQclear(result) }
        return Self.table(result)
    }

    /// Runs one feature statement for its effect: affected rows and, after an insert, the value
    /// a sequence gave it.
    ///
    /// `lastId` comes from a temporary sequence per connection: its value is read with
    /// `lastval()` right after an insert that added rows. If `lastval()` still equals the guard's
    /// own last value, no sequence gave a value during the insert and `lastId` is 0; otherwise
    /// it is that value, and the guard draws a new one for next time.
    func exec(_ statement: PostgresStatementText, sql: String, _ params: [SQLValue]) throws -> ExecResult {
        let result = try execute(statement, sql: sql, params)
        let tag = String(cString: PQcmdStatus(result))
        let counted = tag.hasPrefix("INSERT ") || tag.hasPrefix("UPDATE ") || tag.hasPrefix("DELETE ") || tag.hasPrefix("MERGE ")
        let changes = counted ? Int(String(cString: PQcmdTuples(result))) ?? 0 : 0
        PQclear(result)
        guard tag.hasPrefix("INSERT "), changes > 0 else { return ExecResult(changes: changes, lastId: 0) }
        let check = PQexec(handle, "select lastval(), nextval('pg_temp.orion_last_id')")
        defer { PQclear(check) }
        try self.check(check, sql: sql)
        let last = Int64(String(cString: PQgetvalue(check, 0, 0))) ?? 0
        let next = Int64(String(cString: PQgetvalue(check, 0, 1))) ?? 0
        defer { guardValue = next }
        return ExecResult(changes: changes, lastId: last == guardValue ? 0 : last)
    }

    /// Prepares (once per connection) and runs `statement`.
    private func execute(_ statement: PostgresStatementText, sql: String, _ params: [SQLValue]) throws -> OpaquePointer {
        guard params.count == statement.parameterCount else {
            throw StoreError.parameterCountMismatch(expected: statement.parameterCount, given: params.count, sql: sql)
        }
        let prepared = try prepare(statement, sql: sql)
        clock &+= 1
        prepared.lastUsed = clock
        let result = try withParameters(params, sql: sql) { values, lengths, formats in
            PQexecPrepared(handle, prepared.name, Int32(params.count), values, lengths, formats, 0)
        }
        do {
            try check(result, sql: sql)
        } catch {
            PQclear(result)
            throw error
        }
        return result!
    }

    private func prepare(_ statement: PostgresStatementText, sql: String) throws -> Prepared {
        if let prepared = statements[sql] { return prepared }
        if statements.count >= statementCapacity, let oldest = statements.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            statements[oldest.key] = nil
            _ = try? simpleQuery("deallocate \(oldest.value.name)")
        }
        nextStatementNumber += 1
        let prepared = Prepared(name: "orion_\(nextStatementNumber)", parameterCount: statement.parameterCount)
        let result = PQprepare(handle, prepared.name, statement.text, 0, nil)
        defer { PQclear(result) }
        try check(result, sql: sql)
        statements[sql] = prepared
        return prepared
    }

    /// Forgets a prepared statement whose result shape changed under it (a table altered since).
    func forget(_ sql: String) {
        guard let prepared = statements.removeValue(forKey: sql) else { return }
        _ = try? simpleQuery("deallocate \(prepared.name)")
    }

    /// Parameters in libpq's form: text for numbers and strings (PostgreSQL infers each type from
    /// where the `$n` stands, so `1` fits a boolean column and a bigint alike), binary for bytes.
    private func withParameters<R>(
        _ params: [SQLValue], sql: String,
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) throws -> R {
        if params.isEmpty { return body(nil, nil, nil) }
        var storage: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        offsets.reserveCapacity(params.count)
        for (index, value) in params.enumerated() {
            switch value {
            case .null:
                offsets.append(-1)
                lengths.append(0)
                formats.append(0)
                continue
            case .integer(let v):
                offsets.append(storage.count)
                storage.append(contentsOf: String(v).utf8)
            case .real(let v):
                offsets.append(storage.count)
                storage.append(contentsOf: Self.text(of: v).utf8)
            case .text(let v):
                if v.utf8.contains(0) {
                    throw StoreError(
                        .unsupportedParameter,
                        "parameter \(index + 1) is text with a NUL character, which PostgreSQL's text cannot hold; bind it as bytes ([UInt8] or Data) into a bytea column",
                        sql: sql)
                }
                offsets.append(storage.count)
                storage.append(contentsOf: v.utf8)
            case .blob(let v):
                offsets.append(storage.count)
                storage.append(contentsOf: v)
                lengths.append(Int32(v.count))
                formats.append(1)
                storage.append(0)
                continue
            }
            lengths.append(0)
            formats.append(0)
            storage.append(0)
        }
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { $0 < 0 ? nil : base + $0 }
            return body(pointers, lengths, formats)
        }
    }

    /// A double as PostgreSQL's float8 input reads it, exactly.
    private static func text(of value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return value.description
    }

    // MARK: Results

    private static let boolOID: Oid = 16
    private static let byteaOID: Oid = 17
    private static let integerOIDs: Set<Oid> = [20, 21, 23, 26, 28]
    private static let floatOIDs: Set<Oid> = [700, 701]
    private static let numericOID: Oid = 1700

    /// A result's rows as SQL values, by column type: integers (and `oid`) as `.integer`, floats
    /// as `.real`, numeric as `.integer` when whole and in range else `.real`, boolean as
    /// `.integer` 0/1, bytea as `.blob`, everything else (text, timestamps, uuid, json, …) as
    /// `.text` in PostgreSQL's output format.
    private static func table(_ result: OpaquePointer) -> ResultTable {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var names: [String] = []
        var kinds: [Oid] = []
        names.reserveCapacity(columns)
        for c in 0..<columns {
            names.append(String(cString: PQfname(result, Int32(c))))
            kinds.append(PQftype(result, Int32(c)))
        }
        var values: [SQLValue] = []
        values.reserveCapacity(rows * columns)
        for r in 0..<Int32(rows) {
            for c in 0..<columns {
                let column = Int32(c)
                if PQgetisnull(result, r, column) != 0 {
                    values.append(.null)
                    continue
                }
                let text = PQgetvalue(result, r, column)!
                let count = Int(PQgetlength(result, r, column))
                values.append(value(text, count: count, type: kinds[c]))
            }
        }
        return ResultTable(names: names, values: values)
    }

    private static func value(_ text: UnsafeMutablePointer<CChar>, count: Int, type: Oid) -> SQLValue {
        let bytes = UnsafeRawBufferPointer(start: text, count: count).bindMemory(to: UInt8.self)
        switch type {
        case boolOID:
            return .integer(bytes.first == UInt8(ascii: "t") ? 1 : 0)
        case _ where integerOIDs.contains(type):
            return .integer(integer(bytes) ?? 0)
        case _ where floatOIDs.contains(type):
            return .real(strtod(text, nil))
        case numericOID:
            if let whole = integer(bytes) { return .integer(whole) }
            return .real(strtod(text, nil))
        case byteaOID:
            return .blob(hexBytes(bytes))
        default:
            return .text(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Digits with an optional minus, when they fit an `Int64`; `nil` otherwise.
    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { i = 1 }
        guard i < bytes.count else { return nil }
        var v: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }

    /// bytea's hex output (`\x0102ff`) as bytes.
    private static func hexBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") else {
            return Array(bytes)
        }
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: c - UInt8(ascii: "A") + 10
            }
        }
        let count = (bytes.count - 2) / 2
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            for k in 0..<count {
                out[k] = nibble(bytes[2 + 2 * k]) << 4 | nibble(bytes[3 + 2 * k])
            }
            initialized = count
        }
    }

    // MARK: Errors

    /// Throws the failure `result` reports, if it reports one.
    private func check(_ result: OpaquePointer?, sql: String) throws {
        if let result {
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                return
            default:
                break
            }
        }
        if PQstatus(handle) != CONNECTION_OK {
            isBroken = true
            throw StoreError(
                .connection,
                "the connection to PostgreSQL was lost (\(Self.trimmed(PQerrorMessage(handle)))); the statement's outcome is unknown, and the next call opens a new connection",
                sql: sql)
        }
        guard let result else {
            throw StoreError(.connection, "libpq returned no result: \(Self.trimmed(PQerrorMessage(handle)))", sql: sql)
        }
        throw Self.error(result, sql: sql)
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    /// PostgreSQL's report as a ``StoreError``: SQLSTATE, the primary message, and the SQL.
    /// `DETAIL` (which quotes row data) goes to ``StoreError/detail`` only; for data exceptions
    /// (class 22), whose primary message quotes the offending value, quoted parts are cut from
    /// the message and kept in `detail`.
    static func error(_ result: OpaquePointer, sql: String) -> StoreError {
        let state = field(result, orion_pg_diag_sqlstate) ?? "XX000"
        var message = field(result, orion_pg_diag_message_primary) ?? "PostgreSQL reported an error"
        var detail = field(result, orion_pg_diag_message_detail)
        if state.hasPrefix("22") {
            let redacted = redactQuotes(message)
            if redacted != message {
                detail = [message, detail].compactMap { $0 }.joined(separator: " — ")
                message = redacted
            }
        }
        if let hint = field(result, orion_pg_diag_message_hint) { message += " (hint: \(hint))" }
        let code: StoreError.Code
        switch state {
        case _ where state.hasPrefix("23"): code = .constraint
        case "57014":
            code = .interrupted
            message = "the statement ran past the store's statement time limit and was cancelled (\(message))"
        case "40001", "40P01", "55P03": code = .busy
        case _ where state.hasPrefix("08"), "57P01", "57P02", "57P03": code = .connection
        case "53100", "58030": code = .io
        case "25P02":
            code = .sql
            message = "an earlier statement in this tx failed, so PostgreSQL refuses the rest of the transaction; wrap a statement that may fail in a nested tx { } to recover from its failure"
        default: code = .sql
        }
        return StoreError(code, message, sql: sql, sqlState: state, detail: detail)
    }

    /// `message` with every double-quoted part replaced by `"…"`.
    private static func redactQuotes(_ message: String) -> String {
        var out = ""
        var inQuote = false
        for ch in message {
            if ch == "\"" {
                if inQuote { out += "…\"" } else { out.append(ch) }
                inQuote.toggle()
            } else if !inQuote {
                out.append(ch)
            }
        }
        return out
    }
}
