import Foundation
import Orion
import StoreConformance
import Testing

@testable import OrionPostgres

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

/// PostgreSQL's session state (what `DISCARD ALL` resets, and the seed of `random()`), item by
/// item: a feature's call leaves none of it to the pooled connection's next caller. Each test
/// runs on a pool of one connection, so the next caller gets the same session.
@Suite("PostgresStore: a pooled connection carries nothing of its last caller", .enabled(if: PG.available, PG.skipReason))
struct PostgresSessionStateTests {
    func stores() throws -> (root: PostgresStore, evil: any Store) {
        let store = try PG.freshStore(poolSize: 1)
        try store.migrate("evil", ["create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242"])
        return (store, store.scoped(to: "evil"))
    }

    @Test("sequences: a feature's nextval() is not the next caller's lastval() or currval()")
    func sequences() throws {
        let (root, evil) = try stores()
        let drawn: Int? = try evil.one("select nextval('evil_seq')::int")
        #expect(drawn == 4242)
        #expect { let _: Int? = try root.one("select lastval()::int") } throws: { ($0 as? StoreError)?.sqlState == "55000" }
        #expect { let _: Int? = try root.one("select currval('evil_seq')::int") } throws: { ($0 as? StoreError)?.sqlState == "55000" }
        // Another feature after it: the same.
        try root.migrate("other", ["create table other_t (id bigserial primary key)"])
        let other = root.scoped(to: "other")
        let _: Int? = try evil.one("select nextval('evil_seq')::int")
        #expect { let _: Int? = try other.one("select lastval()::int") } throws: { ($0 as? StoreError)?.sqlState == "55000" }
        // The feature's own state stays its own between its calls, and inside a tx.
        let _: Int? = try evil.one("select nextval('evil_seq')::int")
        #expect(try evil.one("select currval('evil_seq')::int") == 4244)
        // A root tx that calls the feature goes on as one caller: its own lastval() is kept.
        try root.tx {
            let _: Int? = try root.one("insert into evil_log (at) values (1) returning id::int")
            let _: Int? = try evil.one("select count(*)::int from evil_log")
            #expect(try root.one("select currval('evil_log_id_seq')::int") == 1)
        }
    }

    @Test("sequences: what a feature's migration drew is not the next caller's lastval()")
    func sequencesFromMigrations() throws {
        let (root, _) = try stores()
        try root.migrate(
            "evil",
            [
                "create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242",
                "select nextval('evil_seq')",
            ])
        #expect { let _: Int? = try root.one("select lastval()::int") } throws: { ($0 as? StoreError)?.sqlState == "55000" }
    }

    @Test("the seed of random(): setseed() is refused to features, to their migrations and functions, and to the root store")
    func seed() throws {
        let (root, evil) = try stores()
        for sql in ["select setseed(0.5)", "select pg_catalog.setseed(0.5)", #"select "setseed"(0.5)"#, "select 1 where setseed(0.5) is null"] {
            #expect(throws: StoreError.self, "\(sql)") { let _: String? = try evil.one(sql) }
            #expect(throws: StoreError.self, "\(sql)") { let _: String? = try root.one(sql) }
        }
        #expect(throws: StoreError.self) {
            try root.migrate(
                "evil",
                [
                    "create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242",
                    "create function evil_fix() returns void language sql as $$ select setseed(0.5) $$",
                ])
        }
    }

    @Test("settings: SET, RESET, set_config() and pg_settings are refused; a function's own SET clause ends with the call")
    func settings() throws {
        let (root, evil) = try stores()
        for sql in [
            "set work_mem = '64kB'", "reset work_mem", "select set_config('work_mem', '64kB', false)",
            "update pg_settings set setting = '64kB' where name = 'work_mem'", "set session work_mem = '64kB'",
        ] {
            #expect(throws: StoreError.self, "\(sql)") { try evil.exec(sql) }
        }
        let before: String? = try root.one("select current_setting('work_mem')")
        try root.migrate(
            "evil",
            [
                "create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242",
                "create function evil_small() returns text language sql set work_mem = '64kB' as $$ select current_setting('work_mem') $$",
            ])
        #expect(try evil.one("select evil_small()") == "64kB")
        #expect(try root.one("select current_setting('work_mem')") == before)
        // SET LOCAL ends with its transaction.
        try evil.tx { try evil.exec("set local work_mem = '64kB'") }
        #expect(try root.one("select current_setting('work_mem')") == before)
    }

    @Test("prepared statements, cursors, LISTEN, session advisory locks and TEMP objects are refused to features")
    func sessionObjects() throws {
        let (root, evil) = try stores()
        for sql in [
            "prepare leak as select 1", "declare leak cursor with hold for select 1", "listen anything",
            "select pg_advisory_lock(7)", "create temp table leak (id int)", "select 1 into temp leak",
            "discard all", "deallocate all",
        ] {
            #expect(throws: StoreError.self, "\(sql)") { try evil.tx { try evil.exec(sql) } }
        }
        #expect(try root.one("select count(*) from pg_listening_channels()") == 0)
        #expect(try root.one("select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()") == 0)
    }
}

/// The fence reads what PostgreSQL stored for a feature (its views, defaults, checks, indexes,
/// policies, rules, triggers' WHEN and foreign keys), after every entry.
@Suite("PostgresStore: the fence reads what PostgreSQL stored", .enabled(if: PG.available, PG.skipReason))
struct PostgresStoredFenceTests {
    /// `accounts` owns `users` (with a secret); `evil` owns a sink table and a function that
    /// writes its argument into it (as `evil`: its functions run as their owner).
    func stores() throws -> PostgresStore {
        let store = try PG.freshStore()
        try store.migrate("accounts", ["create table users (id bigserial primary key, email text unique not null, secret text)"])
        try store.exec("insert into users (email, secret) values ('alice@example.com', 'hunter2')")
        try store.migrate(
            "evil",
            [
                "create table evil_loot (got text)",
                "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
            ])
        return store
    }

    func isFence(_ error: any Error) -> Bool { (error as? StoreError)?.code == .fence }

    @Test("a view an entry replaces is checked as a new one is: over another feature's table, it is refused")
    func replacedView() throws {
        let store = try stores()
        try store.migrate(
            "evil",
            [
                "create table evil_loot (got text)",
                "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                "create view evil_v as select ''::text as n",
            ])
        #expect {
            try store.migrate(
                "evil",
                [
                    "create table evil_loot (got text)",
                    "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                    "create view evil_v as select ''::text as n",
                    "create or replace view evil_v with (security_invoker = true) as select evil_sink(email || ':' || secret) as n from users",
                ])
        } throws: { isFence($0) }
        let _: [String] = try store.query("select n from evil_v")
        #expect(try store.one("select count(*) from evil_loot") == 0)
    }

    @Test(
        "defaults, checks, policies, triggers' WHEN and views may not call functions that act on others",
        arguments: [
            "create table evil_t (id int, n bigint default setval(('users_id' || '_seq')::regclass, 1, false))",
            "create table evil_t (id int, n bigint default nextval(('users_id' || '_seq')::regclass))",
            "create table evil_t (id int, n bigint default nextval(('users_id' || '_seq')))",
            "create table evil_t (id int, n bytea default pg_read_binary_file('PG_VERSION'))",
            "create table evil_t (id int, n text default current_setting('data_directory'))",
            "create table evil_t (id int, n text default pg_catalog.lastval()::text)",
            "create table evil_t (id int, n text, check (pg_catalog.pg_notify('x', n) is null))",
            "create table evil_t (id int check (pg_advisory_xact_lock(id) is not null))",
            "create table evil_t (id int); alter table evil_t enable row level security; create policy p on evil_t using (current_setting('is_superuser') = 'on')",
            "create table evil_t (id int); create function evil_t_f() returns trigger language plpgsql as $$ begin return new; end $$; create trigger t before insert on evil_t for each row when (pg_catalog.setseed(0.1) is null) execute function evil_t_f()",
            "create view evil_v as select query as n from pg_stat_activity",
            "create view evil_v as select most_common_vals::text as n from pg_stats",
            "create view evil_v as select evil_sink(pg_catalog.pg_get_viewdef('users'::regclass)) as n",
            "create table evil_t (id int); create rule r as on insert to evil_t do also select pg_catalog.pg_terminate_backend(1)",
            // Found by the first review: what runs as the caller outside the trees read first.
            "create function keep(v text default current_setting('data_directory')) returns text language sql as $$ select v $$; create table evil_t (id int, n text default keep())",
            "create function keep(v bigint default setval('users_id_seq', 1)) returns bigint language sql as $$ select v $$; create view evil_v as select keep() as n",
            "create domain stamp as text default pg_read_file('PG_VERSION'); create table evil_t (id int, s stamp)",
            "create domain d3 as bigint default setval('users_id_seq'::text::regclass, 1000); create table evil_t (id int, n d3)",
            "create view evil_v as select nextval('users_id_seq') as n",
            #"create table evil_t (id int); create trigger t before delete on evil_t for each row execute function pg_catalog."RI_FKey_cascade_del"()"#,
            // Found by the fourth review: what reaches other features' SQL or schema.
            "create type jsonb_build_object as range (subtype = text, multirange_type_name = evil_mr)",
            "create type evil_pair as (a text, b text); create function evil_conv(p evil_pair) returns jsonb language sql as $$ select '{}'::jsonb $$; create cast (evil_pair as jsonb) with function evil_conv(evil_pair) as implicit",
            "create table evil_dep (id int primary key, u users)",
            "create table evil_dep (id int primary key, u users[])",
            // Found by the fifth review: the same through a domain or a function's signature.
            "create domain evil_users as users; create table evil_dep (id int primary key, u evil_users)",
            "create function evil_fb(u users) returns int language sql as $$ select 1 $$",
            // Found by the sixth review: the same inside an expression (a check, a view).
            "create table evil_dep (s text, check ((s)::users is not null))",
            "create view evil_v as select (null::users)::text as n",
            "alter role orion_evil set search_path = public",
        ])
    func storedCalls(entry: String) throws {
        let store = try stores()
        #expect("\(entry)") {
            try store.migrate(
                "evil",
                [
                    "create table evil_loot (got text)",
                    "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                    entry,
                ])
        } throws: { isFence($0) }
    }

    @Test("what features store every day is accepted: serial and identity keys, now(), uuids, checks, indexes, views, policies")
    func everydayExpressions() throws {
        let store = try stores()
        try store.migrate(
            "todos",
            [
                """
                create table todos (
                    id bigserial primary key, n bigint generated always as identity, uid uuid default gen_random_uuid(),
                    title text not null check (length(title) between 1 and 200), body text,
                    due timestamptz default now() + interval '7 days', created_at timestamptz default current_timestamp,
                    meta jsonb default jsonb_build_object('v', 1), owner_id bigint references users(id) on delete cascade on update cascade)
                """,
                "create sequence todo_numbers",
                "alter table todos add column number bigint default nextval('todo_numbers')",
                "create index todos_search on todos using gin (to_tsvector('english', coalesce(body, '')))",
                "create index todos_day on todos ((lower(title)))",
                "create view todos_by_day as select date_trunc('day', due) as day, count(*) as n, string_agg(title, ', ' order by id) as titles from todos where due < now() + interval '1 year' group by 1",
                "create view todos_ranked as select id, row_number() over (order by created_at desc) as rank, to_char(due, 'YYYY-MM-DD') as due_day from todos",
                "alter table todos enable row level security",
                "create policy mine on todos using (owner_id is not null and due > now() - interval '1 day')",
                "alter table todos add column tx bigint default txid_current()",
                """
                create function todos_touch() returns trigger language plpgsql as $$ begin new.body := coalesce(new.body, ''); return new; end $$;
                create trigger todos_touch before update on todos for each row when (pg_trigger_depth() = 0) execute function todos_touch();
                create trigger todos_same before update on todos for each row execute function suppress_redundant_updates_trigger()
                """,
            ])
        try store.exec("insert into todos (title, owner_id) values ('a', 1)")
        #expect(try store.one("select count(*) from todos_ranked") == 1)
    }

    @Test("an extension's trigger function, which acts on tables named in its arguments, is refused to a feature's trigger")
    func extensionTriggers() throws {
        let store = try stores()
        try store.exec("create extension if not exists refint")
        #expect {
            try store.migrate(
                "evil",
                [
                    "create table evil_loot (got text)",
                    "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                    """
                    create table evil_links (id serial primary key, user_id int);
                    create trigger evil_cascade before delete on evil_links for each row
                      execute function check_foreign_key(1, 'cascade', 'user_id', 'users', 'id')
                    """,
                ])
        } throws: { isFence($0) }
    }

    @Test("a foreign key to another feature's table references its primary key, nothing else")
    func foreignKeys() throws {
        let store = try stores()
        try store.migrate("orgs", ["create table orgs (id bigint, name text, primary key (id) include (name))"])
        #expect {
            try store.migrate(
                "evil",
                [
                    "create table evil_loot (got text)",
                    "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                    "create table evil_emails (email text references users(email) on update cascade)",
                ])
        } throws: { isFence($0) }
        try store.migrate(
            "evil",
            [
                "create table evil_loot (got text)",
                "create function evil_sink(v text) returns text language sql as $$ insert into evil_loot values (v) returning v $$",
                "create table evil_refs (user_id bigint references users(id) on update cascade on delete set null)",
                "create table evil_orgs (org_id bigint references orgs(id))",
            ])
    }
}

/// A store of one connection (every call shares its session) with the feature `accounts`, whose
/// `users` hold a secret, and the feature `evil`, migrated with `entries`.
private func accountsAndEvil(_ entries: [String]) throws -> (root: PostgresStore, evil: any Store) {
    let store = try PG.freshStore(poolSize: 1)
    try store.migrate("accounts", ["create table users (id bigserial primary key, email text unique not null, secret text)"])
    try store.exec("insert into users (email, secret) values ('alice@example.com', 'hunter2')")
    try store.migrate("evil", entries)
    return (store, store.scoped(to: "evil"))
}

/// What the second review found (session state, the pool and `lastId`), each reproduced first.
@Suite("PostgresStore: the second review of the session and the pool", .enabled(if: PG.available, PG.skipReason))
struct PostgresSecondReviewTests {
    func stores() throws -> (root: PostgresStore, evil: any Store) {
        try accountsAndEvil(["create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242"])
    }

    @Test("a U&\"…\" name with an escape given as any string constant is refused: the feature never takes the login's role")
    func uescapeForms() throws {
        let (_, evil) = try stores()
        for escape in ["$$!$$", "$t$!$t$", "E'!'", "'!'", "/* c */ '!'"] {
            let sql = #"select U&"!0073et_config" UESCAPE "# + escape + " ('role', 'none', false)"
            #expect(throws: StoreError.self, "\(sql)") { let _: String? = try evil.one(sql) }
            #expect { let _: [String] = try evil.query("select email from users") } throws: { ($0 as? StoreError)?.code == .fence }
        }
        let hidden = #"select U&"!0073etseed" UESCAPE $$!$$ (0.5)"#
        #expect(throws: StoreError.self) { let _: String? = try evil.one(hidden) }
    }

    @Test("a function body written with UESCAPE, or one whose stored code sets the session, is refused")
    func storedBodies() throws {
        let (root, _) = try stores()
        let base = ["create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242"]
        for entry in [
            "create function evil_poison() returns text language sql as U&'select pg_catalog.!0073et_config(''TimeZone'', ''Pacific/Kiritimati'', false)' UESCAPE $$!$$",
            "create function evil_poison() returns void language sql as U&'select !0073etseed(0.5)' UESCAPE $$!$$",
            "create function evil_poison() returns int language sql set seed = 0.5 as $$ select 1 $$",
            "create function evil_poison() returns int language sql as $$ select 1 $$; alter function evil_poison() set seed = 0.5",
        ] {
            #expect(throws: StoreError.self, "\(entry)") { try root.migrate("evil", base + [entry]) }
        }
        #expect(try root.one("select current_setting('TimeZone')") == "UTC")
        // The stored body is read by the entry rules, whatever spelling made it.
        #expect(PostgresMigrator.storedBodyProblem("select pg_catalog.set_config('TimeZone', 'x', false)") != nil)
        #expect(PostgresMigrator.storedBodyProblem("begin perform pg_advisory_lock(7); end") != nil)
        #expect(PostgresMigrator.storedBodyProblem("insert into evil_log (at) values (1)") == nil)
    }

    @Test("lastId's RETURNING is left out where it would fail: an INSERT-only grant, a DO INSTEAD rule, row security")
    func returningWhereItFails() throws {
        let (root, evil) = try stores()
        try root.exec("create table audit_log (id bigserial primary key, msg text)")
        try root.exec("grant insert on audit_log to orion_evil")
        try root.exec("grant usage on sequence audit_log_id_seq to orion_evil")
        #expect(try evil.exec("insert into audit_log (msg) values ('x')").changes == 1)
        try root.exec("create table guarded (id bigserial primary key, x int)")
        try root.exec("create rule no_negatives as on insert to guarded where new.x < 0 do instead nothing")
        #expect(try root.exec("insert into guarded (x) values (1)").changes == 1)
        try root.migrate(
            "evil",
            [
                "create table evil_log (id bigserial primary key, at int)", "create sequence evil_seq start 4242",
                "create table evil_private (id bigserial primary key, x int); alter table evil_private enable row level security; alter table evil_private force row level security; create policy ins on evil_private for insert with check (true); create policy sel on evil_private for select using (x > 100)",
            ])
        #expect(try evil.exec("insert into evil_private (x) values (1)").changes == 1)
        #expect(try root.exec("insert into users (email) values ('bob@example.com')").lastId == 2)
    }

    @Test("a statement is prepared under its caller's role: the root store's first read of a schema a feature may not use works after the feature's call")
    func prepareUnderCallersRole() throws {
        let (root, evil) = try stores()
        try root.exec("create schema admin")
        try root.exec("create table admin.t (x int)")
        try root.exec("insert into admin.t values (7)")
        let _: Int? = try evil.one("select count(*) from evil_log")
        #expect(try root.one("select x from admin.t") == 7)
        // And a feature's statement is never prepared as the login: a table granted to all in a
        // schema the feature may not use stays out of its reach.
        try root.exec("create table admin.open (secret text)")
        try root.exec("grant select on admin.open to public")
        try root.exec("insert into admin.open values ('s')")
        let _: String? = try root.one("select secret from admin.open")
        #expect(throws: StoreError.self) { let _: String? = try evil.one("select secret from admin.open") }
    }

    @Test("a feature's sequence state is discarded when another role's tx starts with a savepoint, or the root's state for a feature")
    func discardAtTransactionStart() throws {
        let (root, evil) = try stores()
        let _: Int? = try evil.one("select nextval('evil_seq')::int")
        #expect {
            try root.tx {
                try root.tx {}
                let _: Int? = try root.one("select lastval()::int")
            }
        } throws: { ($0 as? StoreError)?.sqlState == "55000" }
        // The other way: what the root store drew is not the feature's to probe.
        _ = try root.exec("insert into users (email) values ('carol@example.com')")
        #expect { let _: Int? = try evil.one("select lastval()::int") } throws: { ($0 as? StoreError)?.sqlState == "55000" }
    }
}

/// What the third review found: spellings that PostgreSQL reads differently from a first-words
/// reading, each reproduced first.
@Suite("PostgresStore: the third review's spellings", .enabled(if: PG.available, PG.skipReason))
struct PostgresThirdReviewTests {
    func stores() throws -> (root: PostgresStore, evil: any Store) {
        try accountsAndEvil(["create table evil_loot (email text, secret text)"])
    }

    func isRefused(_ error: any Error) -> Bool {
        guard let error = error as? StoreError else { return false }
        return [.fence, .misuse, .sql].contains(error.code)
    }

    @Test("an E'' string continued on the next line is read as PostgreSQL reads it: nothing hides in it")
    func continuedEscapeString() throws {
        let (root, evil) = try stores()
        let hidden = "select E''\n'\\' ' || set_config($$role$$, session_user, false) || ' -- '"
        #expect { let _: [String] = try evil.query(hidden) } throws: { isRefused($0) }
        #expect { let _: [String] = try evil.query("select email from users") } throws: { ($0 as? StoreError)?.code == .fence }
        let entry = "select E''\n'\\' ' ; commit; insert into evil_loot select email, secret from users; select ' -- '"
        #expect(throws: StoreError.self) { try root.migrate("evil", ["create table evil_loot (email text, secret text)", entry]) }
        #expect(try root.one("select count(*) from evil_loot") == 0)
        #expect(try root.one("select rolsuper from pg_roles where rolname = 'orion_evil'") == false)
        // A legitimate continued string still works.
        #expect(try evil.one("select E'a\\n'\n'b'") == "a\nb")
    }

    @Test(
        "a refused function called in field notation, (x).setseed or (x).\"ts_stat\", is refused as its call is",
        arguments: [
            "select (0.5::float8).setseed",
            "select ('select pg_catalog.set_config(''role'', session_user, false)::tsvector'::text).ts_stat",
            "select ('select 1'::text).\"ts_stat\"",
            "select (478660882286::bigint).pg_advisory_lock",
            "select ('x'::text).pg_notify",
        ])
    func fieldNotation(sql: String) throws {
        let (_, evil) = try stores()
        #expect("\(sql)") { let _: [String] = try evil.query(sql) } throws: { isRefused($0) }
        #expect { let _: [String] = try evil.query("select email from users") } throws: { ($0 as? StoreError)?.code == .fence }
    }

    @Test("a large object made in field notation is refused in a read body")
    func fieldNotationInRead() async throws {
        let (_, evil) = try stores()
        await #expect(throws: StoreError.self) { try await evil.read { let _: [Int] = try evil.query("select (0::oid).lo_create::int") } }
    }

    @Test(
        "TEMP tables in any spelling, EXPLAIN ANALYZE with options, cursors and other callers' statements are refused",
        arguments: [
            "(select 1 as x into temp t)", "select 1 as insert into temp t", "select 2 as merge into temporary t",
            "select 3 as x into local temp t", "explain (format 'text', analyze) create temp table t as select 42",
            "explain (costs $$on$$, analyse) select 1", "fetch all from \"<unnamed portal 1>\"", "move next in c", "close all",
            "select name, statement from pg_prepared_statements", "select * from pg_cursors",
        ])
    func spellings(sql: String) throws {
        let (_, evil) = try stores()
        #expect("\(sql)") { try evil.tx { let _: [String] = try evil.query(sql) } } throws: { isRefused($0) }
    }

    @Test("a ? beside a name or a $ is sent as PostgreSQL must read it: nothing hides after it (fourth review)")
    func placeholderJoins() throws {
        let (_, evil) = try stores()
        let hidden = "select 1 a?$$, set_config($q$role$q$, session_user, false), $1::text -- $$"
        #expect { let _: [String] = try evil.query(hidden, "x") } throws: { isRefused($0) }
        #expect { let _: [String] = try evil.query("select email from users") } throws: { ($0 as? StoreError)?.code == .fence }
        // Ordinary placeholders beside names and casts work as before.
        #expect(try evil.one("select ?::text||?", "a", "b") == "ab")
        #expect(try evil.one("select length(?)", "abc") == 3)
    }

    @Test("a word right after a dollar quote is read: $$…$$into temp is refused (fourth review)")
    func wordAfterDollarQuote() throws {
        let (_, evil) = try stores()
        #expect { try evil.tx { let _: [String] = try evil.query("select $$forged$$ as title, $$$$into temp evil_t") } } throws: { isRefused($0) }
    }

    @Test("a function of the extensions that runs SQL given as text is refused (tablefunc's crosstab)")
    func extensionSQLText() throws {
        let (root, evil) = try stores()
        try root.exec("create extension if not exists tablefunc")
        let sql = "select * from crosstab('select pg_catalog.set_config(''role'', session_user, false), ''c''::text, ''v''::text') as t(r text, c text)"
        #expect { let _: [String] = try evil.query(sql) } throws: { isRefused($0) }
        #expect { let _: [String] = try evil.query("select email from users") } throws: { ($0 as? StoreError)?.code == .fence }
    }

    @Test("a feature's statement that changed the session is stopped by what the server reports: result withheld, connection dropped")
    func sessionReports() throws {
        let (root, evil) = try stores()
        // A route the store cannot read: a function of the root store's, which runs as its owner.
        try root.exec(
            "create function shift_zone() returns text language sql security definer as $$ select set_config('TimeZone', 'Pacific/Kiritimati', false) $$")
        try root.exec("grant execute on function shift_zone() to orion_evil")
        #expect { let _: String? = try evil.one("select shift_zone()") } throws: { ($0 as? StoreError)?.code == .fence }
        #expect(try root.one("select current_setting('TimeZone')") == "UTC")
        // Inside a tx, the body that catches the error cannot go on with the changed session.
        #expect {
            try evil.tx {
                _ = try? evil.one("select shift_zone()") as String?
                let _: String? = try evil.one("select current_setting('TimeZone')")
            }
        } throws: { $0 is StoreError }
        #expect(try root.one("select current_setting('TimeZone')") == "UTC")
    }
}
