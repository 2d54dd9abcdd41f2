internal import CSQLite

/// One prepared statement, owned by its connection's cache and finalized on eviction or close.
///
/// Not `Sendable`: it is used only by the thread that holds its connection.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    let parameterCount: Int
    /// `sqlite3_stmt_readonly`: whether the statement leaves the database as it was.
    let isReadOnly: Bool
    /// Whether the authorizer saw this statement insert into a table at the top level (not in a trigger).
    let inserts: Bool
    /// Whether it is in use now (a re-entrant call gets a fresh statement rather than this one).
    var inUse = false
    /// The cache's clock at the last use, for least-recently-used eviction.
    var lastUsed: UInt64 = 0

    private var names: [String] = []
    private var namesPrepareCount: Int32 = -1
    private var planType: ObjectIdentifier?
    private var plan: [Int] = []

    init(handle: OpaquePointer, sql: String, inserts: Bool) {
        self.handle = handle
        self.sql = sql
        self.inserts = inserts
        parameterCount = Int(sqlite3_bind_parameter_count(handle))
        isReadOnly = sqlite3_stmt_readonly(handle) != 0
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// The column names, read again only when SQLite re-prepared the statement (a schema change).
    func columnNames() -> [String] {
        let prepares = sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0)
        if prepares != namesPrepareCount {
            let count = Int(sqlite3_column_count(handle))
            names = (0..<count).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
            namesPrepareCount = prepares
            planType = nil
        }
        return names
    }

    /// The decoder's remembered key lookups for `type`, from the last run.
    func keyPlan(for type: Any.Type) -> [Int] {
        planType == ObjectIdentifier(type) ? plan : []
    }

    func remember(_ keyPlan: [Int], for type: Any.Type) {
        planType = ObjectIdentifier(type)
        plan = keyPlan
    }

    /// Binds `values` to the `?` parameters; the caller has checked the count.
    func bind(_ values: [SQLValue]) -> Int32 {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null:
                rc = sqlite3_bind_null(handle, index)
            case .integer(let v):
                rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v):
                rc = sqlite3_bind_double(handle, index, v)
            case .text(var v):
                if v.isEmpty {
                    rc = sqlite3_bind_text(handle, index, "", 0, orion_transient())
                } else {
                    rc = v.withUTF8 { utf8 in
                        utf8.withMemoryRebound(to: CChar.self) {
                            sqlite3_bind_text64(handle, index, $0.baseAddress, UInt64($0.count), orion_transient(), UInt8(SQLITE_UTF8))
                        }
                    }
                }
            case .blob(let v):
                if v.isEmpty {
                    rc = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    rc = v.withUnsafeBytes {
                        sqlite3_bind_blob64(handle, index, $0.baseAddress, UInt64($0.count), orion_transient())
                    }
                }
            }
            if rc != SQLITE_OK { return rc }
        }
        return SQLITE_OK
    }

    /// Resets the statement and drops its bindings, so no bound value outlives the call.
    func finish() {
        sqlite3_reset(handle)
        if parameterCount > 0 { sqlite3_clear_bindings(handle) }
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}

/// The current row of a stepping statement, read in place.
struct StatementRow: RowSource {
    let handle: OpaquePointer

    var columnCount: Int { Int(sqlite3_column_count(handle)) }

    func columnNames() -> [String] {
        (0..<columnCount).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
    }

    @inline(__always)
    func type(at i: Int) -> ColumnType {
        switch sqlite3_column_type(handle, Int32(i)) {
        case SQLITE_INTEGER: .integer
        case SQLITE_FLOAT: .real
        case SQLITE_TEXT: .text
        case SQLITE_BLOB: .blob
        default: .null
        }
    }

    @inline(__always)
    func int64(at i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }

    @inline(__always)
    func double(at i: Int) -> Double { sqlite3_column_double(handle, Int32(i)) }

    @inline(__always)
    func string(at i: Int) -> String {
        guard let text = sqlite3_column_text(handle, Int32(i)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(i)))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func bytes(at i: Int) -> [UInt8] {
        guard let blob = sqlite3_column_blob(handle, Int32(i)) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, Int32(i)))
        return Array(UnsafeRawBufferPointer(start: blob, count: count))
    }

    func withText<R>(at i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let text = sqlite3_column_text(handle, Int32(i))
        let count = Int(sqlite3_column_bytes(handle, Int32(i)))
        return try body(UnsafeBufferPointer(start: text, count: text == nil ? 0 : count))
    }
}
