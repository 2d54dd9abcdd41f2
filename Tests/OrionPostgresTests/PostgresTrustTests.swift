import Foundation
import Orion
import OrionPostgres
import Testing

@Suite("PostgresStore: transactions that return have committed", .enabled(if: PG.available, PG.skipReason))
struct PostgresCommitTests {
    @Test("a tx whose statement failed and was swallowed throws instead of reporting PostgreSQL's ROLLBACK as a commit")
    func rollbackReplyToCommit() throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, title text not null)"])
        let error = try #require(throws: StoreError.self) {
            try store.tx {
                try store.exec("insert into notes (title) values ('a')")
                _ = try? store.exec("insert into notes (title) values (?)", nil)
            }
        }
        #expect(error.message.contains("rolled the transaction back"))
        #expect(try store.one("select count(*) from notes") == 0)
        // The connection is fine afterwards, and a clean tx commits.
        try store.tx { try store.exec("insert into notes (title) values ('b')") }
        #expect(try store.query("select title from notes") == ["b"])
    }
}

@Suite("PostgresStore: a failed statement inside tx, whatever stage it failed at", .enabled(if: PG.available, PG.skipReason))
struct PostgresFailedStatementTests {
    func store() throws -> PostgresStore {
        let store = try PG.freshStore()
        try store.exec("create table notes (id bigserial primary key, title text not null)")
        return store
    }

    @Test(
        "a statement that fails while prepared, also as the tx's first before BEGIN went out, aborts the tx as a failure while running does",
        arguments: [
            "insert into nowhere (title) values ('x')",  // fails while being prepared
            "insert into notes (title) values (null)",  // fails while running
        ])
    func failedStatement(sql: String) throws {
        for first in [true, false] {
            let store = try store()
            let later = try #require(throws: StoreError.self) {
                try store.tx {
                    if !first { try store.exec("insert into notes (title) values ('before')") }
                    _ = try? store.exec(sql)
                    try store.exec("insert into notes (title) values ('after')")
                }
            }
            #expect(later.sqlState == "25P02", "\(later)")
            #expect(later.message.contains("an earlier statement in this tx failed"), "\(later)")
            let swallowed = try #require(throws: StoreError.self) {
                try store.tx {
                    if !first { try store.exec("insert into notes (title) values ('before')") }
                    _ = try? store.exec(sql)
                    _ = try? store.exec("insert into notes (title) values ('after')")
                }
            }
            #expect(swallowed.message.contains("rolled the transaction back"), "\(swallowed)")
            #expect(try store.one("select count(*) from notes") == 0, "\(sql), first: \(first)")
        }
    }

    @Test(
        "what the store refuses before sending, and a decoding error, leave the tx as it was, as on SQLite",
        arguments: [
            "insert into notes (title) values (?)",  // a parameter count
            "insert into notes (title) values ('a'); insert into notes (title) values ('b')",  // two statements
            "set local search_path = pg_temp, public",  // a refused form
            "select 'not a number'",  // read as Int: a decoding error
        ])
    func refusedStatement(sql: String) throws {
        for first in [true, false] {
            let store = try store()
            try store.tx {
                if !first { try store.exec("insert into notes (title) values ('before')") }
                let _: Int? = try? store.one(sql)
                try store.exec("insert into notes (title) values ('after')")
            }
            #expect(try store.one("select count(*) from notes") == (first ? 1 : 2), "\(sql), first: \(first)")
        }
    }

    @Test("a failure inside a nested tx rolls back that level alone, and the tx goes on")
    func nested() throws {
        let store = try store()
        try store.tx {
            try store.exec("insert into notes (title) values ('a')")
            _ = try? store.tx { try store.exec("insert into notes (title) values (null)") }
            _ = try? store.tx { try store.exec("insert into nowhere values (1)") }
            try store.exec("insert into notes (title) values ('b')")
        }
        #expect(try store.query("select title from notes order by id") == ["a", "b"])
        // A nested tx whose body swallowed its statement's failure rolls back, and says so.
        try store.tx {
            let error = try #require(throws: StoreError.self) {
                try store.tx { _ = try? store.exec("insert into notes (title) values (null)") }
            }
            #expect(error.message.contains("nested tx"), "\(error)")
            try store.exec("insert into notes (title) values ('c')")
        }
        #expect(try store.query("select title from notes order by id") == ["a", "b", "c"])
    }
}

@Suite("PostgresStore: a feature cannot leave its role", .enabled(if: PG.available, PG.skipReason))
struct PostgresRoleFenceTests {
    @Test("a held cursor cannot carry one feature's rows to another on a pooled connection, and no session lock outlives its call")
    func cursorsAndSessionLocks() throws {
        let store = try twoFeatures(poolSize: 1)
        let accounts = store.scoped(to: "accounts")
        let todos = store.scoped(to: "todos")
        // Were DECLARE … WITH HOLD allowed, accounts' cursor would outlive its transaction on the
        // one pooled connection, and todos could FETCH users' rows from it.
        #expect { try accounts.tx { try accounts.exec("declare leak cursor with hold for select name from users") } } throws: {
            ($0 as? StoreError)?.code == .misuse
        }
        #expect { let _: [String] = try todos.query("fetch all from leak") } throws: { $0 is StoreError }
        // A transaction-level advisory lock is fine: it ends with its tx.
        try todos.tx { let _: String? = try todos.one("select pg_advisory_xact_lock(42)::text") }
        #expect(try store.one("select count(*) from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())") == 0)
    }

    func twoFeatures(poolSize: Int = 2) throws -> PostgresStore {
        let store = try PG.freshStore(poolSize: poolSize)
        try store.migrate("accounts", ["create table users (id bigserial primary key, name text not null)", "insert into users (name) values ('ada')"])
        try store.migrate("todos", ["create table todos (id bigserial primary key, title text)"])
        return store
    }

    @Test(
        "SQL that changes the role, runs unchecked code or leaves state on the connection is refused to every store",
        arguments: [
            "select set_config('role', 'postgres', false)",
            "select pg_catalog.set_config('role', 'postgres', false), 1",
            "select \"set_config\" ('role', 'postgres', false)",
            "select count(*) from todos where set_config('role', 'postgres', true) is not null",
            "do $$ begin reset role; end $$",
            "DO LANGUAGE plpgsql $x$ begin perform 1; end $x$",
            "select * into stolen from todos",
            "with t as (select 1 as n) select n into temp stolen from t",
            "copy todos to stdout",
            "prepare p as select 1",
            "execute p",
            "listen anything",
            "create temp table users (id bigint)",
            "create local temporary table users (id bigint)",
            "declare c cursor with hold for select * from todos",
            "DECLARE c SCROLL CURSOR FOR select 1",
            "select pg_advisory_lock(1)",
            "select pg_try_advisory_lock_shared(1, 2)",
            "select pg_catalog.pg_advisory_unlock_all()",
            "select \"pg_advisory_lock\"(7)",
            // PostgreSQL ends a -- comment at \r as well as \n: what follows is SQL.
            "select 1 as x --\r, set_config('role', 'none', false)\n",
            "select 1 as x --\r, pg_advisory_lock(42)\n",
            "--\rdeclare leak2 cursor with hold for select title from todos where true --\nor false",
            // Functions that run SQL given as text, which the store never reads.
            "select query_to_xml('select set_config(''role'', ''none'', false)', true, true, '')::text",
            "select * from ts_stat('select set_config(''role'', ''none'', false)::tsvector')",
            "select pg_catalog.query_to_xmlschema('select 1', true, true, '')",
            // ts_rewrite runs its second argument as a query; a name built from pieces inside
            // it (set_config) was invisible to every rule.
            "select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery where pg_catalog.set' || chr(95) || 'config(''role'', ''none'', false) is not null') is not null",
            "select table_to_xml('users', true, false, '')::text",
            "select database_to_xml(true, false, '')::text",
            // pg_settings' rows are the session's settings: its update rule is set_config.
            "update pg_settings set setting = 'off' where name = 'standard_conforming_strings'",
            "update \"pg_settings\" set setting = 'pg_temp, public' where name = 'search_path'",
            "select * from pg_temp.users",
            // EXPLAIN ANALYZE runs its statement past the first-word rules.
            "explain analyze create temp table secrets as select 0 as id",
            "explain (analyze) select * into temp t from todos",
            "explain (format json, analyze) select 1",
            "explain /* ( */ (costs off, analyse true) select 1",
            // SET SCHEMA is search_path; SET SEED fixes the next caller's random().
            "set local schema 'public'",
            "set local seed = 0.5",
        ])
    func refusedForms(sql: String) throws {
        let store = try twoFeatures()
        let todos = store.scoped(to: "todos")
        #expect { try todos.exec(sql) } throws: { ($0 as? StoreError)?.code == .misuse || ($0 as? StoreError)?.code == .fence }
        #expect { try store.exec(sql) } throws: { ($0 as? StoreError)?.code == .misuse }
        // Whatever was tried, the fence still holds on every pooled connection.
        for _ in 0..<4 {
            #expect { let _: [String] = try todos.query("select name from users") } throws: { ($0 as? StoreError)?.code == .fence }
        }
        let login: String? = try store.one("select current_user::text")
        #expect(login == (try store.one("select session_user::text")))
    }

    @Test("set_config in a string, a comment or a column name is not a call")
    func notACall() throws {
        let store = try twoFeatures()
        let todos = store.scoped(to: "todos")
        try todos.exec("insert into todos (title) values ('set_config(''role'', ''x'', false)') -- set_config(")
        #expect(try todos.one("select count(*) from todos where title like 'set_config%'") == 1)
    }

    @Test("an entry cannot end its own transaction behind a comment that ends at \\r")
    func commentEndingAtCarriageReturn() throws {
        let store = try twoFeatures()
        #expect {
            try store.migrate("todos2", ["create table todos2 (id bigserial primary key)", "select 1 --\r; commit; alter table users owner to orion_todos2; begin\n"])
        } throws: { $0 is StoreError }
        #expect(try store.one("select tableowner::text from pg_tables where tablename = 'users'") == "orion_accounts")
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos2'") == 1)
    }

    @Test(
        "migration code that could step out of its role is refused; triggers still run functions",
        arguments: [
            "create function escape() returns void language plpgsql as $$ begin reset role; end $$",
            "create function escape() returns void language plpgsql as $$ begin set role postgres; end $$",
            "create function escape() returns void language plpgsql as $$ begin execute 'res' || 'et role'; end $$",
            "create function escape() returns text language sql as $$ select set_config('role', 'postgres', false) $$",
            "create function escape() returns void language plpgsql as 'begin set local role postgres; end'",
            "create view escape as select pg_catalog.set_config('role', 'postgres', false) as r",
            "create function escape() returns text language sql as $$ select U&\"\\0073et_config\"('role', 'none', false) $$",
            "create function escape() returns text language sql as $$ select pg_catalog.U&\"!0073et_config\" UESCAPE '!' ('role', 'none', false) $$",
            "create function escape() returns xml language sql as $$ select query_to_xml('select 1', true, true, '') $$",
            "create function escape() returns void language plpgsql as $$ begin reset/**/role; end $$",
            "create function escape() returns void language plpgsql as $$ begin reset/* a\nb */role; end $$",
            "create function escape() returns void language plpgsql as $$ begin set -- x\n role none; end $$",
            "create function escape() returns void language plpgsql as $$ declare function text := 'res' || 'et role'; begin execute function; end $$",
            "create function escape() returns void language plpgsql as $$ begin deallocate orion_1; end $$",
            "create function escape() returns void language plpgsql as $$ begin create temp table if not exists users (id bigint); end $$",
            "create function escape() returns void language plpgsql as $$ begin set search_path = pg_temp, public; end $$",
            "create function escape() returns trigger language plpgsql as $$ begin grant select on users to public; return new; end $$",
            // A comment opener inside a string next to a comment between words: the text read as
            // written misses `reset/**/role`, and stripping comments without reading quotes
            // swallows from the string's /* to that comment's */.
            "create function escape() returns void language plpgsql as $$ begin perform '/*'; reset/**/role; end $$",
            // A string continued on the next line is one string to PostgreSQL.
            "create function escape() returns void language plpgsql as 'begin perform set_con'\n'fig(''role'', ''none'', false); end'",
            // Escapes in an E'…' body.
            "create function escape() returns void language plpgsql as E'begin \\x72eset role; end'",
            "create function escape() returns void language plpgsql as U&'begin perform \\0073et_config(''role'', ''none'', false); end'",
            // A session setting the connection's next caller would inherit.
            "create function escape() returns void language plpgsql as $$ begin set statement_timeout = 0; end $$",
            "create function escape() returns void language plpgsql as $$ begin if true then reset datestyle; end if; end $$",
            "create table pg_temp.users (id bigint, name text)",
            "create table loot (id bigserial primary key, rows xml default table_to_xml('users', true, false, ''))",
            "create rule r as on insert to todos2 do also update pg_settings set setting = 'off' where name = 'standard_conforming_strings'",
            "create function escape() returns trigger language plpgsql as $$ begin perform ts_rewrite('a'::tsquery, 'select 1'); return new; end $$",
            // A function that changes the schema at run time, as the feature, past these checks.
            "create function flip() returns void language sql as $$ alter function stamp() security invoker $$",
            "create function listen_up() returns void language plpgsql as $$ begin listen orion_changes; end $$",
            "create function sp() returns void language plpgsql as $$ begin set local search_path = information_schema, public; end $$",
            "create or replace temp view v as select 1",
            // What the store sets on every connection, even for the transaction: reads after
            // it would decode bytes and numbers wrongly.
            "create function escape() returns trigger language plpgsql as $$ begin set local bytea_output = 'escape'; return new; end $$",
            "create function stash() returns int language sql as 'select 1 as x into temp stash; select 1'",
            "do $$ begin perform 1; end $$",
            "grant select on todos2 to public",
            "alter default privileges grant select on tables to public",
        ])
    func migrationCode(entry: String) throws {
        let store = try twoFeatures()
        #expect {
            try store.migrate("todos2", ["create table todos2 (id bigserial primary key)", entry])
        } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("todos2[1]") }
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos2'") == 1)
        // A trigger calling the feature's own function is fine.
        try store.migrate(
            "stamps",
            [
                "create table stamps (id bigserial primary key, at timestamptz)",
                "create function stamp() returns trigger language plpgsql as $$ begin new.at := now(); return new; end $$",
                "create trigger stamp before insert on stamps for each row execute function stamp()",
            ])
        try store.scoped(to: "stamps").exec("insert into stamps default values")
        #expect(try store.one("select count(*) from stamps where at is not null") == 1)
    }

    @Test("a function the feature's role owns runs as the feature, however it got there, and cannot change the role")
    func functionsRunAsTheirFeature() throws {
        let store = try twoFeatures(poolSize: 1)
        // A function that got past the code rules (here the root store made it and gave it away):
        // the migrator reads the feature's functions as PostgreSQL stored them, and refuses it.
        try store.exec(
            "create function escape() returns text language plpgsql as $$ begin perform set_config('role', 'none', false); return current_user; end $$")
        try store.exec("alter function escape() owner to orion_todos")
        #expect {
            try store.migrate("todos", ["create table todos (id bigserial primary key, title text)", "create index todos_title on todos (title)"])
        } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("as PostgreSQL stored it") }
        // Made SECURITY DEFINER by hand (as the migrator makes every function of the feature),
        // it cannot change the role at run time either.
        try store.exec("alter function escape() security definer")
        let todos = store.scoped(to: "todos")
        #expect {
            let _: String? = try todos.tx { try todos.one("select escape()") }
        } throws: { "\($0)".contains("security-definer") }
        try store.exec("drop function escape()")
        try store.migrate("todos", ["create table todos (id bigserial primary key, title text)", "create index todos_title on todos (title)"])
        // The connection still runs the feature's calls as the feature.
        #expect(try todos.one("select current_user::text") == "orion_todos")
        #expect { let _: Int? = try todos.one("select count(*) from users") } throws: { ($0 as? StoreError)?.code == .fence }
        // Another feature may not call the feature's functions; the root store may.
        try store.migrate(
            "todos",
            [
                "create table todos (id bigserial primary key, title text)", "create index todos_title on todos (title)",
                "create function todo_count() returns bigint language sql as $$ select count(*) from todos $$",
            ])
        #expect {
            let _: Int? = try store.scoped(to: "accounts").one("select todo_count()")
        } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("cannot call todo_count") }
        #expect(try store.one("select todo_count()") == 0)
        #expect(try todos.one("select todo_count()") == 0)
    }

    @Test("a feature's trigger runs as the feature when the root store writes")
    func triggersRunAsTheirFeature() throws {
        let store = try twoFeatures()
        try store.migrate(
            "stamps",
            [
                "create table stamps (id bigserial primary key, by text)",
                "create function stamp() returns trigger language plpgsql as $$ begin new.by := current_user; return new; end $$",
                "create trigger stamp before insert on stamps for each row execute function stamp()",
            ])
        try store.exec("insert into stamps default values")
        try store.scoped(to: "stamps").exec("insert into stamps default values")
        #expect(try store.query("select by from stamps order by id") == ["orion_stamps", "orion_stamps"])
    }

    @Test(
        "a feature may not create what other features' SQL would resolve to",
        arguments: [
            ("create function lower(x varchar) returns text language sql as $$ select 'pwned' $$", "pg_catalog.lower"),
            ("create function title_of(x text) returns text language sql as $$ select 'x' $$", ".title_of"),
            ("create function jsonb(x text) returns jsonb language sql as $$ select '{}'::jsonb $$", "the type pg_catalog.jsonb"),
            ("create operator === (leftarg = int, rightarg = int, function = int4eq)", "operator ===(integer,integer)"),
            ("create aggregate total(int) (sfunc = int4pl, stype = int)", "aggregate total(integer)"),
        ])
    func noSharedNames(entry: String, named: String) throws {
        let store = try twoFeatures()
        try store.migrate("todos", ["create table todos (id bigserial primary key, title text)", "create function title_of(id bigint) returns text language sql as $$ select title from todos where id = $1 $$"])
        #expect {
            try store.migrate("todos2", ["create table todos2 (id bigserial primary key)", entry])
        } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("todos2[1]") && "\($0)".contains(named) }
        #expect(try store.one("select lower('A'::varchar)") == "a")
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos2'") == 1)
    }

    @Test("an entry that leaves search_path changed, or whose expressions use another feature's function, is refused")
    func foreignExpressions() throws {
        let store = try twoFeatures()
        // A function of the root store's (callable by all) that sets search_path for the
        // transaction of whoever calls it.
        try store.exec(
            "create function sp() returns void language plpgsql as $$ begin perform set_config('search_path', 'information_schema, public', true); end $$")
        #expect {
            try store.migrate("todos", ["create table todos (id bigserial primary key, title text)", "select sp()"])
        } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("search_path") }
        #expect(try store.one("select has_schema_privilege('orion_todos', current_schema(), 'CREATE')") == false)
        try store.migrate(
            "accounts",
            [
                "create table users (id bigserial primary key, name text not null)", "insert into users (name) values ('ada')",
                "create function user_count() returns bigint language sql as $$ select count(*) from users $$",
                "create function user_code(n bigint) returns bigint language sql immutable as $$ select n * 2 $$",
            ])
        for entry in [
            "create table counted (id bigserial primary key, n bigint default user_count())",
            "create table checked (id bigserial primary key, n bigint check (n <= user_count()))",
            "create table seen (id bigserial primary key, n bigint default nextval('users_id_seq'))",
            "create domain leaky as bigint default user_count(); create table leak (id bigserial primary key, n leaky)",
            "create table indexed (id bigserial primary key, n bigint); create index on indexed ((user_code(n)))",
        ] {
            #expect {
                try store.migrate("todos2", ["create table todos2 (id bigserial primary key)", entry])
            } throws: { ($0 as? StoreError)?.code == .fence && "\($0)".contains("todos2[1]") && "\($0)".contains("not the feature's") }
        }
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos2'") == 1)
        // EXPLAIN without options runs nothing, and stays allowed.
        let plan: [String] = try store.scoped(to: "todos").query("explain select * from todos")
        #expect(!plan.isEmpty)
    }

    @Test("ordinary migration text that only looks like a setting change is not refused")
    func noFalseRefusals() throws {
        let store = try twoFeatures()
        try store.migrate(
            "labels",
            [
                "create table labels (id bigserial primary key, name text, deferred boolean default false)",
                "insert into labels (name) values ('Reset password'), ('(set by trigger)'), ('Create account; drop the old one')",
                "comment on table labels is 'Set by importer'",
                "-- step 2; set up indexes\ncreate index labels_name on labels (name)",
                "create function label_check() returns trigger language plpgsql as $$ begin set constraints all deferred; new.deferred := true; return new; end $$",
                "create table members (id bigserial primary key, role text, seed int)",
                "update members set role = 'admin', seed = 1",
                """
                create function member_check() returns trigger language plpgsql as $$
                declare comment text;
                begin
                  if new.role is null then raise exception 'Log in first, then create a project; drop me a line; then set up'; end if;
                  lock table members in share row exclusive mode;
                  if false then comment := 'x'; end if;
                  update members set seed = 2 where false;
                  return new;
                end $$
                """,
                "create trigger member_check before insert on members for each row execute function member_check()",
                "create trigger label_check before insert on labels for each row execute function label_check()",
            ])
        try store.scoped(to: "labels").exec("insert into labels (name) values ('x')")
        try store.scoped(to: "labels").exec("insert into members (role) values ('x')")
        let plan: [String] = try store.scoped(to: "labels").query("explain (format json, costs off) select * from labels")
        #expect(!plan.isEmpty)
        #expect(try store.one("select count(*) from labels where deferred") == 1)
    }

    @Test("a feature's role may create nothing outside its migrations")
    func noCreateOutsideMigrations() throws {
        let store = try twoFeatures()
        let canCreate: Bool? = try store.one("select has_schema_privilege('orion_todos', current_schema(), 'CREATE')")
        #expect(canCreate == false)
        // Its migrations still create tables, indexes, views and functions.
        try store.migrate(
            "todos",
            [
                "create table todos (id bigserial primary key, title text)",
                "create index todos_title on todos (title)",
                "create view open_todos as select * from todos",
                "create function todo_count() returns bigint language sql as $$ select count(*) from todos $$",
            ])
        #expect(try store.scoped(to: "todos").one("select todo_count()") == 0)
    }

    @Test("a TEMP table can never shadow a table for a later caller of the connection")
    func tempNeverShadows() throws {
        let store = try twoFeatures(poolSize: 1)
        try store.tx {
            // SET LOCAL is allowed; search_path is not: pg_temp stays last.
            #expect { try store.exec("set local search_path = pg_temp, public") } throws: { ($0 as? StoreError)?.code == .misuse }
        }
        let path: String? = try store.one("select current_setting('search_path')")
        #expect(path?.hasSuffix("pg_temp") == true)
        #expect(try store.scoped(to: "accounts").one("select count(*) from users") == 1)
    }

    @Test("re-preparing a statement whose table changed runs it under the caller's role")
    func replanUnderTheRightRole() throws {
        let store = try twoFeatures(poolSize: 1)
        let todos = store.scoped(to: "todos")
        // The root store prepares `select * from users` on the one connection.
        let before: [Row] = try store.query("select * from users")
        #expect(before.count == 1)
        try store.migrate(
            "accounts",
            [
                "create table users (id bigserial primary key, name text not null)", "insert into users (name) values ('ada')",
                "alter table users add column email text",
            ])
        // The feature's call re-uses the cached statement: PostgreSQL re-plans it (0A000) and the
        // retry must still run as the feature.
        #expect { let _: [Row] = try todos.query("select * from users") } throws: { ($0 as? StoreError)?.code == .fence }
        let after: [Row] = try store.query("select * from users")
        #expect(after.first?.columns == ["id", "name", "email"])
    }
}

@Suite("PostgresStore: bound values stay out of messages", .enabled(if: PG.available, PG.skipReason))
struct PostgresRedactionTests {
    @Test(
        "a message that quotes a bound value outside class 22 is cut too",
        arguments: [
            "select to_tsquery(?)", "select jsonb_path_query('{}'::jsonb, ?::jsonpath)",
        ])
    func quotedValues(sql: String) throws {
        let store = try PG.freshStore()
        let secret = "4111-1111-1111-1111 & & ("
        #expect { let _: [String] = try store.query(sql, secret) } throws: { error in
            !"\(error)".contains("4111") && (error as? StoreError)?.code == .sql
        }
    }
}

@Suite("PostgreSQL connection errors never quote a password")
struct PostgresPasswordTests {
    @Test(
        "libpq's parse errors are cut where they quote the password",
        arguments: [
            "postgresql://app:Zq%zzX9v@127.0.0.1:1/db?connect_timeout=1",
            "postgresql://app:Zq[X9v@127.0.0.1:1/db?connect_timeout=1",
            "postgresql://app:Zq@X@9v@127.0.0.1:1/db?connect_timeout=1",
            "postgresql://app:Zq X9v@127.0.0.1:1/db?connect_timeout=1",
            "postgresql://app:Zq'X\"9v@127.0.0.1:1/db?connect_timeout=1",
            "postgresql://app@127.0.0.1:1/db?password=Zq%zzX9v&connect_timeout=1",
            "host=127.0.0.1 port=1 password='Zq X\\'9\"v' connect_timeout=1",
            "host=127.0.0.1 port=1 password=Zq%zzX9v connect_timeout=1 bogus",
            "host=127.0.0.1 port=1 password='Zq X9v connect_timeout=1",
            "postgresql://app:Zq%zzX9v@[::1/db",
        ])
    func passwords(url: String) {
        do {
            _ = try PostgresStore(url: url)
            Issue.record("connected to a closed port")
        } catch {
            let text = "\(error)" + ((error as? StoreError)?.debugDescription ?? "")
            #expect(!text.contains("Zq"), "\(text)")
            #expect(!text.contains("X9"), "\(text)")
            #expect((error as? StoreError)?.code == .connection)
        }
    }
}

@Suite("PostgresStore: change notifications through LISTEN/NOTIFY", .enabled(if: PG.available, PG.skipReason))
struct PostgresChangeTests {
    @Test("commits by another client of the database are announced, one Change per commit")
    func otherClients() async throws {
        let url = try PG.freshDatabase()
        let store = try PostgresStore(url: url)
        try store.migrate("notes", ["create table notes (id bigserial primary key, body text)", "create table tags (id bigserial primary key)"])
        var all = store.changes().makeAsyncIterator()
        let other = try PostgresStore(url: url)
        try other.tx {
            try other.exec("insert into notes (body) values ('from elsewhere')")
            try other.exec("insert into tags default values")
        }
        #expect(await all.next() == Change(tables: ["notes", "tags"]))
        try other.exec("truncate tags")
        #expect(await all.next() == Change(tables: ["tags"]))
        other.close()
        store.close()
    }

    @Test("a database migrated before change notifications gets its triggers once, by itself")
    func upgrade() async throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, body text)"])
        try store.exec("drop trigger orion_changes on notes")
        #expect(try store.one("select count(*) from pg_trigger where tgname = 'orion_changes'") == 0)
        try store.migrate("other", [])
        #expect(try store.one("select count(*) from pg_trigger where tgname = 'orion_changes'") == 1)
        var all = store.changes().makeAsyncIterator()
        try store.scoped(to: "notes").exec("insert into notes (body) values ('x')")
        #expect(await all.next()?.tables == ["notes"])
    }

    @Test("after the listener reconnects, every subscriber gets one external Change")
    func reconnect() async throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, body text)"])
        var notes = store.changes(to: ["notes"]).makeAsyncIterator()
        var all = store.changes().makeAsyncIterator()
        let killed: Int? = try store.one("select count(pg_terminate_backend(pid)) from _orion_listening")
        #expect(killed == 1)
        let change = await notes.next()
        #expect(change?.isExternal == true)
        #expect(change?.tables == ["notes"])
        #expect(await all.next()?.isExternal == true)
        // Listening again: the next commit arrives as usual.
        try store.exec("insert into notes (body) values ('after')")
        #expect(await all.next() == Change(tables: ["notes"]))
    }

    @Test("observe(tables:) re-runs on the tables named; observe re-runs on every change")
    func observe() async throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, body text)"])
        var named = store.observe(tables: ["notes"]) { () throws -> Int in try store.one("select count(*) from notes") ?? -1 }.makeAsyncIterator()
        var every = store.observe { () throws -> Int in try store.one("select count(*) from notes") ?? -1 }.makeAsyncIterator()
        #expect(try await named.next() == 0)
        #expect(try await every.next() == 0)
        try store.exec("insert into notes (body) values ('a')")
        #expect(try await named.next() == 1)
        #expect(try await every.next() == 1)
    }
}
