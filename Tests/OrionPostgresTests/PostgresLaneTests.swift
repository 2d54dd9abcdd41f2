import Foundation
import Orion
import StoreConformance
import Synchronization
import Testing

@testable import OrionPostgres

/// Another connection holding `LOCK TABLE … IN EXCLUSIVE MODE` (reads still read) until the
/// returned function is called.
private func lockTable(_ table: String, url: String) throws -> @Sendable () -> Void {
    let holder = try PostgresStore(url: url, poolSize: 1)
    let locked = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        _ = try? holder.tx {
            try holder.exec("lock table \(table) in exclusive mode")
            locked.signal()
            release.wait()
        }
        done.signal()
    }
    locked.wait()
    return {
        release.signal()
        done.wait()
        holder.close()
    }
}

@Suite("PostgresStore: lanes", .enabled(if: PG.available, PG.skipReason), .timeLimit(.minutes(2)))
struct PostgresLaneTests {
    static let todos = ["create table todos (id bigserial primary key, title text not null)"]

    @Test("with another connection holding a table lock, 32 waiting writes hold at most the write share, and reads and plain tasks are served")
    func stuckWriter() async throws {
        let url = try PG.freshDatabase()
        let store = try PostgresStore(url: url, poolSize: 8, busyTimeout: .seconds(60))
        try store.migrate("todos", Self.todos)
        try store.exec("insert into todos (title) values ('committed')")
        let release = try lockTable("todos", url: url)
        let answered = Counter()
        let writes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<32 {
                    group.addTask {
                        try await store.write { _ = try store.exec("insert into todos (title) values (?)", "waiting \(i)") }
                        answered.add()
                    }
                }
                try await group.waitForAll()
            }
        }
        // The write share (2 of 8) waits on the lock; the other 30 as suspended tasks.
        #expect(store.writeShare == 2 && store.readShare == 6)
        #expect(await eventually { store.laneFigures.write.queued == 30 })
        for _ in 0..<50 {
            let count: Int? = try await store.read { try store.one("select count(*) from todos") }
            #expect(count == 1)
        }
        #expect(store.health().pool.inUse <= 2)
        #expect(await Task { 42 }.value == 42)
        #expect(answered.count == 0)
        release()
        try await writes.value
        #expect(answered.count == 32)
        #expect(try store.one("select count(*) from todos") == 33)
    }

    @Test("eight writes behind a lock held past the busy timeout all answer within it, nothing committed")
    func eightWritesTimeOut() async throws {
        let url = try PG.freshDatabase()
        let timeout = Duration.seconds(1)
        let store = try PostgresStore(url: url, poolSize: 4, busyTimeout: timeout)
        try store.migrate("todos", Self.todos)
        let release = try lockTable("todos", url: url)
        defer { release() }
        // Timed on a thread of the test's own: the cooperative pool may be busy with other suites.
        let waits = try await TimingExecutor.measuring {
            try await withThrowingTaskGroup(of: (Duration, StoreError?).self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(50 * i))
                        let start = ContinuousClock.now
                        do {
                            try await store.write { _ = try store.exec("insert into todos (title) values (?)", "late \(i)") }
                            return (ContinuousClock.now - start, nil)
                        } catch let error as StoreError {
                            return (ContinuousClock.now - start, error)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        for (waited, error) in waits {
            #expect(error?.code == .busy, "\(String(describing: error))")
            #expect(waited < timeout * 2.5, "answered after \(waited)")
        }
        let count: Int? = try await store.read { try store.one("select count(*) from todos") }
        #expect(count == 0)
    }

    @Test("read runs its statements read-only: a function that writes is refused by PostgreSQL, and the connection writes again afterwards")
    func readOnlyOnTheServer() async throws {
        let store = try PG.freshStore(poolSize: 2)
        try store.migrate(
            "todos",
            Self.todos + [
                "create function add_todo() returns bigint language sql as $$ insert into todos (title) values ('sneaked') returning id $$"
            ])
        do {
            let _: Int64? = try await store.read { try store.one("select add_todo()") }
            Issue.record("a write through a function passed read { }")
        } catch let error as StoreError {
            #expect(error.code == .misuse)
            #expect(error.message.contains("write { }"))
        }
        do {
            let _: [Int64] = try await store.read { try store.query("with t as (insert into todos (title) values ('x') returning id) select id from t") }
            Issue.record("a data-modifying WITH passed read { }")
        } catch let error as StoreError {
            #expect(error.code == .misuse)
        }
        #expect(try store.one("select count(*) from todos") == 0)
        // Every connection of the pool, read-only a moment ago, writes for the other callers.
        try store.exec("insert into todos (title) values ('a')")
        try store.tx { _ = try store.exec("insert into todos (title) values ('b')") }
        try await store.write { _ = try store.exec("insert into todos (title) values ('c')") }
        let _: Int64? = try store.one("select add_todo()")
        #expect(try store.one("select count(*) from todos") == 4)
    }

    @Test("a write body whose statements wait for two locks in turn waits the busy timeout in all, not per statement")
    func twoLockWaits() async throws {
        let url = try PG.freshDatabase()
        let store = try PostgresStore(url: url, poolSize: 4, busyTimeout: .seconds(2))
        try store.migrate("todos", Self.todos)
        try store.exec("insert into todos (title) values ('one'), ('two')")
        // Row 1 is locked for 1.5 s, row 2 for 6 s, by two other connections.
        func lockRow(_ id: Int, for seconds: Double) throws {
            let holder = try PostgresStore(url: url, poolSize: 1)
            let locked = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                _ = try? holder.tx {
                    _ = try holder.exec("update todos set title = title where id = ?", id)
                    locked.signal()
                    usleep(UInt32(seconds * 1_000_000))
                }
                holder.close()
            }
            locked.wait()
        }
        try lockRow(1, for: 1.5)
        try lockRow(2, for: 6)
        let start = ContinuousClock.now
        // Measured on the lane's thread, where the waits are (the test's own task may resume
        // late on a busy cooperative pool).
        let waited = Locked<Duration?>(nil)
        do {
            try await store.write {
                do {
                    _ = try store.exec("update todos set title = 'first' where id = 1")
                    _ = try store.exec("update todos set title = 'second' where id = 2")
                } catch {
                    waited.withLock { $0 = ContinuousClock.now - start }
                    throw error
                }
            }
            Issue.record("the write got both locks")
        } catch let error as StoreError {
            #expect(error.code == .busy, "\(error)")
        }
        // Per statement it would be 1.5 s and then 2 s more.
        let total = try #require(waited.withLock { $0 })
        #expect(total < .seconds(3), "waited \(total)")
        #expect(try store.query("select title from todos order by id") == ["one", "two"])
    }

    @Test("a write body's deadline holds for its own store only: another store it calls waits as any caller")
    func deadlineIsPerStore() async throws {
        let a = try PostgresStore(url: try PG.freshDatabase(), poolSize: 2, busyTimeout: .milliseconds(100))
        let b = try PG.freshStore(poolSize: 2)
        try await a.write {
            usleep(150_000)  // past a's deadline
            let n: Int? = try b.tx { try b.one("select 1") }
            #expect(n == 1)
        }
    }

    @Test("read refuses what a read-only transaction lets through: sequences and large objects")
    func readRefusesSequencesAndLargeObjects() async throws {
        let store = try PG.freshStore(poolSize: 2)
        try store.migrate("todos", Self.todos)
        let objects: Int? = try store.one("select count(*) from pg_largeobject_metadata")
        for sql in [
            "select lo_from_bytea(0, '\\x41'::bytea)::text", "select lo_create(0)::text", "select nextval('todos_id_seq')::text",
            "select setval('todos_id_seq', 100)::text",
            "select pg_catalog.nextval('todos_id_seq')::text",
        ] {
            do {
                _ = try await store.read { try store.one(sql) as String? }
                Issue.record("read { } let '\(sql)' through")
            } catch let error as StoreError {
                #expect(error.code == .misuse, "\(sql): \(error)")
            }
        }
        #expect(try store.one("select count(*) from pg_largeobject_metadata") == objects)
        #expect(try store.exec("insert into todos (title) values ('a')").lastId == 1)
    }

    @Test("a function that turns the session's read-only default off does not open read bodies to writes")
    func readOnlyFlippedByAFunction() async throws {
        let store = try PostgresStore(url: try PG.freshDatabase(), poolSize: 2, writeShare: 1)
        try store.migrate("todos", Self.todos)
        try store.exec(
            "create function flip() returns int language plpgsql as $$ begin set default_transaction_read_only = off; return 1; end $$")
        try store.exec("create function add_todo() returns int language plpgsql as $$ begin insert into todos (title) values ('sneaked'); return 1; end $$")
        let flipped: Int? = try await store.read { try store.one("select flip()") }
        #expect(flipped == 1)
        for _ in 0..<3 {
            await #expect(throws: StoreError.self) { _ = try await store.read { try store.one("select add_todo()") as Int? } }
        }
        #expect(try store.one("select count(*) from todos") == 0)
    }

    @Test("a write inside WITH whose returned rows fail to decode is undone, as a plain one is")
    func withWritesUndone() throws {
        let store = try PG.freshStore(poolSize: 2)
        try store.migrate("todos", Self.todos)
        try store.exec("insert into todos (title) values ('one'), ('two')")
        struct Wrong: Decodable { let id: String }
        #expect(throws: StoreError.self) { let _: [Wrong] = try store.query("with d as (delete from todos where id = 1 returning id) select id from d") }
        #expect(throws: StoreError.self) { let _: Wrong? = try store.one("with u as (update todos set title = 'changed' where id = 2 returning id) select id from u") }
        try store.tx {
            #expect(throws: StoreError.self) { let _: [Wrong] = try store.query("with i as (insert into todos (title) values ('three') returning id) select id from i") }
        }
        #expect(try store.query("select title from todos order by id") == ["one", "two"])
        // A WITH that only reads is not wrapped: it answers as before.
        let ids: [Int64] = try store.query("with t as (select id from todos) select id from t order by id")
        #expect(ids == [1, 2])
    }

    @Test("a task cancelled while it waits for the write lane leaves at once, and its body never runs")
    func cancelledWaiter() async throws {
        // A busy timeout far past the test's own steps (under the whole suite's load they once
        // took over the default 5 s, and the held body's insert timed out).
        let store = try PostgresStore(url: try PG.freshDatabase(), poolSize: 2, busyTimeout: .seconds(60), writeShare: 1)
        try store.migrate("todos", Self.todos)
        let first = await HeldWriteLane(store) { _ = try store.exec("insert into todos (title) values ('first')") }
        let ran = Counter()
        let second = Task { try await store.write { ran.add() } }
        #expect(await eventually { store.laneFigures.write.queued == 1 })
        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        first.release()
        try await first.task.value
        #expect(ran.count == 0)
        #expect(try store.query("select title from todos") == ["first"])
    }

    @Test("close() answers waiting callers with .closed; later calls throw .closed")
    func closeWhileWaiting() async throws {
        let store = try PostgresStore(url: try PG.freshDatabase(), poolSize: 2, writeShare: 1)
        try store.migrate("todos", Self.todos)
        let running = await HeldWriteLane(store) { _ = try store.exec("insert into todos (title) values ('running')") }
        let waiting = Task { try await store.write { _ = try store.exec("insert into todos (title) values ('waiting')") } }
        #expect(await eventually { store.laneFigures.write.queued == 1 })
        store.close()
        await #expect(throws: StoreError.self) { try await waiting.value }
        running.release()
        // The running body's statement meets the closed pool: nothing of it commits.
        await #expect(throws: StoreError.self) { try await running.task.value }
        await #expect(throws: StoreError.self) { try await store.read { 1 } }
    }
}
