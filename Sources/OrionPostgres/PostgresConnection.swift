internal import CLibPQ
import Foundation
import Orion

/// One libpq connection with its prepared statements and the session state the store tracks.
///
/// `@unchecked Sendable`: a connection is used by one thread at a time. The pool hands it over
/// under its lock, and `tx` pins it to one thread until the body returns. For the same reason
/// its state needs no dynamic exclusivity checks (`@exclusivity(unchecked)`).
final class PostgresConnection: @unchecked Sendable {
    let handle: OpaquePointer
    /// Statements by the SQL text the caller wrote.
    @exclusivity(unchecked) var statements: StatementCache
    @exclusivity(unchecked) private var nextStatementNumber = 0
    /// Parameter buffers, reused by every call on this connection.
    @exclusivity(unchecked) private var parameters = ParameterBuffers()
    /// The role statements run as: the login's or a feature's; `unknown` after a rollback, which
    /// undoes a `SET ROLE` made inside the transaction.
    @exclusivity(unchecked) var role: RoleState = .login
    /// Commands that go out with the next statement, in one round trip: `BEGIN` from `tx`, and
    /// role switches (`SET ROLE`, `RESET ROLE`).
    @exclusivity(unchecked) private var pending: [String] = []
    /// Whether `pending` starts with a `BEGIN` that has not gone out.
    private var beginPending: Bool { pending.first == "begin" }
    /// How many commands at the start of `pending` open the transaction or limit its lock
    /// waits: `BEGIN`, and a lane write's `SET LOCAL lock_timeout`. They go out before a
    /// statement is prepared (preparing takes the table's lock), role switches with it.
    private var openingCount: Int {
        pending.prefix { $0 == "begin" || $0.hasPrefix(Self.lockTimeoutCommand) }.count
    }
    private static let lockTimeoutCommand = "set local lock_timeout = "
    /// Whether the session's transactions are read-only (`default_transaction_read_only`), as
    /// the store set it: on while the connection serves `read { }` bodies, so that PostgreSQL
    /// itself refuses a write the store's own check cannot see (a function that writes). `nil`:
    /// unknown. See ``readOnly``.
    @exclusivity(unchecked) private var readOnlySet: Bool? = false

    /// Whether the session's transactions are read-only now. PostgreSQL 14 and later report the
    /// setting on every change (a function that ran `SET default_transaction_read_only` too),
    /// so this is the server's word where there is one, and what the store set elsewhere.
    var readOnly: Bool? {
        if let reported = PQparameterStatus(handle, "default_transaction_read_only") {
            return String(cString: reported) == "on"
        }
        return readOnlySet
    }

    /// Whether `error`, just thrown by a statement of the open transaction, leaves it unusable:
    /// PostgreSQL aborted it (a failure while preparing or running the statement), or would
    /// have, had the pending BEGIN gone out before the statement's failed prepare. Errors the
    /// store raised without the server (a refused form, a decoding error) leave it as it was.
    func transactionFailed(by error: any Error) -> Bool {
        // A connection found broken (lost, or its session changed under a feature's statement)
        // takes no more statements: the transaction is over.
        if isBroken || PQtransactionStatus(handle) == PQTRANS_INERROR { return true }
        guard let error = error as? StoreError else { return false }
        return error.code == .connection || (beginPending && error.sqlState != nil)
    }
    /// Roles this connection has switched to before (known to exist), so later switches can wait
    /// for the next statement; the first switch to a role runs at once, for a clear error.
    @exclusivity(unchecked) private var knownRoles: Set<String> = []
    /// The role that last ran statements here: what its calls left in the session's sequence
    /// state (`lastval()`, `currval()`) is discarded (`DISCARD SEQUENCES`, sent with the next
    /// statement) before a call of another role runs one.
    @exclusivity(unchecked) var leftBy: RoleState?
    /// Whether a `DISCARD SEQUENCES` is owed: queued (or to be queued) and not yet sent.
    @exclusivity(unchecked) private var discardOwed = false
    /// Whether the call the pool handed this connection to has not chosen its role yet: its
    /// first statement is the first of a new caller, even inside a transaction it opened.
    @exclusivity(unchecked) private var callStarting = false
    private static let discardSequences = "discard sequences"
    /// Set when the server went away; the pool drops the connection instead of reusing it.
    @exclusivity(unchecked) var isBroken = false

    enum RoleState: Hashable {
        case login
        case feature(String)
        case unknown
    }

    /// Connects and sets up the session: UTC, ISO dates, hex bytea, UTF-8, standard strings,
    /// the statement time limit, and `pg_temp` last in the search path, so that no TEMP table
    /// can shadow a table.
    init(url: String, statementTimeLimit: Duration?, statementCapacity: Int) throws {
        guard let handle = PQconnectdb(url) else {
            throw StoreError(.connection, "libpq could not allocate a connection")
        }
        self.handle = handle
        statements = StatementCache(capacity: statementCapacity)
        guard PQstatus(handle) == CONNECTION_OK else {
            // Every stored property is set, so deinit runs and closes the handle.
            let message = Self.trimmed(PQerrorMessage(handle))
            throw StoreError(.connection, "cannot connect to PostgreSQL at \(Self.redacted(url)): \(Self.redacted(message, url: url))")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        var setup = """
            set time zone 'UTC'; set datestyle = 'ISO, YMD'; set bytea_output = 'hex';
            set client_encoding = 'UTF8'; set standard_conforming_strings = on; set extra_float_digits = 1;
            select set_config('search_path', current_setting('search_path') || ', pg_temp', false);
            """
        if let limit = statementTimeLimit {
            let ms = max(1, limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
            setup = "set statement_timeout = \(ms); " + setup
        }
        try simpleQuery(setup)
        // English messages let fence errors name the table; only a superuser may set this.
        _ = try? simpleQuery("set lc_messages = 'C'")
    }

    deinit {
        PQfinish(handle)
    }

    /// Whether the connection can take a call: checked as the pool hands it out, so that a
    /// server restart (or a terminated backend) costs no caller an error when nothing had been
    /// sent. An idle connection has nothing to read: the store reads every reply up to
    /// ReadyForQuery, and its pooled connections listen to no channel. When its socket is
    /// readable, the server spoke unasked, and what it says unasked is why it is leaving (the
    /// FATAL message of a restart, an administrator's `pg_terminate_backend`,
    /// `idle_session_timeout`), or the close itself. Such a connection is dropped, unread. One
    /// `poll` with no wait: nothing of the cost of a round trip.
    var isAlive: Bool {
        guard !isBroken, PQstatus(handle) == CONNECTION_OK, PQsocket(handle) >= 0 else {
            isBroken = true
            return false
        }
        var ready = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, 0) == 0 else {
            isBroken = true
            return false
        }
        return true
    }

    // MARK: Plain commands

    /// Runs store-written SQL with the simple protocol (several statements allowed, no
    /// parameters) and returns the first column of the last row, if any.
    @discardableResult
    func simpleQuery(_ sql: String) throws -> String? {
        try simpleRows(sql).last?.first ?? nil
    }

    /// Starts a transaction: BEGIN is sent with the next statement, and with it, for a lane's
    /// write, how long any of its statements may wait for a lock (`SET LOCAL lock_timeout`).
    func begin(lockTimeoutMilliseconds: Int? = nil) {
        pending.append("begin")
        if let lockTimeoutMilliseconds { limitLockWaits(milliseconds: lockTimeoutMilliseconds) }
    }

    /// How long the transaction's next statements may wait for a lock: a lane write's time
    /// left, sent with the next statement (`SET LOCAL lock_timeout`), so that all its waits
    /// together stay within its deadline.
    func limitLockWaits(milliseconds: Int) {
        let command = Self.lockTimeoutCommand + "\(max(1, milliseconds))"
        let opening = openingCount
        if opening > 0, pending[opening - 1].hasPrefix(Self.lockTimeoutCommand) {
            pending[opening - 1] = command
        } else {
            pending.insert(command, at: opening)
        }
    }

    /// Makes the session's transactions read-only, or not (one round trip, only when it
    /// changes; the pool hands out connections already in the wanted state where it can).
    func use(readOnly wanted: Bool) throws {
        guard readOnly != wanted else { return }
        readOnlySet = nil
        try simpleQuery(wanted ? "set default_transaction_read_only = on" : "set default_transaction_read_only = off")
        readOnlySet = wanted
    }

    /// Ends the transaction `begin()` started; when no statement ran, there is nothing to send.
    func finish(commit: Bool) throws {
        if beginPending {
            // Nothing ran: drop BEGIN and any role switch queued after it.
            if pending.count > openingCount { role = .unknown }
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
        let opening = pending.prefix(openingCount)
        let text = (opening + [sql]).joined(separator: "; ")
        if pending.count > opening.count { role = .unknown }
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

    /// How the session differs from what the store set up and a feature's role may have, by
    /// what PostgreSQL itself reported after the last statement (ParameterStatus: no round
    /// trip), or `nil`: a superuser role (a feature's never is), another time zone, or
    /// non-standard strings (which would change how every later statement is read).
    func sessionChange() -> String? {
        func reported(_ name: String) -> String? { PQparameterStatus(handle, name).map { String(cString: $0) } }
        if reported("is_superuser") == "on" { return "it runs as a superuser" }
        if let zone = reported("TimeZone"), zone != "UTC" { return "its time zone is \(zone)" }
        if let strings = reported("standard_conforming_strings"), strings != "on" { return "standard_conforming_strings is \(strings)" }
        return nil
    }

    /// The pool hands the connection to a new call.
    func startCall() {
        callStarting = true
    }

    /// The call the connection served is over. Commands it queued and never sent (a statement
    /// that failed before going out) go with it: the next call starts from what was sent.
    func endCall() {
        callStarting = false
        if !pending.isEmpty {
            pending.removeAll()
            role = .unknown
        }
    }

    /// Sends the queued commands now, on their own (before a statement is prepared: PostgreSQL
    /// checks a schema's `USAGE` and takes the table's lock while it prepares, so the caller's
    /// role, its transaction and a lane's lock timeout must be in place first).
    private func sendPending(sql: String) throws {
        let discards = pending.contains(Self.discardSequences)
        let commands = pending.joined(separator: "; ")
        pending.removeAll()
        let result = PQexec(handle, commands)
        defer { PQclear(result) }
        do {
            try check(result, sql: sql)
        } catch {
            role = .unknown
            throw error
        }
        if discards { discardOwed = false }
    }

    /// Runs exactly one statement of a migration entry, as written, with the extended protocol,
    /// which takes one statement only: should the store ever read an entry's statement
    /// boundaries differently from PostgreSQL, PostgreSQL refuses the text ("cannot insert
    /// multiple commands into a prepared statement") instead of running what the store did not
    /// check.
    func singleStatement(_ sql: String) throws {
        if !pending.isEmpty { try sendPending(sql: sql) }
        let result = PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0)
        defer { PQclear(result) }
        try check(result, sql: sql)
    }

    /// Runs store-written SQL with the simple protocol and returns the last result's rows as text.
    func simpleRows(_ sql: String) throws -> [[String?]] {
        var text = sql
        let carried = !pending.isEmpty
        let discards = pending.contains(Self.discardSequences)
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
        if discards { discardOwed = false }
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
        // Nothing one role's calls (or a feature's migration) left in the session's sequence
        // state reaches a caller of another role. Inside a transaction the same caller goes on:
        // only a call's first statement (or one outside a transaction) discards.
        if let last = leftBy, last != target { discardOwed = true }
        leftBy = target
        if discardOwed, callStarting || PQtransactionStatus(handle) == PQTRANS_IDLE, !pending.contains(Self.discardSequences) {
            pending.append(Self.discardSequences)
        }
        callStarting = false
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

    /// Runs one feature statement and returns its rows (valid until the entry runs again).
    func query(_ entry: Entry, sql: String, _ params: [SQLValue]) throws -> ResultTable {
        let result = try execute(entry, sql: sql, params)
        defer { PQclear(result) }
        return read(result, into: entry)
    }

    /// Runs one feature statement for its effect: affected rows and, after an insert, the row
    /// id of the last row it added, from the `RETURNING` the store added (see ``Entry/RowID``).
    func exec(_ entry: Entry, sql: String, _ params: [SQLValue]) throws -> ExecResult {
        let result = try execute(entry, sql: sql, params)
        defer { PQclear(result) }
        let tag = String(cString: PQcmdStatus(result))
        let counted = tag.hasPrefix("INSERT ") || tag.hasPrefix("UPDATE ") || tag.hasPrefix("DELETE ") || tag.hasPrefix("MERGE ")
        let changes = counted ? Int(String(cString: PQcmdTuples(result))) ?? 0 : 0
        guard case .column(_, let upsert) = entry.rowID, tag.hasPrefix("INSERT ") else {
            return ExecResult(changes: changes, lastId: 0)
        }
        var row = PQntuples(result) - 1
        // An upsert's rows say whether each was inserted: the last one that was.
        while upsert, row >= 0, String(cString: PQgetvalue(result, row, 1)) != "t" { row -= 1 }
        guard row >= 0, PQgetisnull(result, row, 0) == 0 else { return ExecResult(changes: changes, lastId: 0) }
        return ExecResult(changes: changes, lastId: Int64(String(cString: PQgetvalue(result, row, 0))) ?? 0)
    }

    /// The text an `exec` of an INSERT is prepared with: `RETURNING` its row id first (before
    /// the statement's own `RETURNING` list, if any), found in the catalog under the caller's
    /// role, as PostgreSQL resolves the table's name. Other statements go as written.
    private func preparedText(_ entry: Entry) throws -> String {
        let statement = entry.statement
        entry.rowID = .none
        guard entry.forExec, let insertAt = statement.insertAt,
            let target = PostgresSQL.insertTarget(in: statement.original, at: insertAt)
        else { return statement.text }
        let found = try simpleRows(
            """
            select c.relkind::text, coalesce(
                (select a.attname::text from pg_catalog.pg_index i
                 join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                 where i.indrelid = c.oid and i.indisprimary and i.indnatts = 1 and a.atttypid in (20, 21, 23)),
                (select a.attname::text from pg_catalog.pg_attribute a
                 where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.atttypid in (20, 21, 23)
                   and pg_catalog.pg_get_serial_sequence(c.oid::pg_catalog.regclass::text, a.attname) is not null
                 order by a.attnum limit 1))
            , (not c.relhasrules and not pg_catalog.row_security_active(c.oid)
               and pg_catalog.has_table_privilege(c.oid, 'SELECT'))::text
            from pg_catalog.pg_class c where c.oid = pg_catalog.to_regclass(\(SQLText.quoteLiteral(target)))
            """)
        // RETURNING needs SELECT on the table (an INSERT-only grant has none), and fails on a
        // table with rules (DO INSTEAD) or row security that may hide the new row: there the
        // statement goes as written, and lastId is 0.
        guard let row = found.first, let kind = row[0], let column = row[1], row[2] == "true",
            kind == "r" || (kind == "p" && !statement.upserts)
        else { return statement.text }
        entry.rowID = .column(column, upsert: statement.upserts)
        var returned = SQLText.quoteIdentifier(column)
        if statement.upserts { returned += ", xmax = 0" }
        guard let end = statement.returningEnd else { return statement.text + "\nreturning " + returned }
        let text = statement.text.utf8
        let cut = text.index(text.startIndex, offsetBy: end)
        return String(statement.text[..<cut]) + " " + returned + "," + String(statement.text[cut...])
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
            // The caller's role goes out before the prepare (PostgreSQL checks a schema's USAGE
            // there, as the role of the moment), and a lane write's transaction and lock timeout
            // too (it takes the table's lock there, or would wait unbounded).
            if !pending.isEmpty { try sendPending(sql: sql) }
            let result = PQprepare(handle, name, try preparedText(entry), 0, nil)
            defer { PQclear(result) }
            try check(result, sql: sql)
            entry.name = name
        }
        let carried = !pending.isEmpty
        let discards = carried && pending.contains(Self.discardSequences)
        let result = try parameters.with(params, sql: sql) { values, lengths, formats in
            if carried {
                defer { pending.removeAll() }
                return pipeline(pending, name, Int32(params.count), values, lengths, formats)
            }
            return PQexecPrepared(handle, name, Int32(params.count), values, lengths, formats, 0)
        }
        do {
            try check(result, sql: sql)
        } catch let error as StoreError {
            PQclear(result)
            // A failure rolls back the SET ROLE that went out with it.
            if carried { role = .unknown }
            // PostgreSQL's message can quote a bound value (a jsonpath, a regular expression).
            throw params.isEmpty ? error : error.redacting(params)
        }
        if discards { discardOwed = false }
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
        // Up to the sync point: outside a transaction the statement's implicit transaction
        // commits there, and a COMMIT that fails (a deferred constraint, a constraint trigger)
        // reports here. The statement then did nothing: its failure is the call's.
        var atCommit: OpaquePointer?
        var nulls = 0
        while nulls < 4 {
            guard let result = PQgetResult(handle) else {
                nulls += 1
                continue
            }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            if atCommit == nil, status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
                atCommit = result
            } else {
                PQclear(result)
            }
        }
        if let atCommit, failure == nil {
            PQclear(statement)
            return atCommit
        }
        if let atCommit { PQclear(atCommit) }
        guard let failure else { return statement }
        PQclear(statement)
        return failure
    }
}
