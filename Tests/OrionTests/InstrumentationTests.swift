import Foundation
import Synchronization
import Testing

@testable import Orion

/// Collects events, thread-safely.
final class Events: Sendable {
    private let events = Locked<[QueryEvent]>([])
    @Sendable func record(_ event: QueryEvent) { events.withLock { $0.append(event) } }
    var all: [QueryEvent] { events.withLock { $0 } }
}

@Suite("Instrumentation: query events and sampling")
struct InstrumentationTests {
    let dir = TempDir()
    let base: SQLiteStore

    init() throws {
        base = try twoFeatures(dir)
    }

    @Test("query, one and exec each emit one event with SQL, parameter count, rows, kind and duration")
    func events() throws {
        let events = Events()
        let store = InstrumentedStore(base, sample: 1, onQuery: events.record)
        try store.exec("insert into todos (title, user_id) values (?, ?)", "a", 1)
        try store.exec("insert into todos (title, user_id) values (?, ?)", "b", 2)
        let titles: [String] = try store.query("select title from todos where id > ?", 0)
        let one: String? = try store.one("select title from todos where id = ?", 99)
        #expect(titles.count == 2 && one == nil)
        let all = events.all
        #expect(all.map(\.kind) == [.write, .write, .read, .read])
        #expect(all.map(\.rows) == [1, 1, 2, 0])
        #expect(all.map(\.paramCount) == [2, 2, 1, 1])
        #expect(all[2].sql == "select title from todos where id > ?")
        #expect(all.allSatisfy { $0.duration >= .zero && $0.error == nil && $0.feature == nil })
        #expect(all.allSatisfy { abs($0.start.timeIntervalSinceNow) < 60 })
    }

    @Test("parameter values never appear in an event, its JSON, or a failure")
    func noValues() throws {
        let events = Events()
        let store = InstrumentedStore(base, sample: 1, onQuery: events.record)
        try store.exec("insert into users (id, name) values (?, ?)", 7, "hunter2-secret")
        #expect(throws: StoreError.self) { try store.exec("insert into users (id, name) values (?, ?)", 7, "hunter2-secret") }
        let json = String(decoding: try JSONEncoder().encode(events.all), as: UTF8.self)
        #expect(!json.contains("hunter2"))
        #expect(events.all.allSatisfy { !"\($0)".contains("hunter2") })
        #expect(events.all.last?.error == "constraint")
    }

    @Test("sample 0 emits nothing at all, not even failures")
    func sampleZero() throws {
        let events = Events()
        let store = InstrumentedStore(base, sample: 0, onQuery: events.record)
        let _: [Int] = try store.query("select id from users")
        #expect(throws: StoreError.self) { try store.exec("select * from nowhere") }
        #expect(events.all.isEmpty)
    }

    @Test("a fraction samples about that share of calls, and failures always")
    func sampleFraction() throws {
        let events = Events()
        let memory = try SQLiteStore(path: ":memory:")
        let store = InstrumentedStore(memory, sample: 0.1, onQuery: events.record)
        for _ in 0..<5000 { let _: Int? = try store.one("select 1") }
        let sampled = events.all.count
        #expect(sampled > 300 && sampled < 700, "sampled \(sampled) of 5000 at 0.1")
        for _ in 0..<50 { _ = try? store.exec("select * from nowhere") }
        #expect(events.all.count - sampled == 50)
        #expect(events.all.suffix(50).allSatisfy { $0.error == "sql" })
    }

    @Test("tx and migrate pass through; statements inside a tx are reported")
    func passThrough() throws {
        let events = Events()
        let store = InstrumentedStore(base, sample: 1, onQuery: events.record)
        try store.migrate("notes", ["create table notes (id integer primary key)"])
        #expect(events.all.isEmpty)
        try store.tx {
            try store.exec("insert into notes default values")
            try store.tx { try store.exec("insert into notes default values") }
        }
        #expect(events.all.count == 2)
        #expect(try base.one("select count(*) from notes") == 2)
    }

    @Test("wrapping a scoped store keeps its fence and names the feature")
    func scoped() throws {
        let events = Events()
        let todos = InstrumentedStore(base.scoped(to: "todos"), sample: 1, onQuery: events.record)
        try todos.exec("insert into todos (title) values ('x')")
        expectStoreError(.fence) { let _: [String] = try todos.query("select name from users") }
        #expect(events.all.map(\.feature) == ["todos", "todos"])
        #expect(events.all.last?.error == "fence")
        let wrappedTwice = InstrumentedStore(todos, sample: 1, onQuery: events.record)
        expectStoreError(.fence) { try wrappedTwice.exec("delete from users") }
    }

    @Test("a sample outside 0...1 stops with a precondition message")
    func badSample() async {
        await #expect(processExitsWith: .failure) {
            let store = try SQLiteStore(path: ":memory:")
            _ = InstrumentedStore(store, sample: 1.5, onQuery: { _ in })
        }
    }
}

@Suite("QueryLog: the query panel's data")
struct QueryLogTests {
    func event(_ sql: String, ms: Int, rows: Int = 1, error: String? = nil) -> QueryEvent {
        QueryEvent(sql: sql, paramCount: 0, rows: rows, duration: .milliseconds(ms), kind: .read, start: Date(), error: error)
    }

    @Test("recent events are a bounded ring, oldest first")
    func ring() {
        let log = QueryLog(capacity: 3)
        for i in 0..<5 { log.record(event("q\(i)", ms: 1)) }
        #expect(log.recent.map(\.sql) == ["q2", "q3", "q4"])
    }

    @Test("aggregates count, total, mean, max, rows, errors and percentiles per statement")
    func aggregates() throws {
        let log = QueryLog()
        for ms in 1...100 { log.record(event("a", ms: ms, rows: 2)) }
        log.record(event("a", ms: 5, rows: 0, error: "sql"))
        log.record(event("b", ms: 1000))
        let stats = log.statements
        #expect(stats.map(\.sql) == ["a", "b"])
        let a = try #require(stats.first)
        #expect(a.count == 101 && a.rows == 200 && a.errors == 1)
        #expect(a.total == .milliseconds(5055))
        #expect(a.max == .milliseconds(100))
        #expect(a.p50 == .milliseconds(50))
        #expect(a.p95 == .milliseconds(95))
        #expect(a.p99 == .milliseconds(99))
        #expect(a.mean == .milliseconds(5055) / 101)
    }

    @Test("memory stays bounded: distinct statements are capped and the overflow counted")
    func bounded() {
        let log = QueryLog(capacity: 10, maxStatements: 5, window: 4)
        for i in 0..<1000 { log.record(event("select \(i)", ms: 1)) }
        let snapshot = log.snapshot()
        #expect(snapshot.statements.count == 5)
        #expect(snapshot.overflow == 995)
        #expect(snapshot.recent.count == 10)
        #expect(snapshot.recorded == 1000)
        log.reset()
        #expect(log.snapshot().recorded == 0 && log.statements.isEmpty)
    }

    @Test("a snapshot round-trips through JSON for a panel")
    func codable() throws {
        let log = QueryLog()
        log.record(event("select 1", ms: 3))
        let data = try JSONEncoder().encode(log.snapshot())
        let back = try JSONDecoder().decode(QueryLog.Snapshot.self, from: data)
        #expect(back.statements.first?.sql == "select 1")
        #expect(back.recent.first?.duration == .milliseconds(3))
    }

    @Test("the text table is aligned and sorted by total time")
    func table() {
        let log = QueryLog()
        log.record(event("select fast", ms: 1))
        log.record(event("select\n   slow", ms: 900))
        let lines = log.table().split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasSuffix("select slow"))
        #expect(lines[2].hasSuffix("select fast"))
        // Aligned: the SQL column starts at the same place on every line.
        let sqlColumn = lines[0].count - "sql".count
        #expect(lines[1].count - "select slow".count == sqlColumn)
        #expect(lines[2].count - "select fast".count == sqlColumn)
    }

    @Test("QueryLog.record works directly as onQuery, from many threads")
    func asHandler() throws {
        let log = QueryLog()
        let store = InstrumentedStore(try SQLiteStore(path: ":memory:"), sample: 1, onQuery: log.record)
        try onThreads(4) { _ in
            for _ in 0..<100 { let _: Int? = try store.one("select 1") }
        }
        #expect(log.snapshot().recorded == 400)
        #expect(log.statements.first?.count == 400)
    }
}
