import Foundation
import Synchronization
import Testing

@testable import Orion

@Suite("Health figures")
struct HealthTests {
    let dir = TempDir()

    @Test("health() reports the files, pages, cache, readers, write queue and checkpoints")
    func figures() throws {
        let store = try SQLiteStore(
            path: dir.path(), writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)), checkpointing: .bounded(walLimit: 1 << 20))
        try store.migrate("t", ["create table t (id integer primary key, body blob not null)"])
        for _ in 0..<3 {
            try store.tx {
                for _ in 0..<2000 { try store.exec("insert into t (body) values (randomblob(1000))") }
            }
            try store.flush()
        }
        let rows: Int? = try store.one("select count(*) from t")
        #expect(rows == 6000)
        try store.exec("insert into t (body) values (x'00')")
        let health = try store.health()
        #expect(health.databaseBytes > 0)
        #expect(health.pageSize == 4096)
        #expect(health.pageCount > 1500)
        #expect(health.freePages == 0)
        #expect(health.cacheHits > 0)
        #expect(health.cacheHitRate > 0 && health.cacheHitRate <= 1)
        #expect(health.readers?.capacity == 4)
        #expect(health.readers?.open == 1)
        #expect(health.readers?.busy == 0)
        #expect(health.pendingWrites == 1, "the insert waits in the open batch")
        #expect(health.writeQueue?.batches == 3)
        #expect(health.writeQueue?.largestBatch == 1)
        #expect(health.writeQueueStopped == false)
        #expect(health.checkpoints.truncated + health.checkpoints.passive > 0, "\(health.checkpoints)")
        #expect(health.writerAnswered)
        let labels = Set(health.gauges.map(\.label))
        #expect(labels.isSuperset(of: ["orion_sqlite_wal_bytes", "orion_sqlite_cache_hit_rate", "orion_sqlite_readers", "orion_sqlite_checkpoints", "orion_sqlite_batches"]))
        try store.flush()
        #expect(try store.health().pendingWrites == 0)
    }

    @Test("reads that found every reader busy are counted")
    func readerWaits() throws {
        let store = try SQLiteStore(path: dir.path(), readers: 1)
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        // One thread holds the only reader with a slow query; a read started meanwhile waits.
        let slow = Thread {
            let _: Int? = try? store.one("with recursive c(n) as (select 1 union all select n + 1 from c where n < 3000000) select count(*) from c")
        }
        slow.start()
        let deadline = ContinuousClock.now + .seconds(30)
        while try store.health().readers?.busy != 1 && ContinuousClock.now < deadline { usleep(1000) }
        #expect(try store.health().readers?.busy == 1)
        let _: Int? = try store.one("select count(*) from t")
        let readers = try #require(try store.health().readers)
        #expect(readers.open == 1)
        #expect(readers.waits > 0)
    }

    @Test("health() does not wait behind a long tx: the writer's figures are left out and said so")
    func busyWriter() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holder = Thread {
            try? store.tx {
                inside.signal()
                release.wait()
            }
        }
        holder.start()
        inside.wait()
        let started = ContinuousClock.now
        let health = try store.health()
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(!health.writerAnswered)
        #expect(health.pageCount == 0)
        release.signal()
        while !(try store.health().writerAnswered) { usleep(1000) }
    }

    @Test("an in-memory store has no reader pool; a closed store has no health")
    func memoryAndClosed() throws {
        let memory = try SQLiteStore(path: ":memory:")
        #expect(try memory.health().readers == nil)
        #expect(try memory.health().walBytes == 0)
        try memory.close()
        expectStoreError(.closed) { _ = try memory.health() }
    }
}
