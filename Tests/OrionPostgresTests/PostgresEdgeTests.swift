import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Testing

/// The edges a hostile read of `PostgresStore` found (the PostgreSQL edges issue).
@Suite("PostgresStore: reported success is committed success", .enabled(if: PG.available, PG.skipReason))
struct PostgresCommitEdgeTests {
    /// A pool of one connection, whose next root statement goes out in a pipeline with
    /// `RESET ROLE` after a feature's statement: its implicit transaction commits at the
    /// pipeline's sync point, where a deferred constraint fails.
    func store() throws -> (PostgresStore, any Store) {
        let store = try PG.freshStore(poolSize: 1)
        try store.migrate(
            "people",
            ["create table people (id bigserial primary key, email text unique deferrable initially deferred)"])
        try store.exec("insert into people (email) values ('alice.secret@example.com')")
        return (store, store.scoped(to: "people"))
    }

    @Test("a write the server rolls back at COMMIT (a deferred unique constraint) throws .constraint, redacted; nothing reports success")
    func deferredConstraintAtCommit() throws {
        let (store, people) = try store()
        let _: Int? = try people.one("select count(*) from people")  // the connection now runs as the feature
        let error = try #require(throws: StoreError.self) {
            try store.exec("insert into people (email) values (?)", "alice.secret@example.com")
        }
        #expect(error.code == .constraint, "\(error)")
        #expect(error.sqlState == "23505")
        #expect(!error.description.contains("alice.secret"), "\(error)")
        let _: Int? = try people.one("select count(*) from people")
        let returning = try #require(throws: StoreError.self) {
            let _: Int64? = try store.one("insert into people (email) values (?) returning id", "alice.secret@example.com")
        }
        #expect(returning.code == .constraint)
        #expect(try store.one("select count(*) from people") == 1)
    }

    @Test("a delete a deferred constraint trigger undoes at COMMIT reports failure, not success")
    func constraintTriggerAtCommit() throws {
        let (store, people) = try store()
        try store.exec(
            "create function refuse() returns trigger language plpgsql as $$ begin raise exception 'refused at commit'; end $$")
        try store.exec(
            "create constraint trigger refuse_delete after delete on people deferrable initially deferred for each row execute function refuse()")
        let _: Int? = try people.one("select count(*) from people")
        #expect(throws: StoreError.self) { try store.exec("delete from people") }
        #expect(try store.one("select count(*) from people") == 1)
    }
}

@Suite("PostgresStore: names and messages as PostgreSQL writes them", .enabled(if: PG.available, PG.skipReason))
struct PostgresNameEdgeTests {
    @Test("a commit to a feature's table \"Users\" is announced as \"Users\", never to the subscribers of users")
    func caseSensitiveChangeNames() async throws {
        let store = try PG.freshStore()
        try store.migrate("accounts", ["create table users (id bigserial primary key)"])
        try store.migrate("evil", [#"create table "Users" (id bigserial primary key)"#, #"create table "USERS" (id bigserial primary key)"#])
        let users = Counter()
        let subscription = store.changes(to: ["users"])
        let listening = Task { for await _ in subscription { users.add() } }
        var evilTables = store.changes(to: ["Users"]).makeAsyncIterator()
        let evil = store.scoped(to: "evil")
        try evil.exec(#"insert into "Users" default values"#)
        try evil.exec(#"insert into "USERS" default values"#)
        #expect(await evilTables.next()?.tables == ["Users"])
        // The store's own commit after evil's: once it is heard, evil's would have been too.
        var all = store.changes(to: ["users"]).makeAsyncIterator()
        try store.exec("insert into users default values")
        #expect(await all.next()?.tables == ["users"])
        try await Task.sleep(for: .milliseconds(100))
        #expect(users.count == 1)
        listening.cancel()
        store.close()
    }

    @Test("a bound value PostgreSQL echoes lowercased is cut from the message all the same")
    func lowercasedEcho() throws {
        let store = try PG.freshStore()
        let error = try #require(throws: StoreError.self) {
            let _: String? = try store.one("select ?::regclass::text", "Hunter2Password")
        }
        #expect(!error.description.lowercased().contains("hunter2"), "\(error)")
        #expect(error.sqlState == "42P01")
    }

    @Test("no word of an unquoted password with spaces reaches the error")
    func passwordWithSpaces() {
        let url = "host=127.0.0.1 port=1 password=correct horse battery staple connect_timeout=1"
        do {
            _ = try PostgresStore(url: url)
            Issue.record("connected with a malformed connection string")
        } catch {
            let text = "\(error)" + ((error as? StoreError)?.debugDescription ?? "")
            for word in ["correct", "horse", "battery", "staple"] { #expect(!text.contains(word), "\(text)") }
            #expect((error as? StoreError)?.code == .connection)
        }
    }
}
