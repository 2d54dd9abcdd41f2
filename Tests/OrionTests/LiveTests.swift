import Foundation
import Synchronization
import Testing

@testable import Orion

/// Gathers what a `Changes` sequence yields, on a task of its own.
final class ChangeCollector: Sendable {
    private final class Received: Sendable {
        let changes = Locked<[Change]>([])
    }
    private let box = Received()
    private let task: Task<Void, Never>

    init(_ changes: Changes) {
        let box = self.box
        task = Task {
            for await change in changes { box.changes.withLock { $0.append(change) } }
        }
    }

    deinit { task.cancel() }

    var changes: [Change] { box.changes.withLock { $0 } }

    /// Waits (up to 10 s) until `count` changes arrived; returns them.
    @discardableResult
    func wait(for count: Int) async -> [Change] {
        let deadline = ContinuousClock.now + .seconds(10)
        while box.changes.withLock({ $0.count }) < count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        return changes
    }

    /// The union of every table received.
    var tables: Set<String> { changes.reduce(into: []) { $0.formUnion($1.tables) } }

    func stop() { task.cancel() }
}

@Suite("Change notifications: one Change per commit, after it succeeded")
struct ChangeTests {
    let dir = TempDir()

    func store(queue: WriteQueue? = nil) throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.path(), writeQueue: queue)
        try store.migrate("todos", Todos.migrations)
        try store.migrate("notes", ["create table notes (id integer primary key, body text)"])
        return store
    }

    @Test("a write, a tx and a migration entry each announce one Change with the tables they wrote")
    func perCommit() async throws {
        let store = try store()
        var all = store.changes().makeAsyncIterator()
        try Todos.insert(store, "a")
        #expect(await all.next() == Change(tables: ["todos"]))
        try store.tx {
            try Todos.insert(store, "b")
            try store.exec("insert into notes (body) values ('n')")
        }
        #expect(await all.next() == Change(tables: ["todos", "notes"]))
        try store.migrate("tags", ["create table tags (id integer primary key)", "insert into tags default values"])
        #expect(await all.next() == Change(tables: ["tags"]))
    }

    @Test("rolled-back work is never announced: a tx that throws, a savepoint rolled back, a failed statement")
    func rolledBack() async throws {
        struct Boom: Error {}
        let store = try store()
        var all = store.changes().makeAsyncIterator()
        _ = try? store.tx {
            try Todos.insert(store, "doomed")
            throw Boom()
        }
        try store.tx {
            try store.exec("insert into notes (body) values ('kept')")
            _ = try? store.tx {
                try Todos.insert(store, "rolled back with its savepoint")
                throw Boom()
            }
        }
        #expect(await all.next() == Change(tables: ["notes"]))
        _ = try? store.exec("insert into todos (title) values (?)", nil)
        try store.exec("update notes set body = 'again'")
        #expect(await all.next() == Change(tables: ["notes"]))
    }

    @Test("a whole write-queue batch is one Change; a unit rolled back leaves its tables out", arguments: [true, false])
    func batch(useTx: Bool) async throws {
        let store = try store(queue: holdOpen)
        var all = store.changes().makeAsyncIterator()
        try Todos.insert(store, "a")
        _ = try? store.tx {
            try store.exec("insert into notes (body) values ('undone')")
            throw CancellationError()
        }
        if useTx { try store.tx { try Todos.insert(store, "b") } } else { try Todos.insert(store, "b") }
        #expect(all.inboxHasNothingForTests)
        try store.flush()
        #expect(await all.next() == Change(tables: ["todos"]))
    }

    @Test("tables include triggers, cascades, deletes without where, WITHOUT ROWID tables and REPLACE's deletes")
    func everyTable() async throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate(
            "shop",
            [
                """
                create table parents (id integer primary key);
                create table children (id integer primary key, parent integer references parents(id) on delete cascade);
                create table audit (n integer);
                create table keyed (k text primary key, v text) without rowid;
                create table uniq (id integer primary key, u text unique);
                create trigger audit_children after insert on children begin insert into audit values (new.id); end;
                insert into parents values (1), (2);
                """
            ])
        var all = store.changes().makeAsyncIterator()
        try store.exec("insert into children (parent) values (1)")
        #expect(await all.next()?.tables == ["children", "audit"])
        try store.exec("delete from parents where id = 1")
        #expect(await all.next()?.tables == ["parents", "children"])
        try store.exec("delete from audit")
        #expect(await all.next()?.tables == ["audit"])
        try store.exec("insert into keyed values ('a', 'b')")
        #expect(await all.next()?.tables == ["keyed"])
        try store.exec("insert into uniq (u) values ('x')")
        #expect(await all.next()?.tables == ["uniq"])
        try store.exec("insert or replace into uniq (u) values ('x')")
        #expect(await all.next()?.tables == ["uniq"])
    }

    @Test("changes(to:) wakes only subscribers of the tables a commit wrote")
    func filtered() async throws {
        let store = try store()
        let notes = ChangeCollector(store.changes(to: ["NOTES"]))
        let all = ChangeCollector(store.changes())
        try Todos.insert(store, "a")
        try store.exec("insert into notes (body) values ('n')")
        await all.wait(for: 2)
        let received = await notes.wait(for: 1)
        #expect(received.map(\.tables) == [["notes"]])
    }

    @Test("a subscriber that falls behind gets the missed commits merged into one Change")
    func merged() async throws {
        let store = try store()
        try store.migrate("marks", ["create table marks (id integer primary key)"])
        let changes = store.changes()
        var barrier = store.changes(to: ["marks"]).makeAsyncIterator()
        for i in 0..<100 { try Todos.insert(store, "t\(i)") }
        try store.exec("insert into notes (body) values ('n')")
        // Deliveries keep commit order: once the barrier's change arrived, so did all before it.
        try store.exec("insert into marks default values")
        _ = await barrier.next()
        var iterator = changes.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.tables == ["todos", "notes", "marks"])
    }

    @Test("the sequence ends when its task is cancelled, and when the store closes")
    func ends() async throws {
        let store = try store()
        let cancelled = Task { () -> Int in
            var count = 0
            for await _ in store.changes() { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        #expect(await cancelled.value == 0)
        let open = Task { () -> Int in
            var count = 0
            for await _ in store.changes() { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(20))
        try store.close()
        #expect(await open.value == 0)
        var late = store.changes().makeAsyncIterator()
        #expect(await late.next() == nil)
    }

    @Test("commits of another store on the same file arrive as an external Change")
    func otherStore() async throws {
        let store = try store()
        let notes = ChangeCollector(store.changes(to: ["notes"]))
        let all = ChangeCollector(store.changes())
        try await Task.sleep(for: .milliseconds(120))
        let other = try SQLiteStore(path: dir.path())
        try other.exec("insert into notes (body) values ('from elsewhere')")
        let received = await notes.wait(for: 1)
        #expect(received.first?.isExternal == true)
        #expect(received.first?.tables == ["notes"])
        let everything = await all.wait(for: 1)
        #expect(everything.first?.tables.isSuperset(of: ["notes", "todos"]) == true)
    }

    @Test("commits of another process arrive too")
    func otherProcess() async throws {
        let store = try store()
        let all = ChangeCollector(store.changes())
        try await Task.sleep(for: .milliseconds(120))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["hold", dir.path(), "0"]
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        child.waitUntilExit()
        let received = await all.wait(for: 1)
        #expect(received.first?.isExternal == true)
        #expect(received.first?.tables.contains("todos") == true)
    }
}

@Suite("observe: views re-run on the commits that changed what they read")
struct ObserveTests {
    let dir = TempDir()

    @Test("the view runs at once, then after each commit to a table it read, not after others")
    func reruns() async throws {
        let store = try todoStore(dir)
        try store.migrate("notes", ["create table notes (id integer primary key, body text)"])
        let evaluations = Atomic<Int>(0)
        let observation = store.observe { () throws -> Int in
            evaluations.add(1, ordering: .relaxed)
            return try store.one("select count(*) from todos") ?? -1
        }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == 0)
        try store.exec("insert into notes (body) values ('unrelated')")
        try await Task.sleep(for: .milliseconds(50))
        try Todos.insert(store, "a")
        #expect(try await values.next() == 1)
        #expect(evaluations.load(ordering: .relaxed) == 2)
    }

    @Test("tables are learned through scoped stores, SQL views and joins")
    func learned() async throws {
        let store = try twoFeatures(dir)
        try store.migrate(
            "todos",
            [
                "create table todos (id integer primary key, title text not null, user_id integer references users(id) on delete cascade)",
                "create view open_todos as select * from todos",
            ])
        let todos = store.scoped(to: "todos")
        let accounts = store.scoped(to: "accounts")
        let observation = store.observe { () throws -> String in
            let count: Int = try todos.one("select count(*) from open_todos") ?? 0
            let names: [String] = try accounts.query("select name from users order by id")
            return "\(count) \(names.joined(separator: ","))"
        }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == "0 ada,bob")
        try todos.exec("insert into todos (title, user_id) values ('a', 1)")
        #expect(try await values.next() == "1 ada,bob")
        try accounts.exec("update users set name = 'cy' where id = 2")
        #expect(try await values.next() == "1 ada,cy")
    }

    @Test("a slow consumer gets the newest value, never a backlog")
    func newest() async throws {
        let store = try todoStore(dir)
        let evaluations = Atomic<Int>(0)
        let observation = store.observe { () throws -> Int in
            evaluations.add(1, ordering: .relaxed)
            return try store.one("select count(*) from todos") ?? -1
        }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == 0)
        for i in 0..<50 { try Todos.insert(store, "t\(i)") }
        #expect(try await values.next() == 50)
        #expect(evaluations.load(ordering: .relaxed) == 2)
    }

    @Test("an error the view throws ends the sequence with it")
    func error() async throws {
        let store = try todoStore(dir)
        struct Broken: Error {}
        let observation = store.observe { () throws -> Int in
            let count: Int = try store.one("select count(*) from todos") ?? 0
            if count > 0 { throw Broken() }
            return count
        }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == 0)
        try Todos.insert(store, "a")
        await #expect(throws: Broken.self) { _ = try await values.next() }
        #expect(try await values.next() == nil)
    }

    @Test("observe(tables:) re-runs on the tables named")
    func named() async throws {
        let store = try todoStore(dir)
        let observation = store.observe(tables: ["todos"]) { () throws -> [Todo] in try Todos.all(store) }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next()?.count == 0)
        try Todos.insert(store, "a")
        #expect(try await values.next()?.map(\.title) == ["a"])
    }

    @Test("the observation ends when the store closes")
    func closes() async throws {
        let store = try todoStore(dir)
        let observation = store.observe { () throws -> Int in try store.one("select count(*) from todos") ?? 0 }
        var values = observation.makeAsyncIterator()
        #expect(try await values.next() == 0)
        try store.close()
        #expect(try await values.next() == nil)
    }
}
