import Foundation
public import Orion
import Synchronization
public import Testing

/// How an adapter's SQL differs from SQLite's, written down in one place: the suite builds its
/// schemas from these pieces, and everything else is the same SQL on every adapter.
public struct Dialect: Sendable {
    /// The column definition of an auto-assigned integer key.
    public var autoKey: String
    /// The type of a byte-string column.
    public var blobType: String
    /// The type of a boolean column.
    public var boolType: String
    /// The type of a timestamp column that holds a `Date`.
    public var dateType: String
    /// The type of a column that holds any `Int64`.
    public var int64Type: String
    /// The type of a column that holds any `Double` exactly.
    public var doubleType: String

    /// SQLite's dialect.
    public static let sqlite = Dialect(
        autoKey: "integer primary key", blobType: "blob", boolType: "integer", dateType: "text",
        int64Type: "integer", doubleType: "real")

    /// PostgreSQL's dialect: `integer` and `real` are 32-bit there.
    public static let postgres = Dialect(
        autoKey: "bigserial primary key", blobType: "bytea", boolType: "boolean", dateType: "timestamptz",
        int64Type: "bigint", doubleType: "double precision")

    /// Creates a dialect.
    public init(autoKey: String, blobType: String, boolType: String, dateType: String, int64Type: String, doubleType: String) {
        self.autoKey = autoKey
        self.blobType = blobType
        self.boolType = boolType
        self.dateType = dateType
        self.int64Type = int64Type
        self.doubleType = doubleType
    }
}

/// An adapter under test: how to open a fresh, empty database, and how to scope it.
public struct Adapter: Sendable, CustomTestStringConvertible {
    /// A name for test output.
    public let name: String
    /// The adapter's SQL differences.
    public let dialect: Dialect
    /// Opens a fresh, empty database.
    public let make: @Sendable () throws -> any Store
    /// The store of `make()` fenced to a feature (`scoped(to:)`), or `nil` when the adapter
    /// has no fence (a wrapper over another adapter's scoped store is tested through that).
    public let scope: (@Sendable (any Store, String) -> any Store)?
    /// The commits of a store of `make()` (`changes()` for `nil`, else `changes(to:)`), or `nil`
    /// when the adapter announces none.
    public let changes: (@Sendable (any Store, Set<String>?) -> Changes)?

    /// Creates an adapter description.
    public init(
        name: String, dialect: Dialect, make: @escaping @Sendable () throws -> any Store,
        scope: (@Sendable (any Store, String) -> any Store)?,
        changes: (@Sendable (any Store, Set<String>?) -> Changes)? = nil
    ) {
        self.name = name
        self.dialect = dialect
        self.make = make
        self.scope = scope
        self.changes = changes
    }

    public var testDescription: String { name }
}

/// The contract every `Store` adapter passes: the five methods, values, decoding, errors,
/// transactions, migrations, the fence and threads. Each check takes a fresh database.
public enum Conformance {
    struct Note: Codable, Equatable {
        let id: Int64
        let title: String
        let done: Bool
        let weight: Double?
    }

    static func notes(_ dialect: Dialect) -> [String] {
        ["create table notes (id \(dialect.autoKey), title text not null, done \(dialect.boolType) not null default false, weight \(dialect.doubleType))"]
    }

    /// Values of every storage class and the Swift types on top of them round-trip.
    public static func values(_ adapter: Adapter) throws {
        let store = try adapter.make()
        let d = adapter.dialect
        try store.migrate(
            "vals",
            [
                "create table vals (id \(d.autoKey), i \(d.int64Type), r \(d.doubleType), t text, b \(d.blobType), f \(d.boolType), at \(d.dateType))"
            ])
        let at = Date(timeIntervalSince1970: 1_700_000_000.25)
        let id = try store.exec(
            "insert into vals (i, r, t, b, f, at) values (?, ?, ?, ?, ?, ?)",
            Int64.max, 2.5, "héllo", [UInt8]([0, 1, 255]), true, at
        ).lastId
        struct Values: Decodable {
            let i: Int64
            let r: Double
            let t: String
            let b: [UInt8]
            let f: Bool
            let at: Date
        }
        let back: Values? = try store.one("select i, r, t, b, f, at from vals where id = ?", id)
        #expect(back?.i == Int64.max)
        #expect(back?.r == 2.5)
        #expect(back?.t == "héllo")
        #expect(back?.b == [0, 1, 255])
        #expect(back?.f == true)
        #expect(back.map { abs($0.at.timeIntervalSince1970 - at.timeIntervalSince1970) < 0.001 } == true)
        let nothing: Int64? = try store.one("select i from vals where id = ?", id + 1000)
        #expect(nothing == nil)
        try store.exec("update vals set t = ? where id = ?", nil, id)
        let null: [String?] = try store.query("select t from vals")
        #expect(null == [nil])
    }

    /// Rows decode by name; scalars decode from one column; `one` is nil for no row and NULL.
    public static func decoding(_ adapter: Adapter) throws {
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        #expect(try store.one("select count(*) from notes") == 0)
        let top: Int? = try store.one("select max(id) from notes")
        #expect(top == nil)
        try store.exec("insert into notes (title, done, weight) values (?, ?, ?)", "a", false, 1.5)
        try store.exec("insert into notes (title, done) values (?, ?)", "b", true)
        let all: [Note] = try store.query("select id, title, done, weight from notes order by id")
        #expect(all.map(\.title) == ["a", "b"])
        #expect(all.map(\.done) == [false, true])
        #expect(all.map(\.weight) == [1.5, nil])
        let titles: [String] = try store.query("select title from notes order by title desc")
        #expect(titles == ["b", "a"])
        let rows: [Row] = try store.query("select title, done from notes order by id", [])
        #expect(rows.first?.columns == ["title", "done"])
        struct Missing: Decodable { let nope: String }
        expect(.decoding) { let _: [Missing] = try store.query("select title from notes") }
        expect(.decoding) { let _: [Int] = try store.query("select weight from notes") }
    }

    /// A ``RowDecodable`` type reads the same rows through `query` and `one` as its `Decodable`
    /// form, fenced the same; `one` is nil for no row. (An adapter without a fast path passes
    /// through the default, which decodes by name.)
    public static func rowReading(_ adapter: Adapter) throws {
        struct FastNote: Codable, Equatable, RowDecodable {
            let id: Int64
            let title: String
            let done: Bool
            let weight: Double?
            init(row: RowReader) throws {
                id = try row.int64(0)
                title = try row.string(1)
                done = try row.bool(2)
                weight = try row.isNull(3) ? nil : row.double(3)
            }
        }
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        try store.exec("insert into notes (title, done, weight) values (?, ?, ?)", "a", false, 1.5)
        try store.exec("insert into notes (title, done) values (?, ?)", "b", true)
        let sql = "select id, title, done, weight from notes where id >= ? order by id"
        let fast: [FastNote] = try store.query(sql, 1)
        let decoded: [Note] = try store.query(sql, 1)
        #expect(fast.map(\.id) == decoded.map(\.id))
        #expect(fast.map(\.title) == decoded.map(\.title))
        #expect(fast.map(\.done) == [false, true])
        #expect(fast.map(\.weight) == [1.5, nil])
        let first: FastNote? = try store.one(sql, 2)
        #expect(first?.title == "b")
        let none: FastNote? = try store.one(sql, 1000)
        #expect(none == nil)
        #expect(try store.tx { try store.query(sql, 1) as [FastNote] } == fast)
        guard let scope = adapter.scope else { return }
        try store.migrate("other", ["create table other (id \(adapter.dialect.autoKey))"])
        expect(.fence) { let _: [FastNote] = try scope(store, "other").query(sql, 1) }
        #expect(try scope(store, "notes").query(sql, 1) as [FastNote] == fast)
    }

    /// `exec` reports this statement's changes and inserted id; errors are clear and value-free.
    public static func writesAndErrors(_ adapter: Adapter) throws {
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        let first = try store.exec("insert into notes (title) values (?)", "a")
        #expect(first.changes == 1 && first.lastId > 0)
        let second = try store.exec("insert into notes (title) values (?)", "b")
        #expect(second.lastId > first.lastId)
        #expect(try store.exec("update notes set done = ?", true) == ExecResult(changes: 2, lastId: 0))
        #expect(try store.exec("delete from notes where id = ?", first.lastId).changes == 1)
        do {
            try store.exec("insert into notes (title) values (?)", nil)
            Issue.record("a NOT NULL violation did not throw")
        } catch let error as StoreError {
            #expect(error.code == .constraint)
        }
        do {
            try store.exec("update notes set title = ? where id = ?", "secret-value")
            Issue.record("a parameter-count mismatch did not throw")
        } catch let error as StoreError {
            #expect(error.code == .parameterCount)
            #expect(!error.description.contains("secret-value"))
        }
        expect(.sql) { try store.exec("selec 1") }
        expect(.multipleStatements) { try store.exec("delete from notes; delete from notes") }
        expect(.transactionControl) { try store.exec("begin") }
        expect(.transactionControl) { try store.exec("commit") }
    }

    /// `tx` commits, rolls back exactly its level, and sees its own rows.
    public static func transactions(_ adapter: Adapter) throws {
        struct Boom: Error {}
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        let n = try store.tx {
            try store.exec("insert into notes (title) values ('outer')")
            do {
                try store.tx {
                    try store.exec("insert into notes (title) values ('inner')")
                    throw Boom()
                }
            } catch is Boom {}
            let seen: Int? = try store.one("select count(*) from notes")
            return seen ?? -1
        }
        #expect(n == 1)
        #expect(throws: Boom.self) {
            try store.tx {
                try store.exec("insert into notes (title) values ('doomed')")
                throw Boom()
            }
        }
        let titles: [String] = try store.query("select title from notes")
        #expect(titles == ["outer"])
        // A tx that returns has committed; one that throws has committed nothing — also when
        // its body swallowed a failed statement (SQLite undoes that statement alone, PostgreSQL
        // the whole transaction, and then tx throws).
        do {
            try store.tx {
                try store.exec("insert into notes (title) values ('kept or not')")
                _ = try? store.exec("insert into notes (title) values (?)", nil)
            }
            #expect(try store.one("select count(*) from notes where title = 'kept or not'") == 1)
        } catch {
            #expect(try store.one("select count(*) from notes where title = 'kept or not'") == 0)
        }
    }

    /// Migrations run once, in order; edited and missing entries are refused; failing entries
    /// roll back whole.
    public static func migrations(_ adapter: Adapter) throws {
        let store = try adapter.make()
        var entries = notes(adapter.dialect) + ["insert into notes (title) values ('seed')"]
        try store.migrate("notes", entries)
        try store.migrate("notes", entries)
        #expect(try store.one("select count(*) from notes") == 1)
        entries.append("insert into notes (title) values ('second')")
        try store.migrate("notes", entries)
        #expect(try store.one("select count(*) from notes") == 2)
        var edited = entries
        edited[1] = "insert into notes (title) values ('changed')"
        expect(.migration) { try store.migrate("notes", edited) }
        expect(.migration) { try store.migrate("notes", Array(entries.prefix(1))) }
        expect(.migration) {
            try store.migrate("notes", entries + ["insert into notes (title) values ('x'); insert into nowhere values (1)"])
        }
        #expect(try store.one("select count(*) from notes") == 2)
    }

    /// A scoped store reaches its own tables and not another feature's; migrations cannot
    /// touch another feature's tables; foreign keys across features keep working.
    public static func fence(_ adapter: Adapter) throws {
        guard let scope = adapter.scope else { return }
        let store = try adapter.make()
        let d = adapter.dialect
        try store.migrate("accounts", ["create table users (id \(d.autoKey), name text not null)"])
        try store.migrate("todos", ["create table todos (id \(d.autoKey), title text not null, user_id \(d.int64Type) references users(id))"])
        let accounts = scope(store, "accounts")
        let todos = scope(store, "todos")
        let user = try accounts.exec("insert into users (name) values (?)", "ada").lastId
        try todos.exec("insert into todos (title, user_id) values (?, ?)", "a", user)
        for sql in ["select name from users", "delete from users", "insert into users (name) values ('x')"] {
            do {
                try todos.exec(sql)
                Issue.record("the fence let '\(sql)' through")
            } catch let error as StoreError {
                #expect(error.code == .fence)
                #expect(error.message.contains("users") && error.message.contains("accounts"))
            }
        }
        expect(.fence) {
            try store.migrate(
                "todos",
                [
                    "create table todos (id \(d.autoKey), title text not null, user_id \(d.int64Type) references users(id))",
                    "alter table users add column email text",
                ])
        }
        #expect(try accounts.one("select count(*) from users") == 1)
    }

    /// One `Change` per commit, after it succeeded, naming the tables it wrote; nothing for work
    /// rolled back, a savepoint rolled back taking its tables out; `changes(to:)` filters.
    public static func changes(_ adapter: Adapter) async throws {
        guard let subscribe = adapter.changes else { return }
        struct Boom: Error {}
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect) + ["create table tags (id \(adapter.dialect.autoKey), name text)"])
        var all = subscribe(store, nil).makeAsyncIterator()
        var tags = subscribe(store, ["tags"]).makeAsyncIterator()
        try store.exec("insert into notes (title) values ('a')")
        #expect(await all.next()?.tables == ["notes"])
        _ = try? store.tx {
            try store.exec("insert into tags (name) values ('doomed')")
            throw Boom()
        }
        try store.tx {
            try store.exec("insert into notes (title) values ('b')")
            _ = try? store.tx {
                try store.exec("insert into tags (name) values ('rolled back')")
                throw Boom()
            }
        }
        #expect(await all.next()?.tables == ["notes"])
        try store.tx {
            try store.exec("insert into notes (title) values ('c')")
            try store.exec("insert into tags (name) values ('t')")
        }
        #expect(await all.next()?.tables == ["notes", "tags"])
        #expect(await tags.next()?.tables == ["notes", "tags"])
    }

    /// Reads and writes from several threads at once all land.
    public static func threads(_ adapter: Adapter) throws {
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))
        try DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for i in 0..<50 {
                try store.exec("insert into notes (title) values (?)", "n\(i)")
                let _: Int? = try store.one("select count(*) from notes")
            }
        } as Void
        // Counted on the writer: with the write queue on, a read from the pool by a thread that
        // wrote nothing does not see the open batch (by design), so it could count fewer.
        #expect(try store.tx { try store.one("select count(*) from notes") as Int? } == 200)
    }
}

/// Expects `body` to throw a `StoreError` with `code`.
func expect(_ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a StoreError with code \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == code, "got \(error.code): \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StoreError with code \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

extension DispatchQueue {
    /// `concurrentPerform` whose body may throw; rethrows the first error.
    static func concurrentPerform(iterations: Int, execute body: @Sendable (Int) throws -> Void) throws {
        let failure = Locked<(any Error)?>(nil)
        concurrentPerform(iterations: iterations) { i in
            do { try body(i) } catch { failure.withLock { if $0 == nil { $0 = error } } }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
