import Foundation
import Synchronization
import Testing

@testable import Orion

/// The store a nested row reads from, and how many reads must hold their reader before any
/// nested read starts.
private enum Nesting {
    static let store = Locked<SQLiteStore?>(nil)
    static let gate = Locked<(arrived: Int, needed: Int)>((0, 0))

    /// Waits (a spin, a millisecond at a time) until `needed` outer reads are inside decoding.
    static func arriveAndWait() {
        gate.withLock { $0.arrived += 1 }
        while gate.withLock({ $0.arrived < $0.needed }) { usleep(1000) }
    }
}

/// A row whose decoding reads the store again: a nested read on the same thread, while its
/// outer read still holds a reader connection.
private struct NestedRow: Decodable {
    let title: String
    let total: Int

    enum CodingKeys: String, CodingKey { case title }

    init(from decoder: any Decoder) throws {
        title = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .title)
        Nesting.arriveAndWait()
        let store = Nesting.store.withLock { $0 }!
        total = try store.one("select count(*) from todos") ?? -1
    }
}

@Suite("SQLite edges: reads nested in reads", .serialized, .timeLimit(.minutes(1)))
struct SQLiteNestedReadTests {
    let dir = TempDir()

    @Test("a read nested in a row's Decodable initializer, with every reader held, runs on its own thread's connection", arguments: [1, 4])
    func nestedRead(readers: Int) throws {
        let store = try SQLiteStore(path: dir.path(), readers: readers)
        try store.migrate("todos", Todos.migrations)
        try Todos.insert(store, "a")
        Nesting.store.withLock { $0 = store }
        Nesting.gate.withLock { $0 = (0, readers) }
        defer { Nesting.store.withLock { $0 = nil } }
        // As many outer reads as there are readers, each inside its decoding at once: every
        // reader connection is held when the nested reads start.
        let totals = Locked<[Int]>([])
        try onThreads(readers) { _ in
            let rows: [NestedRow] = try store.query("select title from todos")
            totals.withLock { $0.append(contentsOf: rows.map(\.total)) }
        }
        #expect(totals.withLock { $0 } == Array(repeating: 1, count: readers))
    }
}

@Suite("SQLite edges: the fence")
struct SQLiteFenceEdgeTests {
    let dir = TempDir()

    /// The writer read its record of owners inside a transaction that rolled back; another
    /// connection then committed the same schema version with other tables.
    @Test("a record of owners read inside a transaction that rolled back is read again, not trusted at a repeated schema version")
    func staleRecordOfOwners() throws {
        struct Boom: Error {}
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("f", ["create table f_t (x)"])
        let f = store.scoped(to: "f")
        let version: Int? = try store.one("pragma schema_version")
        _ = try? store.tx {
            try store.exec("create table scratch (x)")
            let _: [Int] = try f.query("select x from f_t")  // the writer reads the record here
            throw Boom()
        }
        let other = try SQLiteStore(path: dir.path())
        try other.migrate("g", ["create table g_t (secret text)", "insert into g_t values ('g''s')"])
        // The premise: g's table came at the version the rolled-back transaction had reached.
        #expect(try store.one("pragma schema_version") == (version ?? 0) + 1)
        expectStoreError(.fence) { try f.exec("insert into g_t values ('from f')") }
        expectStoreError(.fence) { try f.tx { let _: [String] = try f.query("select secret from g_t") } }
        #expect(try other.query("select secret from g_t") == ["g's"])
    }

    @Test("a feature's full-text index over another feature's table is refused at migration")
    func fullTextIndexOverAnotherFeature() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("people", ["create table people (name text, secret text)"])
        for content in ["'people'", "\"people\"", "people", "[people]", "'PEOPLE'"] {
            let error = expectStoreError(.fence) {
                try store.migrate("evil", ["create virtual table evil_idx using fts5(name, secret, content=\(content))"])
            }
            #expect(error?.message.contains("people") == true, "\(String(describing: error))")
        }
        // Over its own table, it works.
        try store.migrate(
            "notes",
            [
                "create table notes (id integer primary key, body text)",
                "create virtual table notes_idx using fts5(body, content='notes', content_rowid='id')",
            ])
        try store.scoped(to: "notes").exec("insert into notes (body) values ('hello')")
        try store.scoped(to: "notes").exec("insert into notes_idx (notes_idx) values ('rebuild')")
        let found: [String] = try store.scoped(to: "notes").query("select body from notes_idx where notes_idx match 'hello'")
        #expect(found == ["hello"])
    }

    /// An index made before the check (here by hand, then registered to the feature): once the
    /// root store has used it on a connection, FTS5 reuses its own read of `people` unchecked.
    @Test("reading a full-text index whose content is another feature's table is refused at run time, after the root store used it")
    func fullTextIndexAtRunTime() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("people", ["create table people (name text, secret text)", "insert into people values ('ann', 'hunter2')"])
        try store.migrate("evil", ["create table evil_notes (x)"])
        try store.runOnWriterForTests("create virtual table evil_idx using fts5(name, secret, content='people')")
        try store.runOnWriterForTests("insert into _orion_tables (name, type, feature) values ('evil_idx', 'table', 'evil')")
        try store.exec("insert into evil_idx (evil_idx) values ('rebuild')")
        let evil = store.scoped(to: "evil")
        try store.tx {
            let _: [String] = try store.query("select secret from evil_idx where evil_idx match 'ann'")
            expectStoreError(.fence) { let _: [String] = try evil.query("select secret from evil_idx where evil_idx match 'ann'") }
        }
        let _: [String] = try store.query("select secret from evil_idx where evil_idx match 'ann'")
        expectStoreError(.fence) { let _: [String] = try evil.query("select secret from evil_idx where evil_idx match 'ann'") }
        expectStoreError(.fence) { try evil.exec("insert into evil_idx (evil_idx) values ('rebuild')") }
    }

    @Test("a scoped store cannot read the row counts and counters of other features' tables", arguments: ["sqlite_stat1", "sqlite_sequence"])
    func rowCounts(table: String) throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("people", ["create table people (id integer primary key autoincrement, name text)", "insert into people (name) values ('ann'), ('bob')"])
        try store.migrate("todos", ["create table todos (id integer primary key autoincrement, title text)"])
        try store.exec("analyze")
        let todos = store.scoped(to: "todos")
        let error = expectStoreError(.fence) { let _: [Row] = try todos.query("select * from \(table)") }
        #expect(error?.message.contains(table) == true)
        // Its own AUTOINCREMENT table still works (SQLite keeps the counter itself).
        #expect(try todos.exec("insert into todos (title) values ('a')").lastId == 1)
        let rows: [Row] = try store.query("select * from \(table)")
        #expect(!rows.isEmpty)
    }
}

@Suite("SQLite edges: where statements run")
struct SQLiteRoutingEdgeTests {
    let dir = TempDir()

    @Test("pragma optimize, which SQLite calls read-only, runs on the writer: beside an open batch it does not fail with SQLITE_BUSY")
    func optimizeOnTheWriter() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)), readers: 1)
        try store.migrate("todos", Todos.migrations + ["create index todos_title on todos (title)"])
        for i in 0..<100 { try Todos.insert(store, "t\(i % 7)") }
        try store.flush()
        // A read on the reader that uses the index: pragma optimize then has work to do there.
        let _: [Todo] = try store.query("select id, title, done from todos where title = ?", "t1")
        // Another thread opens a batch (this one's reads stay on the reader).
        try onThreads(1) { _ in try Todos.insert(store, "opens a batch") }
        #expect(store.batchIsOpenForTests)
        let _: [Row] = try store.query("pragma optimize")
        try store.flush()
    }

    @Test("pragma optimize inside a read body is refused as a write, also on :memory:", arguments: [false, true])
    func optimizeInRead(memory: Bool) async throws {
        let store = try SQLiteStore(path: memory ? ":memory:" : dir.path())
        try store.migrate("todos", Todos.migrations + ["create index todos_title on todos (title)"])
        for i in 0..<100 { try Todos.insert(store, "t\(i % 7)") }
        await #expect(throws: StoreError.self) { _ = try await store.read { try store.query("pragma optimize") as [Row] } }
        #expect(try store.one("select count(*) from sqlite_schema where name = 'sqlite_stat1'") == 0)
    }
}

@Suite("SQLite edges: change notifications")
struct ChangeDeliveryEdgeTests {
    let dir = TempDir()

    @Test("a subscription made after a commit returned is not told of that commit, however late its delivery")
    func lateSubscriber() async throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table a (x)", "create table b (x)"])
        var early = store.changes().makeAsyncIterator()
        let release = store.changeHub.holdDeliveriesForTests()
        try store.exec("insert into a values (1)")
        var late = store.changes().makeAsyncIterator()
        release()
        try store.exec("insert into b values (1)")
        #expect(await late.next()?.tables == ["b"])
        let first = await early.next()
        #expect(first?.tables.contains("a") == true)
    }

    @Test("observe ends quietly when the store closes while its view runs")
    func observeClosedWhileRunning() async throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("todos", Todos.migrations)
        let entered = DispatchSemaphore(value: 0)
        let goOn = DispatchSemaphore(value: 0)
        let runs = Locked(0)
        let observation = store.observe { () -> Int in
            let run = runs.withLock { value in
                value += 1
                return value
            }
            if run == 2 {
                entered.signal()
                goOn.wait()
            }
            return try Todos.all(store).count
        }
        var iterator = observation.makeAsyncIterator()
        #expect(try await iterator.next() == 0)
        try Todos.insert(store, "a")
        let second = Task { try await iterator.next() }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                entered.wait()
                continuation.resume()
            }
        }
        let closing = Task {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async { continuation.resume(with: Result { try store.close() }) }
            }
        }
        try await closing.value
        goOn.signal()
        #expect(try await second.value == nil)
    }
}

/// Runs the test child with `arguments`; its status, standard output and standard error.
private func runChild(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
    child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
    child.arguments = arguments
    // The child is expected to stop on a precondition: no backtracer (under ThreadSanitizer its fork hangs).
    child.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
    let dir = TempDir()
    FileManager.default.createFile(atPath: dir.path("out"), contents: nil)
    FileManager.default.createFile(atPath: dir.path("err"), contents: nil)
    child.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path("out")))
    child.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.path("err")))
    try child.run()
    child.waitUntilExit()
    let read = { (name: String) in String(decoding: FileManager.default.contents(atPath: dir.path(name)) ?? Data(), as: UTF8.self) }
    return (child.terminationStatus, read("out"), read("err"))
}

@Suite("SQLite edges: misuse that would crash")
struct CrashingMisuseTests {
    let dir = TempDir()

    @Test("a RowReader kept past init(row:) stops the process with a sentence naming the misuse, not a crash inside SQLite")
    func keptRowReader() throws {
        let (status, output, errors) = try runChild(["kept-row-reader", dir.path()])
        #expect(status != 0)
        #expect(output.contains("using the kept reader") && !output.contains("read it"))
        #expect(errors.contains("a RowReader was used after the init(row:) it was given returned"), "\(errors)")
    }

    @Test("a turns file cut short while the store uses it costs the writer nothing (no SIGBUS)")
    func turnsFileCutShort() throws {
        let (status, output, errors) = try runChild(["turns-cut-short", dir.path()])
        #expect(status == 0, "\(output) \(errors)")
        #expect(output.contains("rows 102"))
    }

    @Test("a hard link planted at the turns file's name is left alone: not written, not given the database's mode")
    func turnsFileHardLink() throws {
        let dir = TempDir()
        let precious = dir.path("precious")
        #expect(FileManager.default.createFile(atPath: precious, contents: Data("precious".utf8), attributes: [.posixPermissions: 0o600]))
        // The database first (its mode 0644), then the planted link.
        do {
            let store = try SQLiteStore(path: dir.path())
            try store.close()
        }
        try? FileManager.default.removeItem(atPath: dir.path() + "-orion-turns")
        #expect(link(precious, dir.path() + "-orion-turns") == 0)
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        #expect(!store.hasWriterTurnsForTests)
        #expect(FileManager.default.contents(atPath: precious) == Data("precious".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: precious)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

/// The second hostile read's findings on the fence's edges.
@Suite("SQLite edges: the fence, second read")
struct SQLiteFenceSecondReadTests {
    let dir = TempDir()

    /// One feature migrates new tables while another reads them as fast as it can: the record
    /// of owners and the compile must never disagree about who owns a table.
    @Test("a table another connection's migration makes while a feature prepares a read of it is never read as no feature's")
    func registryRace() throws {
        let store = try SQLiteStore(path: dir.path(), readers: 1)
        try store.migrate("a", ["create table a_t (x)"])
        try store.migrate("b", ["create table b_seed (x)"])
        let other = try SQLiteStore(path: dir.path())
        let a = store.scoped(to: "a")
        let leaks = Locked<[String]>([])
        let stop = Locked(false)
        let tables = 40
        try onThreads(2) { thread in
            if thread == 0 {
                for i in 1...tables {
                    try other.migrate("b", ["create table b_seed (x)"] + (1...i).map { "create table s\($0) (x text); insert into s\($0) values ('secret \($0)')" })
                    usleep(200)
                }
                stop.withLock { $0 = true }
            } else {
                var i = 1
                while !stop.withLock({ $0 }) {
                    if let rows = try? a.query("select x from s\(i)") as [String] { leaks.withLock { $0.append(contentsOf: rows) } }
                    i = i % tables + 1
                }
            }
        }
        #expect(leaks.withLock { $0 }.isEmpty, "feature a read b's rows: \(leaks.withLock { $0 }.prefix(3))")
    }

    @Test(
        "a full-text index over another feature's table is refused however its CREATE is spelled",
        arguments: [
            "create virtual table \"idx(\" using fts5(name, content='people')",
            "create virtual table idx using \"fts5\"(name, content='people')",
            "create virtual table idx using /* c */ fts5(name, content='people')",
            "create virtual table idx using fts5 /* ( */ (name, content='people')",
            "create virtual table idx using fts5(name /* ' */, content='people')",
            "create virtual table idx using fts5(name, CONTENT = [people])",
            "create virtual table idx using fts4(name, content=\"people\")",
        ])
    func fullTextSpellings(sql: String) throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("people", ["create table people (name text, secret text)"])
        let error = expectStoreError(.fence) { try store.migrate("a", [sql]) }
        #expect(error?.message.contains("people") == true, "\(String(describing: error))")
    }

    @Test("an index over a view the root store made, an fts4aux over another feature's index, and a root index's shadow tables are refused to a feature")
    func fullTextNeighbours() throws {
        let store = try SQLiteStore(path: dir.path(), readers: 1)
        try store.migrate(
            "people",
            [
                "create table people (name text, secret text)", "insert into people values ('alice', 'a secret')",
                "create virtual table notes4 using fts4(body)", "insert into notes4 values ('salary 9000')",
            ])
        try store.exec("create view everyone as select name, secret from people")
        expectStoreError(.fence) { try store.migrate("a", ["create virtual table via_view using fts5(name, secret, content='everyone')"]) }
        expectStoreError(.fence) { try store.migrate("a", ["create virtual table v4 using fts4aux(notes4)"]) }
        try store.migrate("a", ["create table a_t (x)"])
        let a = store.scoped(to: "a")
        try store.exec("create virtual table ridx using fts5(name, secret, content='people')")
        try store.exec("insert into ridx (ridx) values ('rebuild')")
        let _: [String] = try store.query("select secret from ridx where ridx match 'alice'")
        expectStoreError(.fence) { let _: [String] = try a.query("select cast(block as text) from ridx_data") }
        expectStoreError(.fence) { let _: [String] = try a.query("select secret from ridx where ridx match 'alice'") }
    }

    @Test("a feature cannot make a dbstat table under another name, nor read one the root store made")
    func dbstatUnderAnotherName() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("b", ["create table secrets (x)", "insert into secrets values (1), (2)"])
        expectStoreError(.fence) { try store.migrate("a", ["create virtual table mystat using dbstat(main)"]) }
        try store.exec("create virtual table rootstat using dbstat(main)")
        try store.migrate("a", ["create table a_t (x)"])
        expectStoreError(.fence) { let _: [Row] = try store.scoped(to: "a").query("select name, ncell from rootstat") }
    }

    @Test("a scoped store cannot read the shared writer's last rowid or change counts", arguments: ["last_insert_rowid()", "changes()", "total_changes()"])
    func connectionState(function: String) throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("b", ["create table payments (id integer primary key, amount integer)"])
        try store.migrate("a", ["create table a_t (x)"])
        try store.scoped(to: "b").exec("insert into payments (id, amount) values (48213, 999)")
        let a = store.scoped(to: "a")
        expectStoreError(.fence) { try a.tx { let _: Int? = try a.one("select \(function)") } }
        let root: Int? = try store.tx { try store.one("select \(function)") }
        #expect(root != nil)
    }

    @Test("the table form of pragma optimize runs on the writer too, and is refused in a read body")
    func optimizeTableForm() async throws {
        let store = try SQLiteStore(path: dir.path(), readers: 1)
        try store.migrate("t", ["create table t (k integer, v text)", "create index t_k on t (k)"])
        try store.tx { for i in 0..<2000 { try store.exec("insert into t values (?, 'x')", i) } }
        let _: [String] = try store.query("select v from t where k = 5")
        await #expect(throws: StoreError.self) { _ = try await store.read { try store.query("select * from pragma_optimize") as [Row] } }
    }

    @Test("the table form of pragma optimize beside an open batch runs on the writer, not failing with SQLITE_BUSY")
    func optimizeTableFormBesideBatch() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)), readers: 1)
        try store.migrate("t", ["create table t (k integer, v text)", "create index t_k on t (k)"])
        try store.tx { for i in 0..<2000 { try store.exec("insert into t values (?, 'x')", i) } }
        try store.flush()
        let _: [String] = try store.query("select v from t where k = 5")
        try onThreads(1) { _ in try store.exec("insert into t values (-1, 'opens a batch')") }
        #expect(store.batchIsOpenForTests)
        let _: [Row] = try store.query("select * from pragma_optimize")
        try store.flush()
    }

    @Test("a late subscriber is not told of commits made before it, even once many commits wait")
    func lateSubscriberAfterMerges() async throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table a_t (x)", "create table b_t (x)", "create table c_t (x)"])
        let early = store.changes()
        let release = store.changeHub.holdDeliveriesForTests()
        for i in 0..<300 { try store.exec(i % 2 == 0 ? "insert into a_t values (1)" : "insert into c_t values (1)") }
        var late = store.changes(to: ["a_t", "b_t"]).makeAsyncIterator()
        for _ in 0..<50 { try store.exec("insert into b_t values (1)") }
        release()
        #expect(await late.next()?.tables == ["b_t"])
        _ = early
    }
}
