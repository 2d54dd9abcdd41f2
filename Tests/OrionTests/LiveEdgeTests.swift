// Found by an adversarial review of live reads; each failed before its fix.
import Foundation
import Synchronization
import Testing

@testable import Orion

@Suite("Change notifications: subscriptions that end, rolled-back and schema work, closing")
struct ChangeEdgeTests {
    let dir = TempDir()

    // F1: ChangeHub keeps every inbox strongly (`subscribers: [Int: ChangeInbox]`), so
    // ChangeInbox.deinit never runs while it is subscribed.
    @Test("leaving a for-await loop, or never iterating, ends the subscription")
    func abandonedSubscriptionsEnd() async throws {
        let store = try todoStore(dir)
        do {
            let changes = store.changes()
            try Todos.insert(store, "a")
            for await _ in changes { break }
        }
        do {
            _ = store.observe { () throws -> Int in try store.one("select count(*) from todos") ?? 0 }
        }
        // Otherwise: both inboxes live for ever, every commit is handed to them, and the
        // data_version timer takes the writer lock every 50 ms until close(). (A released
        // subscription leaves on the hub's delivery queue, a moment later.)
        let deadline = ContinuousClock.now + .seconds(5)
        while store.changeHub.hasSubscribers, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!store.changeHub.hasSubscribers)
    }

    // F4a: a single-statement unit's tables are logged in withStatement's defer, after the unit's
    // savepoint was already rolled back (complete(): deferred FK violation).
    @Test("a write-queue unit undone for a deferred foreign-key violation is not announced")
    func deferredViolationNotAnnounced() async throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: holdOpen)
        try store.migrate(
            "shop",
            [
                """
                create table parents (id integer primary key);
                create table kids (id integer primary key, parent integer references parents(id) deferrable initially deferred);
                create table notes (id integer primary key, body text);
                """
            ])
        var all = store.changes().makeAsyncIterator()
        #expect(throws: StoreError.self) { try store.exec("insert into kids (parent) values (999)") }
        #expect(try store.one("select count(*) from kids") == 0)
        try store.exec("insert into notes (body) values ('kept')")
        try store.flush()
        #expect(await all.next() == Change(tables: ["notes"]))  // got ["kids", "notes"]
    }

    // F4b: sqlite3_total_changes64 moves for a failed statement whose trigger completed before the
    // failure (OP_Halt of the trigger sub-program adds its changes), and after a whole-transaction
    // rollback the connection is in autocommit, so logWrites publishes at once.
    @Test("a statement that failed after its trigger ran is not announced", arguments: [false, true])
    func failedAfterTrigger(inTx: Bool) async throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate(
            "shop",
            [
                """
                create table items (id integer primary key, sku text unique);
                create table audit (sku text);
                create table notes (id integer primary key, body text);
                create trigger log_items after insert on items begin insert into audit values (new.sku); end;
                insert into items (sku) values ('dup');
                """
            ])
        var all = store.changes().makeAsyncIterator()
        if inTx {
            _ = try? store.tx {
                try store.exec("insert into notes (body) values ('rolled back with the tx')")
                try store.exec("insert or rollback into items (sku) values ('new'), ('dup')")
            }
        } else {
            #expect(throws: StoreError.self) { try store.exec("insert into items (sku) values ('new'), ('dup')") }
        }
        #expect(try store.one("select count(*) from audit") == 1)
        try store.exec("insert into notes (body) values ('kept')")
        #expect(await all.next() == Change(tables: ["notes"]))  // got ["items", "audit", "notes"]
    }

    // F4c: the unit that fills the batch commits inside complete(): announceCommit runs before
    // that unit's statement was logged, which is then published on its own.
    @Test("the unit that fills the batch is part of the batch's one Change")
    func fullBatchIsOneChange() async throws {
        let store = try SQLiteStore(path: dir.path(), writeQueue: WriteQueue(maxBatch: 2, maxDelay: .seconds(60)))
        try store.migrate("todos", Todos.migrations)
        try store.migrate("notes", ["create table notes (id integer primary key, body text)"])
        let all = ChangeCollector(store.changes())
        try await Task.sleep(for: .milliseconds(50))  // the collector waits in next()
        try Todos.insert(store, "a")
        try store.exec("insert into notes (body) values ('n')")  // second unit: the batch commits in it
        await all.wait(for: 1)
        try await Task.sleep(for: .milliseconds(100))
        #expect(all.changes == [Change(tables: ["todos", "notes"])])  // got [["todos"], ["notes"]]
    }

    // F5: ChangeInbox.finish() sets `pending = nil`: close() throws away the Change of the commit
    // it just made (or one made a moment before) that the consumer had not taken yet.
    @Test("commits made just before close, and by close, are delivered before the sequence ends", arguments: [false, true])
    func lastChangeSurvivesClose(queue: Bool) async throws {
        let store = try todoStore(dir, writeQueue: queue ? holdOpen : nil)
        var all = store.changes().makeAsyncIterator()
        try Todos.insert(store, "a")
        try store.close()
        #expect(await all.next() == Change(tables: ["todos"]))  // got nil
        #expect(await all.next() == nil)
    }

    // F6: DDL moves no total_changes and the authorizer records no ALTER/CREATE target, so the
    // usual rebuild announces only "todos_new" (ALTER TABLE … ADD COLUMN announces nothing).
    @Test("a migration entry that rebuilds a table announces the table")
    func rebuildAnnounced() async throws {
        let store = try todoStore(dir)
        try Todos.insert(store, "a")
        var all = store.changes().makeAsyncIterator()
        try store.migrate(
            "todos",
            Todos.migrations + [
                """
                create table todos_new (id integer primary key, title text not null, done integer not null default 0);
                insert into todos_new (id, title, done) select id, upper(title), done from todos;
                drop table todos;
                alter table todos_new rename to todos;
                """
            ])
        #expect(try Todos.all(store).map(\.title) == ["A"])
        #expect(await all.next()?.tables.contains("todos") == true)  // got ["todos_new"]
    }

    // F7: the data_version baseline is read by the first timer tick, asynchronously and behind
    // the writer lock; a commit by another connection before that tick is never announced.
    @Test("a commit by another store right after changes() returns is announced, even while the writer is busy")
    func externalRightAfterSubscribe() async throws {
        let store = try todoStore(dir)
        let busy = DispatchSemaphore(value: 0)
        Thread {
            try? store.runOnWriterForTests(
                "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3000000) select count(*) from r")
            busy.signal()
        }.start()
        try await Task.sleep(for: .milliseconds(50))  // the slow read holds the writer
        let all = ChangeCollector(store.changes())  // live when this returns
        let other = try SQLiteStore(path: dir.path())
        try Todos.insert(other, "from elsewhere")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                busy.wait()
                done.resume()
            }
        }
        let received = await all.wait(for: 1)
        #expect(received.first?.isExternal == true)  // got nothing
    }

    // F11: SQLiteStore.deinit never finishes the hub; an iterator that does not keep the store
    // alive waits for ever.
    @Test("the sequence ends when the store is released without close")
    func endsWhenStoreReleased() async throws {
        var store: SQLiteStore? = try todoStore(dir)
        let changes = store!.changes()
        let ended = Atomic<Bool>(false)
        let task = Task {
            for await _ in changes {}
            ended.store(true, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(20))
        store = nil
        let deadline = ContinuousClock.now + .seconds(2)
        while !ended.load(ordering: .relaxed), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let hasEnded = ended.load(ordering: .relaxed)
        #expect(hasEnded)
        task.cancel()
    }
}

@Suite("observe: the first value")
struct ObserveEdgeTests {
    let dir = TempDir()

    // F12: the inbox subscribes (filter nil) when observe() is called; a commit made before the
    // first next() stays pending and forces a second evaluation with the same value.
    @Test("the first value already reflects earlier commits; the next one waits for a new commit")
    func noRerunForCommitsTheFirstValueSaw() async throws {
        let store = try todoStore(dir)
        let observation = store.observe { () throws -> Int in try store.one("select count(*) from todos") ?? -1 }
        try Todos.insert(store, "before the first value")
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == 1)
        Task {
            try await Task.sleep(for: .milliseconds(200))
            try Todos.insert(store, "b")
        }
        #expect(try await values.next() == 2)  // got 1 again, at once
    }
}

@Suite("Read routing: who reads the open batch")
struct ReadRoutingTests {
    let dir = TempDir()

    // F10: caller keys are thread ids outside tasks; glibc reuses a finished thread's pthread_t.
    @Test("a new thread never reads the pending batch of a finished thread that had the same id")
    func reusedThreadDoesNotSeePendingRows() throws {
        let store = try todoStore(dir, writeQueue: holdOpen)
        try onThreads(1) { _ in try Todos.insert(store, "pending") }
        #expect(store.batchIsOpenForTests)
        let sawPending = Atomic<Int>(0)
        for _ in 0..<50 {
            try onThreads(1) { _ in
                let count: Int = try store.one("select count(*) from todos") ?? 0
                if count > 0 { sawPending.add(1, ordering: .relaxed) }
            }
        }
        #expect(sawPending.load(ordering: .relaxed) == 0)
    }
}
