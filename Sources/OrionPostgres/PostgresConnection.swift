internal import CLibPQ
import Foundation
import Orion

/// One libpq connection with its prepared statements and the session state the store tracks.
///
/// `@unchecked Sendable`: a connection is used by one thread at a time. The pool hands it over
/// under its lock, and `tx` pins it to one thread until the body returns. For the same reason
/// its state needs no dynamic exclusivity checks (`@exclusivity(unchecked)`).
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// Statements by the SQL text the caller wrote.
    @exclusivity(unchecked) private var statements: [String: Entry] = [:]
    private let statementCapacity: Int
    @exclusivity(unchecked) private var clock: UInt64 = 0
    @exclusivity(unchecked) private var nextStatementNumber = 0
    /// The role statements run as: the login's or a feature's; `unknown` after a rollback, which
    /// undoes a `SET ROLE` made inside the transaction.
    @exclusivity(unchecked) var role: RoleState = .login
    /// The value the `lastId` guard sequence gave last (see ``exec(_:sql:_:)``).
    @exclusivity(unchecked) private var guardValue: Int64 = 0
    /// Commands that go out with the next statement, in one round trip: `BEGIN` from `tx`, and
    /// role switches (`SET ROLE`, `RESET ROLE`).
    @exclusivity(unchecked) private var pending: [String] = []
    /// Whether `pending` starts with a `BEGIN` that has not gone out.
    private var beginPending: Bool { pending.first == "begin" }
    /// Roles this connection has switched to before (known to exist), so later switches can wait
    /// for the next statement; the first switch to a role runs at once, for a clear error.
    @exclusivity(unchecked) private var knownRoles: Set<String> = []
    /// Set when the server went away; the pool drops the connection instead of reusing it.
    @exclusivity(unchecked) private(set) var isBroken = false

    enum RoleState: Equatable {
        case login
        case feature(String)
        case unknown
    }

    /// A statement of feature SQL on this connection: parsed once, prepared on its first run,
    /// with the table its results are read into (and that table's decoder).
    final class Entry {
        let statement: PostgresStatementText
        let kind: StatementKind
        /// The prepared statement's name, once PostgreSQL has it.
        @exclusivity(unchecked) fileprivate(set) var name: String?
        @exclusivity(unchecked) fileprivate var table: ResultTable?
        @exclusivity(unchecked) fileprivate var lastUsed: UInt64 = 0

        init(statement: PostgresStatementText) {
            self.statement = statement
            kind = StatementKind(statement)
        }

        deinit {
            table?.releaseDecoder()
        }
    }

    /// Connects and sets up the session: UTC, ISO dates, hex bytea, UTF-8, standard strings,
    /// the statement time limit, the temporary sequence that makes `lastId` exact, and
    /// `pg_temp` last in the search path, so that no TEMP table can shadow a table.
    init(url: String, statementTimeLimit: Duration?, statementCapacity: Int) throws {
        guard let handle = PQconnectdb(url) else {
            throw StoreError(.connection, "libpq could not allocate a connection")
        }
        self.handle = handle
        self.statementCapacity = statementCapacity
        guard PQstatus(handle) == CONNECTION_OK else {
            // Every stored property is set, so deinit runs and closes the handle.
            let message = Self.trimmed(PQerrorMessage(handle))
            throw StoreError(.connection, "cannot connect to PostgreSQL at \(Self.redacted(url)): \(Self.redacted(message, url: url))")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        var setup = """
            set time zone 'UTC'; set datestyle = 'ISO, YMD'; set bytea_output = 'hex';
            set client_encoding = 'UTF8'; set standard_conforming_strings = on; set extra_float_digits = 1;
            create temporary sequence if not exists orion_last_id as bigint minvalue -9223372036854775808 start -9223372036854775808;
            grant usage on sequence pg_temp.orion_last_id to public;
            select set_config('search_path', current_setting('search_path') || ', pg_temp', false);
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

    /// The URL (or `key=value` string) with its password replaced, for messages.
    static func redacted(_ url: String) -> String {
        if !url.contains("://") {
            // key=value form: drop the value of password=…, quoted or not.
            return url.replacingOccurrences(
                of: #"password\s*=\s*('([^'\\]|\\.)*('|$)|\S+)"#, with: "password=…", options: .regularExpression)
        }
        guard var parts = URLComponents(string: url) else { return "the configured URL" }
        if parts.password != nil { parts.password = "…" }
        if let items = parts.queryItems, items.contains(where: { $0.name == "password" }) {
            parts.queryItems = items.map { $0.name == "password" ? URLQueryItem(name: "password", value: "…") : $0 }
        }
        return parts.string ?? "the configured URL"
    }

    /// libpq's message about `url` with every trace of its password cut: libpq quotes the token
    /// or the URI it could not parse, password and all (`invalid percent-encoded token: "…"`).
    static func redacted(_ message: String, url: String) -> String {
        var out = message
        // A quoted URI or connection string is replaced whole, by its redacted form.
        for quoted in quotedParts(of: out) where quoted.contains("://") || quoted.contains("=") {
            out = out.replacingOccurrences(of: "\"\(quoted)\"", with: "\"\(redacted(url))\"")
        }
        for secret in passwordCandidates(in: url) where !secret.isEmpty {
            out = out.replacingOccurrences(of: secret, with: "…")
            // A quoted token that is part of the password (libpq quotes what it choked on).
            for quoted in quotedParts(of: out) where quoted.count >= 3 && secret.contains(quoted) {
                out = out.replacingOccurrences(of: "\"\(quoted)\"", with: "\"…\"")
            }
        }
        return out
    }

    /// What may be the password of `url`, as written and percent-decoded: from the user part of
    /// a URI (up to the last `@`, even a malformed one), a `password=` query parameter, or a
    /// `password=` key of the key=value form.
    static func passwordCandidates(in url: String) -> [String] {
        var found: [String] = []
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                let raw = String(rest[rest.index(after: colon)..<at])
                found.append(raw)
                if let slash = raw.firstIndex(of: "/") { found.append(String(raw[..<slash])) }
            }
        }
        let pattern = #"password\s*=\s*('(?:[^'\\]|\\.)*'?|[^&\s]*)"#
        var searchRange = url.startIndex..<url.endIndex
        while let match = url.range(of: pattern, options: [.regularExpression, .caseInsensitive], range: searchRange) {
            var value = String(url[match])
            if let equals = value.firstIndex(of: "=") { value = String(value[value.index(after: equals)...]).trimmingCharacters(in: .whitespaces) }
            found.append(value)
            if value.hasPrefix("'") {
                var inner = String(value.dropFirst())
                if inner.hasSuffix("'") { inner.removeLast() }
                found.append(inner)
                found.append(inner.replacingOccurrences(of: "\\'", with: "'").replacingOccurrences(of: "\\\\", with: "\\"))
            }
            searchRange = match.upperBound..<url.endIndex
        }
        var decoded = found.compactMap { $0.removingPercentEncoding }
        decoded.append(contentsOf: found)
        return Array(Set(decoded.filter { !$0.isEmpty })).sorted { $0.count > $1.count }
    }

    /// The parts of `text` between double quotes.
    private static func quotedParts(of text: String) -> [String] {
        var parts: [String] = []
        var current: String?
        for character in text {
            if character == "\"" {
                if let part = current { parts.append(part); current = nil } else { current = "" }
            } else if current != nil {
                current!.append(character)
            }
        }
        return parts
    }

    private static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "no message" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Plain commands

    /// Runs store-written SQL with the simple protocol (several statements allowed, no
    /// parameters) and returns the first column of the last row, if any.
    @discardableResult
    func simpleQuery(_ sql: String) throws -> String? {
        try simpleRows(sql).last?.first ?? nil
    }

    /// Starts a transaction: BEGIN is sent with the next statement.
    func begin() {
        pending.append("begin")
    }

    /// Ends the transaction `begin()` started; when no statement ran, there is nothing to send.
    func finish(commit: Bool) throws {
        if beginPending {
            // Nothing ran: drop BEGIN and any role switch queued after it.
            if pending.count > 1 { role = .unknown }
            pending.removeAll()
            return
        }
        try control(commit ? "commit" : "rollback")
    }

    /// Sends transaction control (`SAVEPOINT`, `RELEASE`, `ROLLBACK TO`, `COMMIT`, `ROLLBACK`),
    /// with a pending BEGIN but without queued role switches: in an aborted transaction a
    /// `SET ROLE` would fail first and the `ROLLBACK` behind it would never run. The role is
    /// then unknown, and the next statement sets it again.
    func control(_ sql: String) throws {
        let text = beginPending ? "begin; " + sql : sql
        if pending.count > (beginPending ? 1 : 0) { role = .unknown }
        pending.removeAll()
        let result = PQexec(handle, text)
        defer { PQclear(result) }
        try check(result, sql: sql)
        // PostgreSQL answers the COMMIT of a transaction in which a statement failed with
        // ROLLBACK, and no error: nothing was committed, and the caller must hear so.
        if sql == "commit", let result, String(cString: PQcmdStatus(result)) == "ROLLBACK" {
            throw StoreError(
                .sql,
                "PostgreSQL rolled the transaction back instead of committing it: a statement in it failed, and that aborts the whole transaction on PostgreSQL; nothing in it was committed (wrap a statement that may fail in a nested tx { } to go on without it)",
                sql: sql, sqlState: "25P02")
        }
    }

    /// Runs store-written SQL with the simple protocol and returns the last result's rows as text.
    func simpleRows(_ sql: String) throws -> [[String?]] {
        var text = sql
        let carried = !pending.isEmpty
        if carried {
            text = (pending + [sql]).joined(separator: "; ")
            pending.removeAll()
        }
        let result = PQexec(handle, text)
        defer { PQclear(result) }
        do {
            try check(result, sql: sql)
        } catch {
            // A failed simple query undoes the SET ROLE it carried.
            if carried { role = .unknown }
            throw error
        }
        let columns = PQnfields(result)
        return (0..<PQntuples(result)).map { r in
            (0..<columns).map { c in PQgetisnull(result, r, c) != 0 ? nil : String(cString: PQgetvalue(result, r, c)) }
        }
    }

    /// Switches the role statements run as, when it differs.
    /// Switches the role statements run as, when it differs: at once the first time this
    /// connection takes a feature's role (so a missing role fails here, clearly), and afterwards
    /// together with the next statement.
    func use(role target: RoleState) throws {
        guard role != target else { return }
        switch target {
        case .login, .unknown:
            pending.append("reset role")
            role = .login
        case .feature(let name) where knownRoles.contains(name):
            pending.append("set role \(SQLText.quoteIdentifier(name))")
            role = target
        case .feature(let name):
            role = .unknown
            try simpleQuery("set role \(SQLText.quoteIdentifier(name))")
            knownRoles.insert(name)
            role = target
        }
    }

    // MARK: Feature statements

    /// The statement for `sql`: from the cache, or parsed (not yet prepared) and cached.
    func entry(for sql: String) throws -> Entry {
        clock &+= 1
        if let entry = statements[sql] {
            entry.lastUsed = clock
            return entry
        }
        let entry = Entry(statement: try PostgresSQL.single(sql))
        entry.lastUsed = clock
        if statements.count >= statementCapacity, let oldest = statements.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            statements[oldest.key] = nil
            if let name = oldest.value.name { _ = try? simpleQuery("deallocate \(name)") }
        }
        statements[sql] = entry
        return entry
    }

    /// Forgets a prepared statement whose result shape changed under it (a table altered since).
    func forget(_ sql: String) {
        guard let entry = statements.removeValue(forKey: sql), let name = entry.name else { return }
        _ = try? simpleQuery("deallocate \(name)")
    }

    /// Runs one feature statement and returns its rows (valid until the entry runs again).
    func query(_ entry: Entry, sql: String, _ params: [SQLValue]) throws -> ResultTable {
        let result = try execute(entry, sql: sql, params)
        defer { PQclear(result) }
        return read(result, into: entry)
    }

    /// Runs one feature statement for its effect: affected rows and, after an insert, the value
    /// a sequence gave it.
    ///
    /// `lastId` comes from a temporary sequence per connection: its value is read with
    /// `lastval()` right after an insert that added rows. If `lastval()` still equals the guard's
    /// own last value, no sequence gave a value during the insert and `lastId` is 0; otherwise
    /// it is that value, and the guard draws a new one for next time.
    func exec(_ entry: Entry, sql: String, _ params: [SQLValue]) throws -> ExecResult {
        let result = try execute(entry, sql: sql, params)
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

    /// Prepares `entry` on its first run, then runs it.
    private func execute(_ entry: Entry, sql: String, _ params: [SQLValue]) throws -> OpaquePointer {
        let statement = entry.statement
        guard params.count == statement.parameterCount else {
            throw StoreError.parameterCountMismatch(expected: statement.parameterCount, given: params.count, sql: sql)
        }
        let name: String
        if let prepared = entry.name {
            name = prepared
        } else {
            nextStatementNumber += 1
            name = "orion_\(nextStatementNumber)"
            let result = PQprepare(handle, name, statement.text, 0, nil)
            defer { PQclear(result) }
            try check(result, sql: sql)
            entry.name = name
        }
        let carried = !pending.isEmpty
        let result = try withParameters(params, sql: sql) { values, lengths, formats in
            if carried {
                defer { pending.removeAll() }
                return pipeline(pending, name, Int32(params.count), values, lengths, formats)
            }
            return PQexecPrepared(handle, name, Int32(params.count), values, lengths, formats, 0)
        }
        do {
            try check(result, sql: sql)
        } catch {
            PQclear(result)
            // A failure rolls back the SET ROLE that went out with it.
            if carried { role = .unknown }
            throw error
        }
        return result!
    }

    /// The pending commands and the prepared statement in one round trip (libpq's pipeline
    /// mode); returns the statement's result, or the first failing command's, or `nil` when the
    /// connection failed.
    private func pipeline(
        _ commands: [String], _ name: String, _ count: Int32, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
        _ lengths: UnsafePointer<Int32>?, _ formats: UnsafePointer<Int32>?
    ) -> OpaquePointer? {
        guard PQenterPipelineMode(handle) == 1 else {
            for command in commands {
                let result = PQexec(handle, command)
                guard PQresultStatus(result) == PGRES_COMMAND_OK else { return result }
                PQclear(result)
            }
            return PQexecPrepared(handle, name, count, values, lengths, formats, 0)
        }
        // A pipeline left with unread results cannot be left; the pool then drops the connection.
        defer { if PQexitPipelineMode(handle) != 1 { isBroken = true } }
        for command in commands {
            guard PQsendQueryParams(handle, command, 0, nil, nil, nil, nil, 0) == 1 else { return nil }
        }
        guard PQsendQueryPrepared(handle, name, count, values, lengths, formats, 0) == 1,
              PQpipelineSync(handle) == 1
        else { return nil }
        // Each query's results end with a NULL; the sync point comes last.
        func next() -> OpaquePointer? {
            var first: OpaquePointer?
            while let result = PQgetResult(handle) {
                if first == nil { first = result } else { PQclear(result) }
            }
            return first
        }
        var failure: OpaquePointer?
        for _ in commands {
            let result = next()
            if failure == nil, PQresultStatus(result) != PGRES_COMMAND_OK {
                failure = result
            } else {
                PQclear(result)
            }
        }
        let statement = next()
        if let sync = PQgetResult(handle) { PQclear(sync) }
        guard let failure else { return statement }
        PQclear(statement)
        return failure
    }

    // Parameter buffers, reused by every call on this connection.
    @exclusivity(unchecked) private var parameterBytes: [UInt8] = []
    @exclusivity(unchecked) private var parameterOffsets: [Int] = []
    @exclusivity(unchecked) private var parameterLengths: [Int32] = []
    @exclusivity(unchecked) private var parameterFormats: [Int32] = []
    @exclusivity(unchecked) private var parameterPointers: [UnsafePointer<CChar>?] = []

    /// Parameters in libpq's form: text for numbers and strings (PostgreSQL infers each type from
    /// where the `$n` stands, so `1` fits a boolean column and a bigint alike), binary for bytes.
    private func withParameters<R>(
        _ params: [SQLValue], sql: String,
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) throws -> R {
        if params.isEmpty { return body(nil, nil, nil) }
        parameterBytes.removeAll(keepingCapacity: true)
        parameterOffsets.removeAll(keepingCapacity: true)
        parameterLengths.removeAll(keepingCapacity: true)
        parameterFormats.removeAll(keepingCapacity: true)
        var binary = false
        for (index, value) in params.enumerated() {
            var length: Int32 = 0
            var format: Int32 = 0
            switch value {
            case .null:
                parameterOffsets.append(-1)
                parameterLengths.append(0)
                parameterFormats.append(0)
                continue
            case .integer(let v):
                parameterOffsets.append(parameterBytes.count)
                Self.appendDecimal(v, to: &parameterBytes)
            case .real(let v):
                parameterOffsets.append(parameterBytes.count)
                parameterBytes.append(contentsOf: Self.text(of: v).utf8)
            case .text(let v):
                if v.utf8.contains(0) {
                    throw StoreError(
                        .unsupportedParameter,
                        "parameter \(index + 1) is text with a NUL character, which PostgreSQL's text cannot hold; bind it as bytes ([UInt8] or Data) into a bytea column",
                        sql: sql)
                }
                parameterOffsets.append(parameterBytes.count)
                parameterBytes.append(contentsOf: v.utf8)
            case .blob(let v):
                parameterOffsets.append(parameterBytes.count)
                parameterBytes.append(contentsOf: v)
                length = Int32(v.count)
                format = 1
                binary = true
            }
            parameterBytes.append(0)
            parameterLengths.append(length)
            parameterFormats.append(format)
        }
        return parameterBytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            parameterPointers.removeAll(keepingCapacity: true)
            for offset in parameterOffsets { parameterPointers.append(offset < 0 ? nil : base + offset) }
            // Text parameters need neither lengths nor formats: libpq reads them to their NUL.
            return binary ? body(parameterPointers, parameterLengths, parameterFormats) : body(parameterPointers, nil, nil)
        }
    }

    /// Appends `value` in decimal digits.
    private static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for k in stride(from: count - 1, through: 0, by: -1) { bytes.append(raw[k]) }
        }
    }

    /// A double as PostgreSQL's float8 input reads it, exactly.
    private static func text(of value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return value.description
    }

    // MARK: Results

    /// A result's rows as SQL values, by column type, into the entry's table: integers (and
    /// `oid`) as `.integer`, floats as `.real`, numeric as `.integer` when whole and in range
    /// else `.real`, boolean as `.integer` 0/1, bytea as `.blob`, everything else (text,
    /// timestamps, uuid, json, …) as `.text` in PostgreSQL's output format.
    private func read(_ result: OpaquePointer, into entry: Entry) -> ResultTable {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        let table: ResultTable
        if let existing = entry.table, existing.columnCount == columns {
            table = existing
        } else {
            entry.table?.releaseDecoder()
            table = ResultTable(names: (0..<columns).map { String(cString: PQfname(result, Int32($0))) })
            entry.table = table
        }
        table.load(rows: rows) { values in
            for r in 0..<Int32(rows) {
                for c in 0..<Int32(columns) {
                    if PQgetisnull(result, r, c) != 0 {
                        values.append(.null)
                    } else {
                        values.append(Self.value(PQgetvalue(result, r, c)!, count: Int(PQgetlength(result, r, c)), type: PQftype(result, c)))
                    }
                }
            }
        }
        return table
    }

    private static func value(_ text: UnsafeMutablePointer<CChar>, count: Int, type: Oid) -> SQLValue {
        let bytes = UnsafeRawBufferPointer(start: text, count: count).bindMemory(to: UInt8.self)
        // Type OIDs from PostgreSQL's pg_type.dat, fixed since forever.
        switch type {
        case 16:  // bool
            return .integer(bytes.first == UInt8(ascii: "t") ? 1 : 0)
        case 20, 21, 23, 26, 28:  // int8, int2, int4, oid, xid
            return .integer(integer(bytes) ?? 0)
        case 700, 701:  // float4, float8
            return .real(strtod(text, nil))
        case 1700:  // numeric
            if let whole = integer(bytes) { return .integer(whole) }
            return .real(strtod(text, nil))
        case 17:  // bytea
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

    /// PostgreSQL's report as a `StoreError`: SQLSTATE, the primary message, and the SQL.
    /// `DETAIL` (which quotes row data) goes to `StoreError.detail` only; for data exceptions
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
