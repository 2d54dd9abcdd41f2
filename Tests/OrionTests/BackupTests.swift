import Foundation
import Synchronization
import Testing

@testable import Orion

@Suite("Online backup and VACUUM INTO")
struct BackupTests {
    let dir = TempDir()

    private struct Seq: Decodable {
        let writer: Int
        let n: Int
    }

    @Test("a backup taken while four threads write holds every row committed before it, and none after: one point in time")
    func backupUnderWrites() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("log", ["create table entries (writer integer not null, n integer not null, body blob not null, primary key (writer, n))"])
        // About 16 MB first, so that the backup takes many steps while the writers go on.
        try store.tx {
            for i in 1...16_000 { try store.exec("insert into entries values (9, ?, randomblob(1000))", i) }
        }
        final class Progress: Sendable {
            let committed = Locked([0, 0, 0, 0])
            let stop = Atomic<Bool>(false)
            var counts: [Int] { committed.withLock { $0 } }
        }
        let progress = Progress()
        let writers = DispatchGroup()
        for w in 0..<4 {
            writers.enter()
            Thread {
                defer { writers.leave() }
                var n = 0
                while !progress.stop.load(ordering: .relaxed) {
                    n += 1
                    try! store.exec("insert into entries values (?, ?, randomblob(200))", w, n)
                    progress.committed.withLock { $0[w] = n }
                }
            }.start()
        }
        while progress.counts.contains(where: { $0 < 50 }) { usleep(1000) }
        let before = progress.counts
        var steps: [BackupProgress] = []
        try store.backup(to: dir.path("copy.db"), pagesPerStep: 64) { steps.append($0) }
        let after = progress.counts
        progress.stop.store(true, ordering: .relaxed)
        writers.wait()

        #expect(steps.count > 10)
        #expect(steps.last?.remainingPages == 0)
        #expect(steps.last?.fractionDone == 1)
        #expect(zip(steps, steps.dropFirst()).allSatisfy { $0.remainingPages >= $1.remainingPages })

        let copy = try SQLiteStore(path: dir.path("copy.db"))
        let check: String? = try copy.one("pragma integrity_check")
        #expect(check == "ok")
        #expect(try copy.one("select count(*) from entries where writer = 9") == 16_000)
        var inCopy = 0
        for w in 0..<4 {
            let ns: [Int] = try copy.query("select n from entries where writer = ? order by n", w)
            // Every row committed before the backup began, and no gap: each writer's rows are
            // a prefix of what it wrote, as of one moment.
            #expect(ns.count >= before[w], "writer \(w): \(ns.count) rows in the copy, \(before[w]) committed before it began")
            #expect(ns == Array(1...max(ns.count, 1)).prefix(ns.count).map { $0 })
            inCopy += ns.count
        }
        // The writers went on during the backup, and what they wrote then is not in the copy.
        #expect(after.reduce(0, +) > inCopy, "writes made during the backup are not in it")
        try copy.close()
        try store.close()
    }

    @Test("an existing file is refused unless replacing; the store's own file always")
    func refusesToOverwrite() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        try "not a database".write(toFile: dir.path("taken.db"), atomically: true, encoding: .utf8)
        let refused = expectStoreError(.misuse) { try store.backup(to: dir.path("taken.db")) }
        #expect(refused?.message.contains("already exists; pass replacing: true") == true)
        #expect(try String(contentsOfFile: dir.path("taken.db"), encoding: .utf8) == "not a database")
        try store.backup(to: dir.path("taken.db"), replacing: true)
        #expect(try SQLiteStore(path: dir.path("taken.db")).one("select x from t") == 1)
        let own = expectStoreError(.misuse) { try store.backup(to: dir.path(), replacing: true) }
        #expect(own?.message.contains("cannot write over the store's own") == true)
        expectStoreError(.misuse) { try store.vacuumInto(dir.path("taken.db")) }
        expectStoreError(.misuse) { try store.vacuumInto(dir.path(), replacing: true) }
        // A target with a WAL beside it may be open elsewhere: writing over it could corrupt it.
        try Data().write(to: URL(fileURLWithPath: dir.path("open.db-wal")))
        let open = expectStoreError(.misuse) { try store.backup(to: dir.path("open.db"), replacing: true) }
        #expect(open?.message.contains("may be open") == true)
        // Nothing half-written is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains("orion-partial") }
        #expect(leftovers.isEmpty)
    }

    @Test("the store's own -wal, -shm and journal, or a hard link to its file, are refused as targets")
    func ownFiles() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        for suffix in ["-wal", "-shm", "-journal", "-orion-turns"] {
            let error = expectStoreError(.misuse) { try store.backup(to: dir.path() + suffix, replacing: true) }
            #expect(error?.message.contains("cannot write over the store's own") == true)
            expectStoreError(.misuse) { try store.vacuumInto(dir.path() + suffix, replacing: true) }
        }
        #expect(link(dir.path(), dir.path("alias.db")) == 0)
        expectStoreError(.misuse) { try store.backup(to: dir.path("alias.db"), replacing: true) }
        #expect(try store.one("select x from t") == 1)
        #expect(try SQLiteStore(path: dir.path()).one("select x from t") == 1)
    }

    @Test("a database file moved away while the store is open: the backup fails, and creates nothing")
    func movedFile() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try FileManager.default.moveItem(atPath: dir.path(), toPath: dir.path("moved.db"))
        expectStoreError(.io) { try store.backup(to: dir.path("copy.db")) }
        #expect(!FileManager.default.fileExists(atPath: dir.path()))
        #expect(!FileManager.default.fileExists(atPath: dir.path("copy.db")))
    }

    @Test("a backup is a standalone file: opening it read-only leaves no -wal or -shm beside it")
    func standaloneCopy() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (7)")
        try store.backup(to: dir.path("copy.db"))
        let copy = try SQLiteStore(path: dir.path("copy.db"), mode: .readOnly)
        #expect(try copy.one("select x from t") == 7)
        try copy.close()
        #expect(!FileManager.default.fileExists(atPath: dir.path("copy.db-wal")))
        #expect(!FileManager.default.fileExists(atPath: dir.path("copy.db-shm")))
        try store.backup(to: dir.path("copy.db"), replacing: true)
    }

    @Test("writes go on at full speed during a long backup, even with the WAL past its limit")
    func noStallDuringBackup() throws {
        let store = try SQLiteStore(path: dir.path(), checkpointing: .bounded(walLimit: 1 << 20))
        try store.migrate("t", ["create table t (id integer primary key, body blob not null)"])
        try store.tx {
            for _ in 0..<4000 { try store.exec("insert into t (body) values (randomblob(1000))") }
        }
        final class Count: Sendable {
            let writes = Atomic<Int>(0)
            let done = Atomic<Bool>(false)
        }
        let count = Count()
        let writer = Thread {
            while !count.done.load(ordering: .relaxed) {
                try! store.exec("insert into t (body) values (randomblob(1000))")
                count.writes.add(1, ordering: .relaxed)
            }
        }
        writer.start()
        while count.writes.load(ordering: .relaxed) < 10 { usleep(1000) }
        let started = ContinuousClock.now
        // A slow backup: a few pages per step, a pause after each, about a second in all. No
        // TRUNCATE checkpoint waits for its read transaction (one that began just before it
        // may still be waiting when the first step is done).
        var steps = 0
        var before = store.checkpointer.current
        try store.backup(to: dir.path("copy.db"), pagesPerStep: 4) { _ in
            steps += 1
            if steps == 1 { before = store.checkpointer.current }
            usleep(2000)
        }
        #expect(steps > 100)
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
        count.done.store(true, ordering: .relaxed)
        while writer.isExecuting { usleep(1000) }
        let rate = Double(count.writes.load(ordering: .relaxed)) / seconds
        #expect(rate > 200, "\(Int(rate)) writes/s during the backup")
        let figures = store.checkpointer.current
        // No TRUNCATE checkpoint waited for the backup's read transaction.
        #expect(figures.busy <= before.busy + 1, "\(figures)")
        #expect(figures.longest < .milliseconds(500), "\(figures)")
    }

    @Test("VACUUM INTO writes a compacted copy: the same rows, no free pages")
    func vacuumInto() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (id integer primary key, body blob not null)"])
        try store.tx {
            for _ in 0..<2000 { try store.exec("insert into t (body) values (randomblob(2000))") }
        }
        try store.exec("delete from t where id % 4 != 0")
        try store.vacuumInto(dir.path("small.db"))
        let copy = try SQLiteStore(path: dir.path("small.db"))
        #expect(try copy.one("select count(*) from t") == 500)
        #expect(try copy.one("pragma freelist_count") == 0)
        #expect(try copy.one("pragma integrity_check") == "ok")
        let original: Int = try store.one("pragma page_count")!
        let compacted: Int = try copy.one("pragma page_count")!
        #expect(compacted < original / 2)
        // The fence's bookkeeping comes along: the copy knows who owns what.
        #expect(try copy.one("select feature from _orion_tables where name = 't'") == "t")
        #expect(try copy.scoped(to: "t").one("select count(*) from t") == 500)
    }

    @Test("an in-memory store backs up to a file")
    func memoryStore() throws {
        let store = try SQLiteStore(path: ":memory:")
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (42)")
        try store.backup(to: dir.path("from-memory.db"))
        #expect(try SQLiteStore(path: dir.path("from-memory.db")).one("select x from t") == 42)
        expectStoreError(.misuse) { try store.backup(to: ":memory:") }
    }

    @Test("the write queue's open batch is not in a backup until it is flushed")
    func openBatch() throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)))
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        try store.backup(to: dir.path("early.db"))
        #expect(try SQLiteStore(path: dir.path("early.db")).one("select count(*) from t") == 0)
        try store.flush()
        try store.backup(to: dir.path("late.db"))
        #expect(try SQLiteStore(path: dir.path("late.db")).one("select count(*) from t") == 1)
    }

    @Test("feature SQL cannot copy the database out: VACUUM INTO and ATTACH are refused to a scoped store")
    func notFromFeatures() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        let scoped = store.scoped(to: "t")
        expectStoreError(.fence) { try scoped.exec("vacuum into ?", dir.path("stolen.db")) }
        expectStoreError(.fence) { try scoped.exec("vacuum") }
        expectStoreError(.fence) { try scoped.exec("attach ? as other", dir.path("other.db")) }
        #expect(!FileManager.default.fileExists(atPath: dir.path("stolen.db")))
    }
}
