internal import CSQLite

/// SQLite's authorizer (`sqlite3_set_authorizer`) for one connection: what the fence consults
/// while a statement compiles, and what it learns on the way.
///
/// SQLite calls it for every table, column, pragma and function a statement uses, including
/// those behind views, triggers and foreign-key actions, when the statement is prepared and
/// again when SQLite re-prepares it after a schema change. ``Fence`` decides; this type keeps the
/// state around each compile and turns a verdict into `SQLITE_OK` or `SQLITE_DENY`.
///
/// Not `Sendable`: it belongs to its connection, which one thread uses at a time.
final class Authorizer {
    /// On whose behalf the statement compiling now runs.
    @exclusivity(unchecked) var access: Access = .root
    /// Who owns what, as the connection last read it.
    @exclusivity(unchecked) var registry = Registry()
    /// The first refusal of the compile, reported in place of SQLite's "not authorized".
    @exclusivity(unchecked) var denial: StoreError?
    /// Whether the statement inserts into a table at its top level (for `ExecResult.lastId`).
    private(set) var sawInsert = false
    /// Whether the statement compiled a schema change: SQLite then writes its own tables
    /// (`sqlite_sequence`, `sqlite_stat1`) as part of it.
    private(set) var sawSchemaChange = false
    /// Whether it runs a pragma that writes the database although SQLite calls the statement
    /// read-only (`pragma optimize` runs ANALYZE): it must run on the writer.
    private(set) var sawWritingPragma = false
    /// Whether the statement drops a table or runs ANALYZE: SQLite then reads its own
    /// bookkeeping (`sqlite_sequence`, `sqlite_stat1`) for that table by itself.
    private(set) var sawDropOrAnalyze = false
    /// True while the store itself prepares a statement; false when SQLite re-prepares one
    /// during a step (after a schema change).
    @exclusivity(unchecked) var explicitPrepare = false
    /// Whether ``registry`` is known to be current for this step (read after the re-prepare
    /// began); a feature statement re-prepared with an untrusted registry is denied once, so the
    /// connection can read it again and retry.
    @exclusivity(unchecked) var registryTrusted = false
    @exclusivity(unchecked) var needsRegistry = false
    /// Set when a compile met accesses the fence allows only as SQLite's own foreign-key
    /// enforcement: the statement must be compiled once more without foreign keys (see
    /// ``SQLiteConnection``'s proof) before it may run.
    @exclusivity(unchecked) var needsProof = false
    /// The proof's compile: foreign keys are off, so every access is the statement's own, and
    /// none is excused as enforcement.
    @exclusivity(unchecked) var strict = false
    /// The schema version at which the statement re-preparing now was proven (-1: never).
    @exclusivity(unchecked) var currentProof: Int64 = -1
    /// How many times this connection read the registry (``Registry/generation``).
    @exclusivity(unchecked) var registryLoads: Int64 = 0
    /// While a migration entry runs: the tables its statements write, for its foreign-key check.
    var touchedTables: Set<SQLName>?
    /// The tables the statement compiling now reads and writes (through triggers, views and
    /// foreign-key actions too): what change notifications and observers need.
    private(set) var reads: Set<String> = []
    private(set) var writes: Set<String> = []
    /// Set when SQLite re-prepared a statement during a step: its tables are in `reads`/`writes`.
    @exclusivity(unchecked) var recompiled = false

    /// Resets the per-compile state before the store prepares a statement.
    func beginCompile(_ access: Access) {
        self.access = access
        denial = nil
        reads = []
        writes = []
        sawInsert = false
        sawSchemaChange = false
        sawWritingPragma = false
        sawDropOrAnalyze = false
        needsProof = false
        needsRegistry = false
        explicitPrepare = true
    }

    /// Resets what a re-prepare during the coming steps must not inherit from an earlier compile
    /// (a refused compile leaves its flags behind, a re-prepare its tables).
    @inline(__always)
    func beginRun(proof: Int64) {
        sawSchemaChange = false
        needsProof = false
        needsRegistry = false
        currentProof = proof
    }

    /// The tables the last compile read and wrote, which it then forgets.
    func takeTables() -> (reads: [String], writes: [String]) {
        defer {
            reads = []
            writes = []
            recompiled = false
        }
        return (Self.userTables(reads), Self.userTables(writes))
    }

    /// `tables` without SQLite's own and the store's (`sqlite_*`, `_orion_*`), sorted.
    private static func userTables(_ tables: Set<String>) -> [String] {
        tables.filter { name in
            let folded = SQLName(name)
            return !folded.hasPrefix("sqlite_") && !folded.hasPrefix(FenceRefusal.reservedPrefix)
        }.sorted()
    }

    /// Installs this authorizer on `handle`. The connection keeps it alive as long as the handle.
    func install(on handle: OpaquePointer) {
        sqlite3_set_authorizer(handle, authorizerCallback, Unmanaged.passUnretained(self).toOpaque())
    }

    fileprivate func authorize(
        _ action: Int32, _ p1: UnsafePointer<CChar>?, _ p2: UnsafePointer<CChar>?,
        _ database: UnsafePointer<CChar>?, _ inner: UnsafePointer<CChar>?
    ) -> Int32 {
        if case .internal = access { return SQLITE_OK }
        if action == SQLITE_SELECT { return SQLITE_OK }
        let a1 = p1.map { String(cString: $0) }
        let a2 = p2.map { String(cString: $0) }
        if action == SQLITE_FUNCTION {
            return decide(Fence.checkFunction(a2, access: access))
        }
        if action == SQLITE_INSERT, inner == nil, explicitPrepare, let a1, !a1.hasPrefix("sqlite_") {
            sawInsert = true
        }
        if action == SQLITE_PRAGMA, let a1, Fence.writingPragmas.contains(a1.lowercased()) {
            sawWritingPragma = true
        }
        // The table form (`select * from pragma_optimize`) runs its pragma during the scan,
        // too late to route the statement: it is known by its name here.
        if action == SQLITE_READ, let a1, a1.lowercased().hasPrefix("pragma_"),
            Fence.writingPragmas.contains(String(a1.lowercased().dropFirst("pragma_".count)))
        {
            sawWritingPragma = true
        }
        if let a1 {
            switch action {
            case SQLITE_READ:
                reads.insert(a1)
            case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_CREATE_TABLE, SQLITE_DROP_TABLE:
                writes.insert(a1)
            case SQLITE_ALTER_TABLE:
                if let a2 { writes.insert(a2) }
            default:
                break
            }
            if !explicitPrepare { recompiled = true }
        }
        if access.feature != nil, !explicitPrepare, !registryTrusted {
            needsRegistry = true
            return SQLITE_DENY
        }
        if Fence.isDDL(action) { sawSchemaChange = true }
        switch action {
        case SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_VTABLE, SQLITE_ANALYZE: sawDropOrAnalyze = true
        default: break
        }
        if touchedTables != nil {
            switch action {
            case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE, SQLITE_DROP_TABLE:
                if let a1 { touchedTables?.insert(SQLName(a1)) }
            case SQLITE_ALTER_TABLE:
                if let a2 { touchedTables?.insert(SQLName(a2)) }
            default:
                break
            }
        }
        var verdict = Fence.check(
            action, a1, a2, database: database.map { String(cString: $0) }, access: access,
            registry: registry, withinSchemaChange: sawSchemaChange, withinDropOrAnalyze: sawDropOrAnalyze)
        if let inner, !verdict.isDenial {
            // Inside a trigger or a view, the code is another feature's: it may touch only what
            // that feature may, whoever set it off (a cascade, the root store).
            let code = String(cString: inner)
            if let owner = registry.owner(ofCode: code), owner != access.feature,
                case .deny(let refusal) = Fence.checkCode(action, a1, a2, code: code, owner: owner, registry: registry)
            {
                verdict = .deny(refusal)
            }
        }
        return decide(verdict)
    }

    private func decide(_ verdict: Fence.Verdict) -> Int32 {
        switch verdict {
        case .allow:
            return SQLITE_OK
        case .deny(let reason):
            if denial == nil { denial = reason }
            return SQLITE_DENY
        case .enforcement(let reason):
            // Allowed only if SQLite generated this access to enforce a foreign key, which the
            // proof (a compile with foreign keys off, where no such access can appear) settles.
            if strict {
                if denial == nil { denial = reason }
                return SQLITE_DENY
            }
            if explicitPrepare {
                needsProof = true
                return SQLITE_OK
            }
            if currentProof == registry.generation { return SQLITE_OK }
            needsProof = true
            return SQLITE_DENY
        }
    }
}

@available(*, unavailable)
extension Authorizer: Sendable {}

private let authorizerCallback:
    @convention(c) (
        UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
        UnsafePointer<CChar>?, UnsafePointer<CChar>?
    ) -> Int32 = { context, action, p1, p2, database, inner in
        guard let context else { return SQLITE_OK }
        return Unmanaged<Authorizer>.fromOpaque(context).takeUnretainedValue().authorize(action, p1, p2, database, inner)
    }
