import Foundation
import Orion
import Testing

extension Conformance {
    /// The lanes every store offers to async code: `write` is one `tx` (all or nothing,
    /// savepoints inside), `read` sees what was committed and refuses every kind of write
    /// before it lands, the fence holds inside both, a task cancelled before its body starts
    /// never runs it, and many tasks at once all get their answers.
    public static func lanes(_ adapter: Adapter) async throws {
        struct Boom: Error {}
        let store = try adapter.make()
        try store.migrate("notes", notes(adapter.dialect))

        // write returns the body's value, committed once durable; read sees it.
        let id: Int64 = try await store.write { try store.exec("insert into notes (title) values (?)", "a").lastId }
        #expect(id > 0)
        try await store.durable()
        let title: String? = try await store.read { try store.one("select title from notes where id = ?", id) }
        #expect(title == "a")

        // All or nothing: a throwing body commits none of its writes; a nested tx is a savepoint.
        await #expect(throws: Boom.self) {
            try await store.write {
                try store.exec("insert into notes (title) values (?)", "doomed")
                throw Boom()
            }
        }
        try await store.write {
            try store.exec("insert into notes (title) values (?)", "kept")
            _ = try? store.tx {
                try store.exec("insert into notes (title) values (?)", "rolled back")
                throw Boom()
            }
        }
        try await store.durable()
        let titles: [String] = try await store.read { try store.query("select title from notes order by id") }
        #expect(titles == ["a", "kept"])

        // read refuses writes, whatever form they take, before they land.
        let writes: [(String, @Sendable () throws -> Void)] = [
            ("exec", { _ = try store.exec("insert into notes (title) values ('x')") }),
            ("tx", { try store.tx { _ = try store.exec("insert into notes (title) values ('x')") } }),
            ("migrate", { try store.migrate("more", ["create table more (id \(adapter.dialect.autoKey))"]) }),
            ("query of insert … returning", { let _: [Int64] = try store.query("insert into notes (title) values ('x') returning id") }),
            ("one of delete … returning", { let _: Int64? = try store.one("delete from notes returning id") }),
        ]
        for (name, write) in writes {
            do {
                try await store.read { try write() }
                Issue.record("read { } let \(name) through")
            } catch let error as StoreError {
                #expect(error.code == .misuse, "\(name): \(error)")
                #expect(error.message.contains("write { }"), "\(name): \(error)")
            }
        }
        let count: Int? = try await store.read { try store.one("select count(*) from notes") }
        #expect(count == 2)

        // The fence holds inside both lanes.
        if let scope = adapter.scope {
            let other = scope(store, "other")
            try other.migrate("other", ["create table other_things (id \(adapter.dialect.autoKey))"])
            await expectStoreError(.fence) { _ = try await other.read { try other.query("select title from notes") as [String] } }
            await expectStoreError(.fence) { _ = try await other.write { try other.exec("delete from notes") } }
            let mine: Int? = try await other.read { try other.one("select count(*) from other_things") }
            #expect(mine == 0)
            #expect(try store.one("select count(*) from notes") == 2)
        }

        // A task cancelled before its body starts never runs it.
        let ran = Locked(false)
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await store.write { ran.withLock { $0 = true } }
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(ran.withLock { $0 } == false)

        // Many tasks at once, reading and writing: every one answered, every write landed.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    if i % 4 == 0 {
                        try await store.write { _ = try store.exec("insert into notes (title) values (?)", "t\(i)") }
                    } else {
                        let _: Int? = try await store.read { try store.one("select count(*) from notes") }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await store.durable()
        #expect(try store.one("select count(*) from notes") == 18)
    }
}

/// Expects the async `body` to throw a `StoreError` with `code`.
func expectStoreError(
    _ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a StoreError with code \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == code, "got \(error.code): \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StoreError with code \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
