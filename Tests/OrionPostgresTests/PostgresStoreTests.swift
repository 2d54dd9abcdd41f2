import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Synchronization
import Testing

private func code(_ error: any Error) -> StoreError.Code? { (error as? StoreError)?.code }

@Suite("PostgresStore: values", .enabled(if: PG.available, PG.skipReason))
struct PostgresValueTests {
    @Test("numeric, int8 extremes, floats, uuid, json and bytea map onto SQLValue")
    func mapping() throws {
        let store = try PG.freshStore()
        struct Mixed: Decodable {
            let whole: Int
            let fraction: Double
            let big: Int64
            let small: Int64
            let total: Int
            let nan: Double
            let inf: Double
            let id: UUID
            let doc: String
            let empty: Data
        }
        let id = UUID()
        let mixed: Mixed? = try store.one(
            """
            select 12345678901234::numeric as whole, 1.50::numeric as fraction, ?::bigint as big, ?::bigint as small,
                   (select sum(x) from (values (1::bigint), (2)) v(x)) as total,
                   'NaN'::float8 as nan, ?::float8 as inf, ?::uuid as id, '{"a": [1, 2]}'::jsonb as doc, ''::bytea as empty
            """, Int64.max, Int64.min, Double.infinity, id)
        #expect(mixed?.whole == 12_345_678_901_234)
        #expect(mixed?.fraction == 1.5)
        #expect(mixed?.big == Int64.max)
        #expect(mixed?.small == Int64.min)
        #expect(mixed?.total == 3)
        #expect(mixed?.nan.isNaN == true)
        #expect(mixed?.inf == .infinity)
        #expect(mixed?.id == id)
        #expect(mixed?.doc == #"{"a": [1, 2]}"#)
        #expect(mixed?.empty == Data())
        let third: Double? = try store.one("select ?::float8", 0.1 + 0.2)
        #expect(third == 0.1 + 0.2)
    }

    @Test("jsonb's ? operator is written ??")
    func jsonbQuestionMark() throws {
        let store = try PG.freshStore()
        try store.migrate("docs", ["create table docs (id bigserial primary key, body jsonb not null)"])
        try store.exec("insert into docs (body) values (?::jsonb), (?::jsonb)", #"{"a": 1}"#, #"{"b": 2}"#)
        #expect(try store.one("select count(*) from docs where body ?? ?", "a") == 1)
        #expect(try store.one("select count(*) from docs where body ??| array['a', 'b']") == 2)
    }

    @Test("dates are UTC whatever the server's time zone, and bools fit boolean columns")
    func datesAndBools() throws {
        let url = try PG.freshDatabase()
        let database = URLComponents(string: url)!.path.dropFirst()
        try PG.admin.exec("alter database \(database) set timezone = 'America/New_York'")
        let store = try PostgresStore(url: url)
        try store.migrate("events", ["create table events (id bigserial primary key, at timestamptz not null, local timestamp, done boolean not null)"])
        let at = Date(timeIntervalSince1970: 1_700_000_000.123)
        try store.exec("insert into events (at, local, done) values (?, ?, ?)", at, at, true)
        struct Event: Decodable {
            let at: Date
            let local: Date
            let done: Bool
        }
        let back: Event? = try store.one("select at, local, done from events where done = ?", true)
        #expect(back.map { abs($0.at.timeIntervalSince1970 - at.timeIntervalSince1970) < 0.0005 } == true)
        #expect(back.map { abs($0.local.timeIntervalSince1970 - at.timeIntervalSince1970) < 0.0005 } == true)
        #expect(try store.one("select extract(epoch from at)::float8 from events") == 1_700_000_000.123)
        let now: Date? = try store.one("select now()")
        #expect(now.map { abs($0.timeIntervalSinceNow) < 60 } == true)
    }

    @Test("text with a NUL character is refused rather than cut short")
    func nulInText() throws {
        let store = try PG.freshStore()
        #expect { try store.exec("select ?::text", "a\u{0}b") } throws: { code($0) == .unsupportedParameter }
        let bytes: [UInt8]? = try store.one("select ?::bytea", [UInt8]([0, 1, 0]))
        #expect(bytes == [0, 1, 0])
    }
}

@Suite("PostgresStore: exec results", .enabled(if: PG.available, PG.skipReason))
struct PostgresExecTests {
    @Test("lastId is the row id of the last row this insert added, and 0 otherwise")
    func lastId() throws {
        let store = try PG.freshStore()
        try store.migrate(
            "things",
            [
                "create table things (id bigserial primary key, name text unique)",
                "create table tags (id bigint generated always as identity primary key, label text)",
                "create table plain (id bigint primary key)",
                "create table keyed (code text primary key, n serial)",
                "create table textual (code text primary key)",
                "create view thing_names as select id, name from things",
            ])
        let a = try store.exec("insert into things (name) values (?)", "a")
        #expect(a == ExecResult(changes: 1, lastId: 1))
        #expect(try store.exec("insert into tags (label) values ('x'), ('y')") == ExecResult(changes: 2, lastId: 2))
        // An integer primary key is the row id, as on SQLite, also when written by hand.
        #expect(try store.exec("insert into plain (id) values (?)", 77) == ExecResult(changes: 1, lastId: 77))
        #expect(try store.exec("insert into things (id, name) values (50, 'b')") == ExecResult(changes: 1, lastId: 50))
        // Without an integer key, the first column a sequence fills; without either, 0.
        #expect(try store.exec("insert into keyed (code) values ('k')") == ExecResult(changes: 1, lastId: 1))
        #expect(try store.exec("insert into textual values ('t')") == ExecResult(changes: 1, lastId: 0))
        #expect(try store.exec("insert into things (name) values ('a') on conflict do nothing") == ExecResult(changes: 0, lastId: 0))
        #expect(try store.exec("update things set name = name || '!'") == ExecResult(changes: 2, lastId: 0))
        #expect(try store.exec("create index on things (name)") == ExecResult(changes: 0, lastId: 0))
        #expect(try store.exec("select * from things") == ExecResult(changes: 0, lastId: 0))
        #expect(try store.exec("delete from things") == ExecResult(changes: 2, lastId: 0))
        let scoped = store.scoped(to: "things")
        // (The conflicting insert above drew 2 from the sequence before it found the conflict.)
        let c = try scoped.exec("insert into things (name) values ('c')").lastId
        let cID: Int64? = try store.one("select id from things where name = 'c'")
        #expect(c > 1 && c == cID)
        let d = try store.tx { try store.exec("insert into things (name) values ('d')").lastId }
        #expect(d == c + 1)
    }

    @Test("lastId of upserts, WITH, RETURNING, quoted and qualified names, trailing comments and views")
    func lastIdForms() throws {
        let store = try PG.freshStore()
        try store.migrate(
            "things",
            [
                "create table things (id bigserial primary key, name text unique)",
                #"create table "Odd ""Name""" (id serial primary key, v text)"#,
                "create view thing_names as select id, name from things",
            ])
        let first = try store.exec("insert into things (name) values ('a'), ('b')").lastId
        #expect(first == 2)
        // An upsert that only updated inserted nothing: 0, never the id of the row it updated.
        let upsert = "insert into things (name) values (?) on conflict (name) do update set name = excluded.name"
        #expect(try store.exec(upsert, "a") == ExecResult(changes: 1, lastId: 0))
        #expect(try store.exec(upsert, "z") == ExecResult(changes: 1, lastId: 4))
        func id(_ name: String) throws -> Int64 { try #require(try store.one("select id from things where name = ?", name)) }
        #expect(try store.exec("insert into things (name) values ('b'), ('y') on conflict (name) do update set name = excluded.name").lastId == id("y"))
        #expect(try store.exec("insert into things (name) values ('x'), ('y') on conflict (name) do update set name = excluded.name").lastId == id("x"))
        #expect(try store.exec("with n as (select 'w' as name) insert into things (name) select name from n").lastId == id("w"))
        #expect(try store.exec("insert into things (name) values ('v') returning name, 42").lastId == id("v"))
        #expect(try store.exec("INSERT /* c */ INTO public . things (name) values ('u') -- trailing note").lastId == id("u"))
        #expect(try store.exec(#"insert into "Odd ""Name""" (v) values ('x')"#).lastId == 1)
        #expect(try store.exec(#"insert into U&"Odd ""N\0061me""" (v) values ('y')"#).lastId == 2)
        // A view has no row id of its own.
        #expect(try store.exec("insert into thing_names (name) values ('t')") == ExecResult(changes: 1, lastId: 0))
        // query and one see the statement as written: no RETURNING of the store's.
        #expect(try store.query("insert into things (name) values ('s')") as [Int64] == [])
        #expect(try store.one("insert into things (name) values ('r') returning name") == "r")
    }

    @Test("lastId is this insert's own: another caller's nextval() on the connection, or a trigger's insert elsewhere, never shows")
    func lastIdIsTheInsertsOwn() throws {
        let store = try PG.freshStore(poolSize: 1)
        try store.migrate("things", ["create table things (id bigserial primary key, name text)", "create table codes (code text primary key)"])
        try store.migrate(
            "evil",
            [
                "create table evil (id bigserial primary key)", "create sequence evil_seq start 9000",
            ])
        let evil = store.scoped(to: "evil")
        let _: Int64? = try evil.one("select nextval('evil_seq')")
        #expect(try store.exec("insert into codes values ('a')") == ExecResult(changes: 1, lastId: 0))
        let _: Int64? = try evil.one("select nextval('evil_seq')")
        #expect(try store.exec("insert into things (name) values ('a')").lastId == 1)
        try store.migrate(
            "things",
            [
                "create table things (id bigserial primary key, name text)", "create table codes (code text primary key)",
                "create table log (id bigserial primary key, at int)", "alter sequence log_id_seq restart with 500",
                "create function log_it() returns trigger language plpgsql as $$ begin insert into log (at) values (1); return new; end $$",
                "create trigger log_it after insert on things for each row execute function log_it()",
            ])
        #expect(try store.exec("insert into things (name) values ('b')").lastId == 2)
        #expect(try store.one("select max(id) from log") == 500)
    }
}

@Suite("PostgresStore: errors", .enabled(if: PG.available, PG.skipReason))
struct PostgresErrorTests {
    @Test("syntax errors carry SQLSTATE, PostgreSQL's message and the SQL")
    func syntax() throws {
        let store = try PG.freshStore()
        do {
            try store.exec("selec 1")
            Issue.record("no error")
        } catch let error as StoreError {
            #expect(error.code == .sql)
            #expect(error.sqlState == "42601")
            #expect(error.description.contains("syntax error") && error.description.contains("selec 1"))
        }
    }

    @Test("values never reach the description: not from a data error's message, not from DETAIL")
    func noValues() throws {
        let store = try PG.freshStore()
        try store.migrate("secrets", ["create table secrets (id bigserial primary key, n integer, k text unique)"])
        do {
            try store.exec("insert into secrets (n) values (?)", "secret-number")
            Issue.record("no error")
        } catch let error as StoreError {
            #expect(error.sqlState == "22P02")
            #expect(!error.description.contains("secret-number"))
            #expect(error.debugDescription.contains("secret-number"))
        }
        try store.exec("insert into secrets (k) values (?)", "secret-key")
        do {
            try store.exec("insert into secrets (k) values (?)", "secret-key")
            Issue.record("no error")
        } catch let error as StoreError {
            #expect(error.code == .constraint && error.sqlState == "23505")
            #expect(error.description.contains("secrets_k_key"))
            #expect(!error.description.contains("secret-key"))
            #expect(error.debugDescription.contains("secret-key"))
        }
    }

    @Test("after a failed statement the transaction says how to recover; a nested tx does")
    func abortedTransaction() throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, title text not null)"])
        #expect {
            try store.tx {
                _ = try? store.exec("insert into notes (title) values (?)", nil)
                try store.exec("insert into notes (title) values ('after')")
            }
        } throws: { ($0 as? StoreError)?.message.contains("nested tx") == true }
        try store.tx {
            _ = try? store.tx { try store.exec("insert into notes (title) values (?)", nil) }
            try store.exec("insert into notes (title) values ('kept')")
        }
        #expect(try store.query("select title from notes") == ["kept"])
    }

    @Test("roles and session settings belong to the store")
    func sessionControl() throws {
        let store = try PG.freshStore()
        for sql in ["set role postgres", "reset role", "set search_path = other", "set time zone 'Europe/Paris'", "discard all"] {
            #expect { try store.exec(sql) } throws: { code($0) == .misuse }
        }
        try store.tx { try store.exec("set local lock_timeout = '1s'") }
    }

    @Test("a closed store says so")
    func closed() throws {
        let store = try PG.freshStore()
        store.close()
        #expect { let _: Int? = try store.one("select 1") } throws: { code($0) == .closed }
    }

    @Test("an unreachable server is a connection error naming where, without the password")
    func unreachable() {
        #expect {
            _ = try PostgresStore(url: "postgresql://someone:hunter2@127.0.0.1:1/none?connect_timeout=2")
        } throws: { error in
            code(error) == .connection && !"\(error)".contains("hunter2") && "\(error)".contains("127.0.0.1")
        }
        for url in ["host=127.0.0.1 port=1 password='hunter2 x' connect_timeout=2", "postgresql://127.0.0.1:1/none?password=hunter2&connect_timeout=2"] {
            #expect { _ = try PostgresStore(url: url) } throws: { !"\($0)".contains("hunter2") }
        }
    }
}

@Suite("PostgresStore: pool, time limit, reconnect", .enabled(if: PG.available, PG.skipReason))
struct PostgresPoolTests {
    @Test("a call waits for a free connection, then times out with a clear error")
    func poolTimeout() throws {
        let store = try PG.freshStore(poolSize: 1, poolTimeout: .milliseconds(200))
        let release = PG.holdConnection(of: store)
        let start = ContinuousClock.now
        #expect {
            let _: Int? = try store.one("select 1")
        } throws: { code($0) == .busy && "\($0)".contains("poolSize") }
        #expect(ContinuousClock.now - start >= .milliseconds(190))
        release()
        // Once the holder is done, the connection is free again.
        var value: Int?
        for _ in 0..<50 where value == nil {
            value = try? store.one("select 1")
            if value == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(value == 1)
    }

    @Test("tx pins one connection: its rows are visible inside, not to other threads until commit")
    func pinning() throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, title text not null)"])
        let seenOutside = Locked<Int?>(nil)
        try store.tx {
            try store.exec("insert into notes (title) values ('inside')")
            #expect(try store.one("select count(*) from notes") == 1)
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                seenOutside.withLock { $0 = try? store.one("select count(*) from notes") }
                finished.signal()
            }
            finished.wait()
        }
        #expect(seenOutside.withLock { $0 } == 0)
        #expect(try store.one("select count(*) from notes") == 1)
    }

    @Test("BEGIN goes out with the transaction's first statement, whatever that statement is")
    func deferredBegin() throws {
        struct Boom: Error {}
        let store = try PG.freshStore(poolSize: 1)
        try store.migrate("notes", ["create table notes (id bigserial primary key, title text not null)"])
        let notes = store.scoped(to: "notes")
        try store.tx {}
        #expect(throws: StoreError.self) { try store.tx { try store.exec("selec 1") } }
        #expect(throws: Boom.self) {
            try store.tx {
                try notes.exec("insert into notes (title) values ('scoped first')")
                throw Boom()
            }
        }
        #expect(throws: Boom.self) {
            try store.tx {
                try store.tx { try store.exec("insert into notes (title) values ('savepoint first')") }
                throw Boom()
            }
        }
        let seen = try store.tx { () -> Int? in
            let before: Int? = try store.one("select count(*) from notes")
            try store.exec("insert into notes (title) values ('kept')")
            return before
        }
        #expect(seen == 0)
        #expect(try store.query("select title from notes") == ["kept"])
        // No transaction was left open on the one connection: VACUUM refuses to run inside one.
        try store.exec("vacuum notes")
    }

    @Test("statementTimeLimit cancels a runaway statement")
    func statementTimeLimit() throws {
        let store = try PG.freshStore(statementTimeLimit: .milliseconds(100))
        let start = ContinuousClock.now
        #expect { try store.exec("select pg_sleep(5)") } throws: { code($0) == .interrupted && "\($0)".contains("time limit") }
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(try store.one("select 1") == 1)
    }

    @Test("a connection lost during a call fails that call; the next call reconnects")
    func reconnect() throws {
        let store = try PG.freshStore(poolSize: 1)
        let pid: Int? = try store.one("select pg_backend_pid()")
        #expect { let _: Bool? = try store.one("select pg_terminate_backend(pg_backend_pid())") } throws: { code($0) == .connection }
        #expect(try store.one("select 1") == 1)
        let newPid: Int? = try store.one("select pg_backend_pid()")
        #expect(newPid != pid)
    }

    @Test("idle connections the server ended (a restart) are replaced before use: no caller sees an error", arguments: [false, true])
    func idleConnectionsEnded(inTx: Bool) async throws {
        let store = try PG.freshStore(poolSize: 4)
        // Open all four: four callers at once, each holding its connection until all have one.
        let held = DispatchGroup()
        let release = DispatchSemaphore(value: 0)
        let pids = Mutex<Set<Int>>([])
        for _ in 0..<4 {
            held.enter()
            DispatchQueue.global().async {
                try! store.tx {
                    let pid: Int? = try store.one("select pg_backend_pid()")
                    pids.withLock { _ = $0.insert(pid!) }
                    held.leave()
                    release.wait()
                }
            }
        }
        held.wait()
        for _ in 0..<4 { release.signal() }
        #expect(await eventually { store.health().pool.idle == 4 })
        let ended = pids.withLock { $0 }
        #expect(ended.count == 4)
        for pid in ended { #expect(try PG.admin.one("select pg_terminate_backend(?)", pid) == true) }
        // Gone from the server: each backend has sent its FATAL message and closed its socket.
        #expect(await eventually { (try? PG.admin.one("select count(*) from pg_stat_activity where pid = any(?::int[])", "{\(ended.map(String.init).joined(separator: ","))}") as Int?) == 0 })
        for _ in 0..<8 {
            let pid: Int? = inTx ? try store.tx { try store.one("select pg_backend_pid()") } : try store.one("select pg_backend_pid()")
            #expect(pid.map { !ended.contains($0) } == true)
        }
    }
}

@Suite("PostgresStore: migrations and the fence", .enabled(if: PG.available, PG.skipReason))
struct PostgresFenceTests {
    @Test("a failing entry leaves nothing behind: DDL rolls back with it")
    func transactionalDDL() throws {
        let store = try PG.freshStore()
        #expect {
            try store.migrate("half", ["create table half_a (id bigint); create table half_b (id bigint); insert into nowhere values (1)"])
        } throws: { code($0) == .migration && "\($0)".contains("half[0]") }
        #expect(try store.one("select to_regclass('half_a')::text") as String? == nil)
        #expect(try store.one("select count(*) from _orion_migrations") == 0)
        #expect(try store.one("select count(*) from _orion_tables") == 0)
    }

    @Test("concurrent boots apply each entry once")
    func concurrentBoots() throws {
        let url = try PG.freshDatabase()
        let entries = ["create table boots (id bigserial primary key, n integer)", "insert into boots (n) values (1)"]
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                let store = try PostgresStore(url: url, poolSize: 1)
                try store.migrate("boots", entries)
                store.close()
            } catch {
                failures.withLock { $0 += 1 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        let store = try PostgresStore(url: url)
        #expect(try store.one("select count(*) from boots") == 1)
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'boots'") == 2)
    }

    @Test("the registry records who owns what; the feature's role owns it in the catalog")
    func registry() throws {
        let store = try PG.freshStore()
        try store.migrate("todos", ["create table todos (id bigserial primary key)", "create view open_todos as select * from todos"])
        struct Entry: Decodable, Equatable {
            let name: String
            let type: String
            let feature: String
        }
        let entries: [Entry] = try store.query("select name, type, feature from _orion_tables order by name")
        #expect(entries == [Entry(name: "open_todos", type: "view", feature: "todos"), Entry(name: "todos", type: "table", feature: "todos")])
        #expect(try store.one("select tableowner from pg_tables where tablename = 'todos'") == "orion_todos")
        try store.migrate("todos", ["create table todos (id bigserial primary key)", "create view open_todos as select * from todos", "drop view open_todos"])
        #expect(try store.one("select count(*) from _orion_tables") == 1)
    }

    @Test("migrations cannot reach another feature's tables, directly or through a view")
    func migrationFence() throws {
        let store = try PG.freshStore()
        try store.migrate("accounts", ["create table users (id bigserial primary key, name text)"])
        for entry in [
            "create view spy as select name from users",
            "create index on users (name)",
            "insert into users (name) values ('x')",
            "drop table users",
        ] {
            #expect {
                try store.migrate("todos", [entry])
            } throws: { error in
                let text = "\(error)"
                return code(error) == .fence && text.contains("todos[0]") && text.contains("'users'") && text.contains("'accounts'")
            }
        }
        for entry in ["commit", "reset role", "set role postgres"] {
            #expect { try store.migrate("todos", ["create table t (id int); \(entry)"]) } throws: {
                code($0) == .transactionControl || code($0) == .fence
            }
        }
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'todos'") == 0)
    }

    @Test("scoped stores: own tables work, foreign and bookkeeping tables, DDL and role changes are refused")
    func scopedFence() throws {
        let store = try PG.freshStore()
        try store.migrate("accounts", ["create table users (id bigserial primary key, name text not null)"])
        try store.migrate("todos", ["create table todos (id bigserial primary key, user_id bigint not null references users(id) on delete cascade, title text)"])
        let accounts = store.scoped(to: "accounts")
        let todos = store.scoped(to: "todos")
        // Inside a transaction (where the registry cannot be read), from what migrate read.
        #expect {
            try store.tx { let _: [String] = try todos.query("select name from users") }
        } throws: { "\($0)".contains("cannot read table 'users': it belongs to feature 'accounts'") }
        let ada = try accounts.exec("insert into users (name) values ('ada')").lastId
        try todos.exec("insert into todos (user_id, title) values (?, 'a')", ada)
        #expect { try todos.exec("insert into todos (user_id, title) values (999, 'orphan')") } throws: { code($0) == .constraint }
        #expect { let _: [Row] = try todos.query("select * from _orion_migrations") } throws: { code($0) == .fence && "\($0)".contains("_orion_") }
        #expect { try todos.exec("create table extra (id int)") } throws: { code($0) == .fence && "\($0)".contains("migrate(") }
        #expect { try todos.exec("reset role") } throws: { code($0) == .misuse }
        #expect { try todos.exec("update users set name = 'x'") } throws: { error in
            "\(error)".contains("cannot update table 'users': it belongs to feature 'accounts'")
        }
        // A cascade from the owner's delete runs as the child table's owner.
        try accounts.exec("delete from users where id = ?", ada)
        #expect(try todos.one("select count(*) from todos") == 0)
        // The root store reaches everything.
        #expect(try store.one("select count(*) from users") == 0)
        let unknown = store.scoped(to: "nobody")
        #expect { let _: Int? = try unknown.one("select 1") } throws: { "\($0)".contains("migrate(\"nobody\"") }
        #expect { try todos.migrate("accounts", []) } throws: { code($0) == .fence }
        // A table no migration created: the root store reaches it, a feature's role does not.
        try store.exec("create table loose (id bigint)")
        #expect { let _: Int? = try todos.one("select count(*) from loose") } throws: { error in
            code(error) == .fence && "\(error)".contains("no feature's migration created it") && "\(error)".contains("orion_todos")
        }
    }

    @Test("roles follow each call on shared connections: scoped and root calls interleaved from threads")
    func rolesOnSharedConnections() throws {
        let store = try PG.freshStore(poolSize: 2)
        try store.migrate("accounts", ["create table users (id bigserial primary key, name text not null)"])
        try store.migrate("todos", ["create table todos (id bigserial primary key, title text not null)"])
        let accounts = store.scoped(to: "accounts")
        let todos = store.scoped(to: "todos")
        let wrong = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            for i in 0..<30 {
                do {
                    switch (worker + i) % 4 {
                    case 0: try todos.exec("insert into todos (title) values (?)", "t\(i)")
                    case 1: try accounts.exec("insert into users (name) values (?)", "u\(i)")
                    case 2:
                        let _: Int? = try store.one("select (select count(*) from users) + (select count(*) from todos)")
                    default:
                        do {
                            let _: Int? = try todos.one("select count(*) from users")
                            wrong.withLock { $0.append("todos read users") }
                        } catch let error as StoreError where error.code == .fence {}
                        try store.tx {
                            try todos.exec("insert into todos (title) values ('in tx')")
                            try accounts.exec("insert into users (name) values ('in tx')")
                        }
                    }
                } catch {
                    wrong.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(wrong.withLock { $0 } == [])
        let total: Int? = try store.one("select (select count(*) from users) + (select count(*) from todos)")
        let rowsPerCase = [1, 1, 0, 2]
        let expected = (0..<6).reduce(0) { sum, worker in sum + (0..<30).reduce(0) { $0 + rowsPerCase[(worker + $1) % 4] } }
        #expect(total == expected)
    }

    @Test("a login that is not a superuser works with CREATEROLE and its own database")
    func ordinaryLogin() throws {
        let role = "orion_app_\(getpid())"
        try PG.admin.exec("create role \(role) login createrole")
        try PG.admin.exec("create database \(role) owner \(role)")
        defer {
            _ = try? PG.admin.exec("drop database if exists \(role) with (force)")
            _ = try? PG.admin.exec("drop role if exists \(role)")
        }
        var parts = URLComponents(string: PG.url(database: role))!
        parts.queryItems = (parts.queryItems ?? []).filter { $0.name != "user" } + [URLQueryItem(name: "user", value: role)]
        let store = try PostgresStore(url: parts.string!)
        try store.migrate("accounts", ["create table users (id bigserial primary key, name text)"])
        try store.migrate("todos", ["create table todos (id bigserial primary key, user_id bigint references users(id))"])
        let todos = store.scoped(to: "todos")
        #expect { let _: Int? = try todos.one("select count(*) from users") } throws: { code($0) == .fence }
        let user = try store.scoped(to: "accounts").exec("insert into users (name) values ('a')").lastId
        #expect(try todos.exec("insert into todos (user_id) values (?)", user).changes == 1)
        store.close()
    }

    @Test("a cached select * keeps working after a migration changes its table")
    func replanAfterMigration() throws {
        let store = try PG.freshStore(poolSize: 1)
        let entries = ["create table notes (id bigserial primary key, title text)"]
        try store.migrate("notes", entries)
        try store.exec("insert into notes (title) values ('a')")
        let before: [Row] = try store.query("select * from notes")
        #expect(before.first?.columns == ["id", "title"])
        try store.migrate("notes", entries + ["alter table notes add column done boolean not null default false"])
        let after: [Row] = try store.query("select * from notes")
        #expect(after.first?.columns == ["id", "title", "done"])
    }

    @Test("instrumented scoped stores report the feature")
    func instrumentedFeature() throws {
        let store = try PG.freshStore()
        try store.migrate("todos", ["create table todos (id bigserial primary key)"])
        let features = Locked<[String?]>([])
        let instrumented = InstrumentedStore(store.scoped(to: "todos"), sample: 1) { event in features.withLock { $0.append(event.feature) } }
        let _: Int? = try instrumented.one("select count(*) from todos")
        #expect(features.withLock { $0 } == ["todos"])
    }
}

@Suite("PostgresStore: health", .enabled(if: PG.available, PG.skipReason))
struct PostgresHealthTests {
    @Test("health() reports the pool's use and whether the store listens")
    func health() async throws {
        let store = try PG.freshStore(poolSize: 3)
        var health = store.health()
        #expect(health.pool.size == 3)
        #expect(health.pool.open == 1)
        #expect(health.pool.inUse == 0)
        #expect(health.listening == false)
        try store.tx {
            #expect(store.health().pool.inUse == 1)
        }
        let changes = store.changes()
        health = store.health()
        #expect(health.listening)
        #expect(Set(health.gauges.map(\.label)).isSuperset(of: ["orion_postgres_pool", "orion_postgres_pool_waits", "orion_postgres_listening"]))
        _ = changes
        store.close()
    }
}

@Suite("PostgresStore: RowDecodable reads by position", .enabled(if: PG.available, PG.skipReason))
struct PostgresRowDecodableTests {
    /// Readable only by `init(row:)`: its `Decodable` form throws.
    struct ByPosition: RowDecodable, Equatable {
        struct NotByName: Error {}
        let id: Int64
        let title: String?
        init(from decoder: any Decoder) throws { throw NotByName() }
        init(row: RowReader) throws {
            id = try row.int64(0)
            title = try row.isNull(1) ? nil : row.string(1)
        }
    }

    @Test("query and one take init(row:) on the root and a scoped store; a wrong column is a decoding error")
    func byPosition() throws {
        let store = try PG.freshStore()
        try store.migrate("notes", ["create table notes (id bigserial primary key, title text)"])
        try store.exec("insert into notes (title) values ('a'), (null)")
        for s: any Store in [store, store.scoped(to: "notes")] {
            let rows: [ByPosition] = try s.query("select id, title from notes order by id")
            #expect(rows.map(\.title) == ["a", nil])
            #expect(try s.one("select id, title from notes where id = ?", 1) as ByPosition? == rows.first)
            #expect(try s.one("select id, title from notes where id = ?", 9) as ByPosition? == nil)
            #expect {
                let _: [ByPosition] = try s.query("select title, id from notes")
            } throws: { ($0 as? StoreError)?.code == .decoding && "\($0)".contains("column 'title' holds TEXT") }
        }
    }
}
