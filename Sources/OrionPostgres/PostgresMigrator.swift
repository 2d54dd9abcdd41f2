import Foundation
import Orion

/// Feature-owned migrations on PostgreSQL, with the fence made of roles and privileges.
///
/// The bookkeeping is SQLite's, in PostgreSQL types:
/// ```sql
/// create table _orion_migrations (
///     feature text not null, idx integer not null, sha256 text not null,
///     applied_at timestamptz not null, primary key (feature, idx))
/// create table _orion_tables (
///     name text primary key, type text not null, feature text not null)
/// ```
/// Both are owned by the store's login; feature roles have no privilege on them.
///
/// One `migrate` call holds a session advisory lock for its whole run, so concurrent boots
/// (threads, processes, machines) apply each entry once. Each entry runs in its own
/// transaction as the feature's role: what it creates, the role owns; touching a table
/// another role owns fails in PostgreSQL itself, and DDL is transactional, so a failing entry
/// leaves nothing behind.
enum PostgresMigrator {
    /// The advisory lock key of migrations in a database ("orion" in ASCII).
    static let lockKey: Int64 = 0x6f_72_69_6f_6e

    static func migrate(feature: String, entries: [String], store: PostgresStore) throws {
        try Migrations.validate(feature: feature)
        if store.isInTransaction { throw StoreError.migrateInsideTransaction(feature: feature) }
        try store.withConnection { connection, _ in
            try connection.use(role: .login)
            try connection.simpleQuery("select pg_advisory_lock(\(lockKey))")
            defer { _ = try? connection.simpleQuery("select pg_advisory_unlock(\(lockKey))") }
            try ensureBookkeeping(connection)
            try installMissingChangeTriggers(connection)
            let role = PostgresStore.roleName(of: feature)
            try ensureRole(role, connection)
            let applied = try connection.simpleRows(
                "select idx, sha256 from _orion_migrations where feature = \(SQLText.quoteLiteral(feature)) order by idx")
            try Migrations.run(
                feature: feature, entries: entries,
                applied: applied.compactMap { row in
                    guard let index = row[0].flatMap({ Int($0) }), let recorded = row[1] else { return nil }
                    return Migrations.Applied(index: index, sha256: recorded)
                }
            ) { index, fingerprint, _ in
                try apply(
                    feature: feature, role: role, index: index, entry: entries[index],
                    fingerprint: fingerprint, connection: connection, store: store)
            }
            store.reloadOwners(connection)
        }
    }

    private static func ensureBookkeeping(_ connection: PostgresConnection) throws {
        try connection.simpleQuery(
            """
            create table if not exists _orion_migrations (
                feature text not null,
                idx integer not null,
                sha256 text not null,
                applied_at timestamptz not null default now(),
                primary key (feature, idx)
            );
            create table if not exists _orion_tables (
                name text primary key,
                type text not null,
                feature text not null
            )
            """)
        // The function behind every feature table's change trigger. It notifies only while a
        // store listens (a row in _orion_listening): NOTIFY makes PostgreSQL commit the
        // transactions that use it one at a time, database-wide, so nobody should pay for it
        // unasked. One notification per table per transaction (PostgreSQL folds duplicates),
        // sent at COMMIT and never for work rolled back, carrying the transaction's id so the
        // listener can tell commits apart. It runs as the store's login (SECURITY DEFINER, a
        // fixed search path), which owns _orion_listening.
        try connection.simpleQuery(
            """
            create table if not exists _orion_listening (pid integer primary key, since timestamptz not null default now());
            do $orion$ begin
              execute format($f$
                create or replace function %1$I._orion_notify_change() returns trigger
                language plpgsql security definer set search_path = pg_catalog, pg_temp as $body$
                begin
                  if exists (select 1 from %1$I._orion_listening) then
                    perform pg_notify('\(PostgresListener.channel)', txid_current()::text || ' ' || tg_table_name);
                  end if;
                  return null;
                end $body$
              $f$, current_schema());
            end $orion$
            """)
    }

    /// The statement that makes a table announce its commits.
    static func changeTrigger(on table: String) -> String {
        "create trigger \(changeTriggerName) after insert or update or delete or truncate on \(SQLText.quoteIdentifier(table)) for each statement execute function _orion_notify_change()"
    }

    /// The name of every feature table's change trigger.
    static let changeTriggerName = "orion_changes"

    /// The tables `owner` (a role, or any feature role when `nil`) owns in the current schema
    /// that have no change trigger yet, with their owners.
    private static func tablesWithoutChangeTrigger(ownedBy owner: String?, _ connection: PostgresConnection) throws -> [(table: String, owner: String)] {
        let ownerFilter = owner.map { "r.rolname = \(SQLText.quoteLiteral($0))" } ?? "r.rolname like 'orion\\_%'"
        let rows = try connection.simpleRows(
            """
            select c.relname, r.rolname from pg_class c join pg_roles r on r.oid = c.relowner
            where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and \(ownerFilter)
              and c.relname not like '\\_orion\\_%'
              and not exists (select 1 from pg_trigger g where g.tgrelid = c.oid and g.tgname = '\(changeTriggerName)')
            """)
        return rows.compactMap { row in
            guard let table = row[0], let owner = row[1] else { return nil }
            return (table, owner)
        }
    }

    /// Gives every feature table made before change notifications existed its trigger (once:
    /// a table that has one is left alone), each as the role that owns it.
    private static func installMissingChangeTriggers(_ connection: PostgresConnection) throws {
        for (table, owner) in try tablesWithoutChangeTrigger(ownedBy: nil, connection) {
            try connection.control("begin")
            do {
                try connection.simpleQuery("set local role \(SQLText.quoteIdentifier(owner))")
                try connection.simpleQuery(changeTrigger(on: table))
                try connection.control("commit")
            } catch {
                _ = try? connection.control("rollback")
                connection.role = .unknown
                throw error
            }
            connection.role = .unknown
        }
    }

    /// Creates the feature's role if it is missing, lets the login act as it, and lets it
    /// create tables in the current schema.
    private static func ensureRole(_ role: String, _ connection: PostgresConnection) throws {
        let literal = SQLText.quoteLiteral(role)
        let identifier = SQLText.quoteIdentifier(role)
        // Roles belong to the whole cluster: another database may create the same one at the
        // same moment; its "already exists" (or a concurrent catalog update) means it is there.
        for attempt in 1...3 {
            do {
                if try connection.simpleQuery("select 1 from pg_roles where rolname = \(literal)") == nil {
                    try connection.simpleQuery("create role \(identifier) nologin")
                }
                break
            } catch let error as StoreError where attempt < 3 && ["42710", "23505", "XX000"].contains(error.sqlState ?? "") {
                continue
            } catch let error as StoreError where error.sqlState == "42501" {
                throw StoreError(
                    .migration,
                    "migrate needs to create the role \(role) for the feature's tables, and the store's login may not create roles: grant it CREATEROLE, or create the role (NOLOGIN) and grant it to the login",
                    sqlState: error.sqlState)
            }
        }
        let canAct = try connection.simpleQuery(
            "select pg_has_role(current_user, \(literal), 'MEMBER') or (select rolsuper from pg_roles where rolname = current_user)")
        if canAct != "t" {
            try connection.simpleQuery("grant \(identifier) to current_user")
        }
        // CREATE on the schema is the feature's only while one of its entries runs (granted in the
        // entry's transaction, revoked before it commits): outside migrations its role can make
        // no table (`SELECT … INTO`), function or view.
        try connection.simpleQuery(
            "do $orion$ begin execute format('grant usage on schema %I to %I; revoke create on schema %I from %I', current_schema(), \(literal), current_schema(), \(literal)); end $orion$")
    }

    /// `grant` or `revoke` CREATE on the current schema to or from `role`.
    private static func schemaCreate(_ verb: String, _ role: String, _ connection: PostgresConnection) throws {
        let preposition = verb == "grant" ? "to" : "from"
        try connection.simpleQuery(
            "do $orion$ begin execute format('\(verb) create on schema %I \(preposition) %I', current_schema(), \(SQLText.quoteLiteral(role))); end $orion$")
    }

    /// Makes every function and procedure `role` owns run as its owner, callable by its owner
    /// (and the login, a member of the role) alone: `SECURITY DEFINER`, and `EXECUTE` revoked
    /// from PUBLIC. Runs in the entry's transaction after each of its statements, as the role.
    ///
    /// This is the fence at run time, whatever the code rules read: PostgreSQL refuses
    /// `SET ROLE`, `RESET ROLE` and `set_config('role', …)` inside a security-definer function
    /// ("cannot set parameter role within security-definer function"), so no code a feature
    /// wrote can take the login's privileges, not even a trigger fired by the root store's
    /// write, which would otherwise run as the login. Another feature's call of the function is
    /// refused by PostgreSQL.
    ///
    /// Refused: functions in a language other than SQL and PL/pgSQL (the code rules read those
    /// two only), aggregates and window functions, operators, and a function that shares its
    /// name with a function visible on the search path that someone else owns (`lower`, or
    /// another feature's), or the name of such a type (`jsonb(…)` is a cast to jsonb until a
    /// function takes the name), which a call meant for the other could resolve to.
    ///
    /// Also refused: an expression on the feature's tables (a default, a CHECK, a policy, a
    /// rule, a trigger) that calls another's function or names another's relation — it would
    /// run as whoever writes the table, the root store's login included — and a statement that
    /// left the transaction's `search_path` changed (`path`, read before the entry).
    private static func secureRoutines(feature: String, index: Int, role: String, path: String, _ connection: PostgresConnection) throws {
        func refuse(_ problem: String) -> StoreError {
            StoreError(.fence, "migration \(feature)[\(index)] is refused: \(problem)")
        }
        if try connection.simpleQuery("select current_setting('search_path')") != path {
            throw refuse("it changed search_path, which the migrator and every later caller of the connection rely on")
        }
        let owner = "(select oid from pg_roles where rolname = \(SQLText.quoteLiteral(role)))"
        let rows = try connection.simpleRows(
            """
            select p.oid::regprocedure::text, l.lanname::text, p.prokind::text, p.prosecdef::text,
                   has_function_privilege('public', p.oid, 'EXECUTE')::text,
                   (select string_agg(distinct shared, ', ') from (
                      select n.nspname || '.' || q.proname as shared from pg_proc q join pg_namespace n on n.oid = q.pronamespace
                       where q.proname = p.proname and q.proowner <> p.proowner and n.nspname = any(current_schemas(true))
                      union all
                      select 'the type ' || n.nspname || '.' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
                       where t.typname = p.proname and t.typowner <> p.proowner and n.nspname = any(current_schemas(true))) s),
                   p.prosrc, array_to_string(p.proconfig, ' ')
            from pg_proc p join pg_language l on l.oid = p.prolang
            where p.proowner = \(owner)
            union all
            select o.oid::regoperator::text, '', 'operator', '', '', null, null, null from pg_operator o where o.oprowner = \(owner)
            """)
        for row in rows {
            let routine = row[0] ?? "?"
            let refusal = routineProblem(routine: routine, language: row[1] ?? "", kind: row[2] ?? "", sharesNameWith: row[5])
            if let refusal { throw refuse(refusal) }
            // The code PostgreSQL stored, read by the same rules as the entry: a body written
            // with escapes the rules could not read is read here as PostgreSQL decoded it.
            if let body = row[6], !body.isEmpty, let problem = storedBodyProblem(body) {
                throw refuse("function \(routine), as PostgreSQL stored it: \(problem)")
            }
            // A function's own SET clause ends with the call, but SET seed reseeds random()
            // for the session, and the reseed stays.
            if let settings = row[7], settings.lowercased().split(separator: " ").contains(where: { $0.hasPrefix("seed=") }) {
                throw refuse("function \(routine) sets seed (SET seed = …), which fixes random() for the pooled connection's session, and so for its next caller")
            }
            if row[3] != "true" { try connection.simpleQuery("alter routine \(routine) security definer") }
            if row[4] == "true" { try connection.simpleQuery("revoke execute on routine \(routine) from public") }
        }
        // What the expressions on the feature's tables depend on: another's function (but the
        // store's change trigger function), or another's relation (but a foreign key's table;
        // a view is read as the feature below, which refuses what it may not reach).
        let foreign = try connection.simpleRows(
            """
            with mine as (select oid from pg_class where relowner = \(owner)),
            exprs as (
              select 'pg_attrdef'::regclass as classid, d.oid from pg_attrdef d where d.adrelid in (select oid from mine)
              union all select 'pg_constraint'::regclass, c.oid from pg_constraint c where c.conrelid in (select oid from mine) and c.contype <> 'f'
              union all select 'pg_policy'::regclass, p.oid from pg_policy p where p.polrelid in (select oid from mine)
              union all select 'pg_rewrite'::regclass, r.oid from pg_rewrite r where r.ev_class in (select oid from mine) and r.rulename <> '_RETURN'
              union all select 'pg_trigger'::regclass, t.oid from pg_trigger t where t.tgrelid in (select oid from mine) and not t.tgisinternal
              union all select 'pg_class'::regclass, i.oid from pg_class i where i.relowner = \(owner) and i.relkind in ('i', 'I')
              union all select 'pg_type'::regclass, t.oid from pg_type t where t.typowner = \(owner)
              union all select 'pg_constraint'::regclass, c.oid from pg_constraint c
                where c.contypid in (select oid from pg_type where typowner = \(owner)))
            select distinct coalesce(p.oid::regprocedure::text, c.oid::regclass::text)
            from pg_depend d join exprs e on e.classid = d.classid and e.oid = d.objid
            left join pg_proc p on d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid
            left join pg_class c on d.refclassid = 'pg_class'::regclass and c.oid = d.refobjid
            where (p.oid is not null and p.proowner <> \(owner) and p.pronamespace <> 'pg_catalog'::regnamespace and p.proname <> '_orion_notify_change'
                   and not exists (select 1 from pg_depend x where x.classid = 'pg_proc'::regclass and x.objid = p.oid and x.deptype = 'e'))
               or (c.oid is not null and c.relowner <> \(owner) and c.oid not in (select oid from mine)
                   and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace))
            """)
        if let first = foreign.first?.first ?? nil {
            throw refuse(
                "an expression on the feature's tables (a default, a CHECK, a policy, a rule or a trigger) uses \(first), which is not the feature's; it would run as whoever writes the table, the root store included")
        }
    }

    /// Why the code of a function body (`pg_proc.prosrc`, as PostgreSQL decoded it) is refused,
    /// or `nil`: the entry rules, read on the body inside a definition of the store's making.
    static func storedBodyProblem(_ body: String) -> String? {
        var tag = "$orion_stored$"
        var n = 0
        while body.contains(tag) {
            n += 1
            tag = "$orion_stored_\(n)$"
        }
        return codeProblem(in: "create function orion_stored() returns void language plpgsql as \(tag)\(body)\(tag)")
    }

    /// Why a feature may not own the routine, or `nil` (see ``secureRoutines``).
    static func routineProblem(routine: String, language: String, kind: String, sharesNameWith others: String?) -> String? {
        switch kind {
        case "operator":
            return "it creates the operator \(routine); operators are resolved for every feature's SQL, so a feature may not create them on PostgreSQL"
        case "a", "w":
            return "it creates the aggregate \(routine); a feature's routines on PostgreSQL are functions, trigger functions and procedures"
        default:
            break
        }
        guard language == "sql" || language == "plpgsql" else {
            return "function \(routine) is written in \(language); a feature's functions on PostgreSQL are SQL or PL/pgSQL, whose code the migrator reads"
        }
        if let others, !others.isEmpty {
            return "function \(routine) has the name of \(others), which is not the feature's: a call meant for one could run the other; give it a name of its own"
        }
        return nil
    }

    private static func ownedRelations(_ role: String, _ connection: PostgresConnection) throws -> [String: String] {
        let rows = try connection.simpleRows(
            """
            select c.relname, c.relkind from pg_class c join pg_roles r on r.oid = c.relowner
            where r.rolname = \(SQLText.quoteLiteral(role)) and c.relnamespace = current_schema()::regnamespace
              and c.relkind in ('r', 'p', 'v', 'm', 'f')
            """)
        var owned: [String: String] = [:]
        for row in rows {
            guard let name = row[0], let kind = row[1] else { continue }
            owned[name] = (kind == "v" || kind == "m") ? "view" : "table"
        }
        return owned
    }

    private static func apply(
        feature: String, role: String, index: Int, entry: String, fingerprint: String,
        connection: PostgresConnection, store: PostgresStore
    ) throws {
        let statements: [PostgresStatementText]
        do {
            statements = try PostgresSQL.statements(in: entry)
            for statement in statements {
                switch StatementKind(statement) {
                case .transactionControl:
                    throw FenceRefusal.transactionControl
                case .sessionControl(let reason):
                    throw StoreError(.fence, "migration \(feature)[\(index)]: \(reason); an entry runs as its feature's role and cannot change it")
                case .refused(let reason):
                    throw StoreError(.fence, "migration \(feature)[\(index)]: \(reason)")
                case .schemaChange
                where ["grant", "revoke", "reassign", "security"].contains(statement.words.first ?? "")
                    || statement.words.starts(with: ["alter", "default", "privileges"]):
                    throw StoreError(
                        .fence,
                        "migration \(feature)[\(index)]: privileges are the store's (a feature reaches only its own tables); GRANT, REVOKE and ALTER DEFAULT PRIVILEGES are refused in entries")
                case .schemaChange
                where ["create", "alter", "drop"].contains(statement.words.first ?? "")
                    && ["role", "user", "group", "system"].contains(statement.words.count > 1 ? statement.words[1] : ""):
                    throw StoreError(
                        .fence,
                        "migration \(feature)[\(index)]: roles and the server's settings are the store's and the administrator's; CREATE, ALTER and DROP ROLE (USER, GROUP) and ALTER SYSTEM are refused in entries")
                case .schemaChange, .other:
                    break
                }
            }
            if let problem = codeProblem(in: entry) {
                throw StoreError(.fence, "migration \(feature)[\(index)] is refused: \(problem)")
            }
        } catch let error as StoreError {
            throw error.code == .sql ? StoreError.migrationFailed(feature: feature, index: index, reason: error.message, entry: entry) : error.with(sql: entry)
        }
        let identifier = SQLText.quoteIdentifier(role)
        var words: [String] = []
        try connection.control("begin")
        connection.role = .unknown
        // What the entry's code leaves in the session (sequences it drew from) is the feature's.
        connection.leftBy = .feature(role)
        do {
            let before = try ownedRelations(role, connection)
            try schemaCreate("grant", role, connection)
            try connection.simpleQuery("set local role \(identifier)")
            let path = try connection.simpleQuery("select current_setting('search_path')") ?? ""
            try secureRoutines(feature: feature, index: index, role: role, path: path, connection)
            // One statement at a time, as written, so a refusal names what the failing one did;
            // a function it made runs as the feature before the next statement can call it.
            for statement in statements {
                words = statement.words
                try connection.singleStatement(statement.original)
                try secureRoutines(feature: feature, index: index, role: role, path: path, connection)
            }
            words = ["select"]
            let after = try ownedRelations(role, connection)
            let added = after.filter { before[$0.key] == nil }
            for (name, type) in after.sorted(by: { $0.key < $1.key }) {
                let relation = SQLText.quoteIdentifier(name)
                if type == "table" {
                    // Other features may point foreign keys at this table, as on SQLite.
                    if added[name] != nil { try connection.simpleQuery("grant references on table \(relation) to public") }
                } else {
                    // A view is checked when it is read, as its owner (or, with security_invoker,
                    // as its reader): read every one the feature owns now, as the feature, so a
                    // view over another feature's table fails here, a replaced one too.
                    try connection.simpleQuery("select * from \(relation) limit 0")
                }
            }
            // Every table of the feature announces its commits: new ones, and one an entry rebuilt
            // under an old name (a renamed table keeps its trigger).
            for (table, _) in try tablesWithoutChangeTrigger(ownedBy: role, connection) {
                try connection.simpleQuery(changeTrigger(on: table))
            }
            // Once more after the views were read (planning a view can run the feature's code).
            try secureRoutines(feature: feature, index: index, role: role, path: path, connection)
            try checkStoredExpressions(feature: feature, index: index, role: role, connection)
            try connection.simpleQuery("reset role")
            try schemaCreate("revoke", role, connection)
            var bookkeeping = ""
            for (name, type) in added {
                bookkeeping += """
                    insert into _orion_tables (name, type, feature) values (\(SQLText.quoteLiteral(name)), \(SQLText.quoteLiteral(type)), \(SQLText.quoteLiteral(feature)))
                    on conflict (name) do update set type = excluded.type, feature = excluded.feature;

                    """
            }
            for name in before.keys where after[name] == nil {
                bookkeeping += "delete from _orion_tables where name = \(SQLText.quoteLiteral(name));\n"
            }
            bookkeeping += "insert into _orion_migrations (feature, idx, sha256) values (\(SQLText.quoteLiteral(feature)), \(index), \(SQLText.quoteLiteral(fingerprint)))"
            try connection.simpleQuery(bookkeeping)
            try connection.control("commit")
        } catch let error as StoreError {
            _ = try? connection.control("rollback")
            connection.role = .unknown
            if error.sqlState == "42501" {
                throw store.fenceError(
                    error.with(sql: entry), feature: feature, migration: index, words: words,
                    connection: connection, canQuery: !connection.isBroken)
            }
            if error.code == .connection || error.code == .fence { throw error.with(sql: entry) }
            throw StoreError.migrationFailed(
                feature: feature, index: index, reason: error.message, entry: entry,
                sqlState: error.sqlState, detail: error.detail)
        }
        connection.role = .login
    }
}
