// Found by an adversarial review of live reads; each failed before its fix.
import Foundation
import Orion
import OrionPostgres
import Synchronization
import Testing

@Suite("PostgresStore: change triggers across migrations, and the channel", .enabled(if: PG.available, PG.skipReason))
struct PostgresChangeEdgeTests {
    // F3: apply() treats the renamed table as "added" and runs CREATE TRIGGER orion_changes on it,
    // but the trigger moved with the table: 42710, the entry fails.
    @Test("a migration entry that renames a feature table applies")
    func renameApplies() throws {
        let store = try PG.freshStore()
        let first = "create table notes (id bigserial primary key, body text)"
        try store.migrate("notes", [first])
        try store.migrate("notes", [first, "alter table notes rename to memos"])
        #expect(try store.one("select count(*) from pg_trigger where tgname = 'orion_changes' and tgrelid = 'memos'::regclass") == 1)
        store.close()
    }

    // F3: the rebuilt table has the old name, so it is not "added" and gets no trigger: its
    // commits are silent until some later migrate() call runs installMissingChangeTriggers.
    @Test("a table rebuilt in a migration entry keeps its change trigger")
    func rebuildKeepsTrigger() throws {
        let store = try PG.freshStore()
        try store.migrate(
            "notes",
            [
                "create table notes (id bigserial primary key, body text)",
                "create table notes_new (id bigserial primary key, body text not null default ''); insert into notes_new select id, coalesce(body, '') from notes; drop table notes; alter table notes_new rename to notes",
            ])
        #expect(try store.one("select count(*) from pg_trigger where tgname = 'orion_changes' and tgrelid = 'notes'::regclass") == 1)
        store.close()
    }

    // F9: NOTIFY and pg_notify are open to feature SQL; the listener trusts any payload.
    @Test("feature SQL cannot make another feature's subscribers hear of commits that never wrote its tables")
    func forgedNotification() async throws {
        let store = try PG.freshStore()
        try store.migrate("accounts", ["create table users (id bigserial primary key)"])
        try store.migrate("todos", ["create table todos (id bigserial primary key)"])
        let users = store.changes(to: ["users"])
        let heard = Atomic<Int>(0)
        let listener = Task { for await _ in users { heard.add(1, ordering: .relaxed) } }
        let todos = store.scoped(to: "todos")
        _ = try? todos.exec("notify orion_changes, '1 users'")
        _ = try? todos.exec("select pg_notify('orion_changes', '2 users')")
        try todos.exec("insert into todos default values")
        try await Task.sleep(for: .milliseconds(500))
        let count = heard.load(ordering: .relaxed)
        #expect(count == 0)
        listener.cancel()
        store.close()
    }

    @Test("the triggers notify only while a store listens")
    func notifyOnlyWhileListening() async throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, body text)"])
        #expect(try store.one("select count(*) from _orion_listening") == 0)
        do {
            var changes = store.changes().makeAsyncIterator()
            #expect(try store.one("select count(*) from _orion_listening") == 1)
            try store.exec("insert into notes (body) values ('heard')")
            #expect(await changes.next()?.tables == ["notes"])
        }
        // The subscription is gone: the listener stops and unregisters (a moment later).
        let deadline = ContinuousClock.now + .seconds(5)
        var listening: Int? = 1
        while listening != 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            listening = try store.one("select count(*) from _orion_listening")
        }
        #expect(listening == 0)
        store.close()
    }
}
