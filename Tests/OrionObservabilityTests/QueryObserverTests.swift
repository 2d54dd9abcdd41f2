import Foundation
import InMemoryLogging
import InMemoryTracing
import Logging
import MetricsTestKit
import OrionObservability
import Testing
import Tracing

@testable import Orion

@Suite("QueryObserver: swift-log, swift-metrics and swift-distributed-tracing")
struct QueryObserverTests {
    let logs = InMemoryLogHandler()
    let metrics = TestMetrics()
    let tracer = InMemoryTracer()
    let store: InstrumentedStore

    init() throws {
        let base = try SQLiteStore(path: ":memory:")
        try base.migrate("accounts", ["create table users (id integer primary key, name text not null)"])
        let logs = logs
        let observer = QueryObserver(
            logger: Logger(label: "db", factory: { _ in logs }), logLevel: .info,
            metricsFactory: metrics, tracer: tracer, system: .sqlite)
        store = InstrumentedStore(base.scoped(to: "accounts"), sample: 1, onQuery: observer.record)
    }

    @Test("each query is logged with its SQL, counts and duration, never its values")
    func logging() throws {
        try store.exec("insert into users (name) values (?)", "secret-name")
        let entry = try #require(logs.entries.first)
        #expect(entry.level == .info)
        #expect(entry.metadata["sql"] == "insert into users (name) values (?)")
        #expect(entry.metadata["params"] == "1")
        #expect(entry.metadata["rows"] == "1")
        #expect(entry.metadata["kind"] == "write")
        #expect(entry.metadata["feature"] == "accounts")
        #expect(entry.metadata["duration_us"] != nil)
        #expect(!"\(logs.entries)".contains("secret-name"))
    }

    @Test("a failing query logs at warning with its error code")
    func failureLog() {
        #expect(throws: StoreError.self) { try store.exec("insert into nowhere values (1)") }
        #expect(logs.entries.last?.level == .warning)
        #expect(logs.entries.last?.metadata["error"] == "sql")
    }

    @Test("a timer per kind and a counter of errors")
    func metricsRecorded() throws {
        let _: [String] = try store.query("select name from users")
        let _: [String] = try store.query("select name from users")
        try store.exec("insert into users (name) values ('a')")
        _ = try? store.exec("insert into nowhere values (1)")
        let reads = try metrics.expectTimer("orion_query_duration", [("kind", "read")])
        let writes = try metrics.expectTimer("orion_query_duration", [("kind", "write")])
        #expect(reads.values.count == 2)
        #expect(writes.values.count == 2)
        #expect(metrics.counterTotal(label: "orion_query_errors", dimensions: [("kind", "write"), ("code", "sql")]) == 1)
    }

    @Test("a client span per query with OpenTelemetry's database attributes")
    func spans() throws {
        let _: [String] = try store.query("select name from users where id = ?", 1)
        _ = try? store.exec("delete from nowhere")
        let spans = tracer.finishedSpans
        #expect(spans.count == 2)
        let read = try #require(spans.first)
        #expect(read.operationName == "SELECT sqlite")
        #expect(read.kind == .client)
        #expect(read.attributes["db.system.name"]?.toSpanAttribute() == "sqlite")
        #expect(read.attributes["db.query.text"]?.toSpanAttribute() == "select name from users where id = ?")
        #expect(read.attributes["db.operation.name"]?.toSpanAttribute() == "SELECT")
        #expect(read.attributes["db.response.returned_rows"]?.toSpanAttribute() == 0)
        #expect(read.endInstant.nanosecondsSinceEpoch >= read.startInstant.nanosecondsSinceEpoch)
        let failed = try #require(spans.last)
        #expect(failed.status?.code == .error)
        #expect(failed.attributes["error.type"]?.toSpanAttribute() == "sql")
    }

    @Test("write-queue batches are measured, and a lost batch is logged as an error")
    func batches() throws {
        let logs = logs
        let observer = QueryObserver(
            logger: Logger(label: "db", factory: { _ in logs }), logLevel: .info,
            metricsFactory: metrics, tracer: nil)
        let queued = try SQLiteStore(
            path: ":memory:", writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60), onBatch: observer.recordBatch))
        try queued.exec("create table u (v integer unique)")
        try queued.exec("insert into u values (1)")
        try queued.flush()
        try queued.exec("insert into u values (2)")
        // A full disk stops a single-row insert, which has no statement journal: SQLite rolls
        // back the whole batch.
        let pages: Int = try queued.one("pragma page_count") ?? 0
        try queued.runOnWriterForTests("pragma max_page_count = \(pages)")
        #expect(throws: StoreError.self) { try queued.exec("insert into u values (?)", [UInt8](repeating: 7, count: 100_000)) }
        #expect(try metrics.expectRecorder("orion_batch_size").values == [2])
        #expect(metrics.counterTotal(label: "orion_batches_lost") == 1)
        let lost = try #require(logs.entries.last)
        #expect(lost.level == .error)
        #expect(lost.metadata["size"] == "1")
    }
}

@Suite("HealthMetrics")
struct HealthMetricsTests {
    @Test("each health figure becomes a gauge with its dimensions and the ones given")
    func gauges() throws {
        let metrics = TestMetrics()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("orion-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("h.db").path, writeQueue: WriteQueue())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        try store.flush()
        let health = try store.health()
        HealthMetrics(metricsFactory: metrics, dimensions: [("store", "main")]).record(health)
        let wal = try metrics.expectGauge("orion_sqlite_wal_bytes", [("store", "main")])
        #expect(wal.lastValue == Double(health.walBytes))
        let busy = try metrics.expectGauge("orion_sqlite_readers", [("store", "main"), ("state", "busy")])
        #expect(busy.lastValue == 0)
        let batches = try metrics.expectGauge("orion_sqlite_batches", [("store", "main")])
        #expect(batches.lastValue == 1)
        try store.close()
    }
}

/// The examples of the "Operating a store" article, with the glue the text implies (a folder of
/// the test's own instead of /var/backups).
@Suite("Operating a store: the article's examples")
struct OperatingArticleTests {
    enum Todos {
        static let migrations = ["create table todos (id integer primary key, title text not null)"]
    }

    @Test("backup, the checkpointing option, health metrics and a read-only replica work as the article shows")
    func examples() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orion-ops-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let logger = Logger(label: "ops")
        let store = try SQLiteStore(path: folder.appendingPathComponent("app.db").path, writeQueue: WriteQueue(), checkpointing: .bounded(walLimit: 256 << 20))
        try store.migrate("todos", Todos.migrations)
        try store.exec("insert into todos (title) values ('in the backup')")

        try store.flush()  // with the write queue: commit the open batch, so it is in the copy
        try store.backup(to: folder.appendingPathComponent("backup.db").path, replacing: true) { progress in
            logger.debug("backup \(Int(progress.fractionDone * 100)) %")
        }

        let metrics = HealthMetrics(metricsFactory: TestMetrics(), dimensions: [("store", "main")])
        let reporting = Task { await metrics.run(every: .seconds(10)) { try store.health() } }
        reporting.cancel()
        await reporting.value

        let replica = try SQLiteStore(path: folder.appendingPathComponent("backup.db").path, mode: .readOnly)
        try replica.migrate("todos", Todos.migrations)  // checks the entries are applied; applies none
        let todos = replica.scoped(to: "todos")  // reads through the fence as usual
        #expect(try todos.query("select title from todos") == ["in the backup"])
        #expect(throws: StoreError.self) { try todos.exec("delete from todos") }
        try store.close()
    }
}
