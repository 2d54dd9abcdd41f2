import Foundation
import Orion

/// The fence over what a feature's migration stored, read from PostgreSQL's catalog after each
/// entry: the expressions that run with the privileges of whoever touches the feature's tables,
/// the root store's login included, and its foreign keys.
///
/// A default, a CHECK, a generated column, an index expression, a policy, a rule, a trigger's
/// WHEN, a domain's default, a partition key, a view, and the default arguments of the feature's
/// own functions (filled in before the function is entered) run as the caller, not as the
/// feature. So what they call and read is read
/// from the trees PostgreSQL stored (`pg_attrdef.adbin`, `pg_constraint.conbin`,
/// `pg_index.indexprs`, `pg_rewrite.ev_action`, `pg_policy.polqual`, …), which hold every call
/// by the function's identity however its name was written, and not from the entry's text or
/// from recorded dependencies (a name built at run time, `('users_id' || '_seq')::regclass`,
/// records none).
extension PostgresMigrator {
    /// Built-in functions an expression may call besides the immutable ones (which read nothing
    /// but their arguments): those that depend only on the time, the time zone, formatting
    /// settings or chance. Nothing here reads a table, a file, a setting or the session.
    static let allowedBuiltins: Set<String> = [
        // Time and dates, and their operators and casts (stable: they read the time zone).
        "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "age", "date_part",
        "date_trunc", "extract", "make_timestamptz", "overlaps", "timezone", "to_char", "to_date", "to_number",
        "to_timestamp", "date", "time", "timetz", "timestamp", "timestamptz", "timestamptz_pl_interval",
        "timestamptz_mi_interval", "interval_pl_timestamptz", "generate_series", "in_range",
        // Text and JSON that format values with their types' output functions.
        "concat", "concat_ws", "format", "quote_literal", "quote_nullable", "textanycat", "anytextcat", "array_to_string",
        "array_to_json", "row_to_json", "to_json", "to_jsonb", "json_build_array", "json_build_object", "jsonb_build_array",
        "jsonb_build_object", "json_populate_record", "json_populate_recordset", "json_to_record", "json_to_recordset",
        "jsonb_populate_record", "jsonb_populate_recordset", "jsonb_to_record", "jsonb_to_recordset", "jsonb_path_exists_tz",
        "jsonb_path_match_tz", "jsonb_path_query_tz", "jsonb_path_query_array_tz", "jsonb_path_query_first_tz", "json_agg",
        "json_object_agg", "jsonb_agg", "jsonb_object_agg", "json_agg_transfn", "json_object_agg_transfn", "jsonb_agg_transfn",
        "jsonb_agg_finalfn", "jsonb_object_agg_transfn", "jsonb_object_agg_finalfn", "convert_from", "convert_to", "length",
        "money", "numeric", "enum_first", "enum_last", "enum_range",
        // Full-text search (stable: the default configuration).
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "json_to_tsvector",
        "jsonb_to_tsvector", "ts_headline", "ts_match_tq", "ts_match_tt",
        // Chance, and the transaction's own identity and trigger depth.
        "random", "gen_random_uuid", "txid_current", "pg_current_xact_id", "pg_trigger_depth",
    ]

    /// Functions of installed extensions an expression may call besides their immutable ones.
    static let allowedExtensionFunctions: Set<String> = [
        "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "gen_random_bytes", "gen_salt", "unaccent",
        "similarity_op", "word_similarity_op", "word_similarity_commutator_op", "strict_word_similarity_op",
        "strict_word_similarity_commutator_op",
    ]

    /// Built-in trigger functions a feature's trigger may run: they change only the row the
    /// trigger fires for. (Extensions' trigger functions are refused: `check_foreign_key`,
    /// `autoinc` or `lo_manage` act on tables, sequences and large objects named in the
    /// trigger's arguments, as whoever writes the table.)
    static let allowedTriggerFunctions: Set<String> = [
        "suppress_redundant_updates_trigger", "tsvector_update_trigger", "tsvector_update_trigger_column",
    ]

    /// Whether a built-in function that is not immutable may be called from a feature's
    /// expression: on ``allowedBuiltins``, or a comparison between dates and timestamps.
    static func builtinAllowed(_ name: String) -> Bool {
        allowedBuiltins.contains(name)
            || name.range(of: #"^(date|timestamp|timestamptz)_(eq|ne|lt|le|gt|ge|cmp)_(date|timestamp|timestamptz)$"#, options: .regularExpression) != nil
    }

    /// What one stored tree calls and reads.
    struct Uses: Equatable {
        var functions: Set<Int> = []
        var operators: Set<Int> = []
        var relations: Set<Int> = []
    }

    /// Reads the function, operator and relation identities out of a stored node tree (the text
    /// form of `pg_node_tree`). `nextval` is left out where its argument is a constant
    /// `regclass`, whose sequence PostgreSQL records as a dependency (checked with the others).
    static func uses(in tree: String, nextval: Int) -> Uses {
        var uses = Uses()
        let constantNextval = "\\{FUNCEXPR :funcid \(nextval) [^{}]*:args \\(\\{CONST :consttype 2205 [^{}]*\\}\\)"
        let text = tree.replacingOccurrences(of: constantNextval, with: "{CONSTANT_NEXTVAL", options: .regularExpression)
        func numbers(after keys: String) -> [Int] {
            var found: [Int] = []
            let pattern = try! NSRegularExpression(pattern: ":(?:\(keys)) (\\d+)")
            let range = NSRange(text.startIndex..., in: text)
            for match in pattern.matches(in: text, range: range) {
                if let r = Range(match.range(at: 1), in: text), let n = Int(text[r]), n != 0 { found.append(n) }
            }
            return found
        }
        uses.functions.formUnion(numbers(after: "funcid|opfuncid|aggfnoid|winfnoid|hashfuncid|negfuncid|startInRangeFunc|endInRangeFunc"))
        uses.operators.formUnion(numbers(after: "opno|eqop|sortop"))
        uses.relations.formUnion(numbers(after: "relid"))
        // A row comparison lists its operators: :opnos (o 96 97).
        let lists = try! NSRegularExpression(pattern: ":opnos \\(o([ 0-9]*)\\)")
        for match in lists.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            if let r = Range(match.range(at: 1), in: text) {
                uses.operators.formUnion(text[r].split(separator: " ").compactMap { Int($0) })
            }
        }
        return uses
    }

    /// Refuses what the feature's stored expressions call or read that is not the feature's own
    /// or a safe built-in, and foreign keys to anything but another table's primary key. Runs
    /// in the entry's transaction, after its statements, as the feature's role.
    static func checkStoredExpressions(feature: String, index: Int, role: String, _ connection: PostgresConnection) throws {
        func refuse(_ problem: String) -> StoreError {
            StoreError(.fence, "migration \(feature)[\(index)] is refused: \(problem)")
        }
        let owner = "(select oid from pg_catalog.pg_roles where rolname = \(SQLText.quoteLiteral(role)))"
        let trees = try connection.simpleRows(
            """
            with mine as (select oid, relname from pg_catalog.pg_class where relowner = \(owner))
            select format('the default (or generated value) of %I.%I', c.relname, a.attname), d.adbin::text
              from pg_catalog.pg_attrdef d join mine c on c.oid = d.adrelid
              join pg_catalog.pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
            union all select format('the constraint %I on %I', k.conname, c.relname), k.conbin::text
              from pg_catalog.pg_constraint k join mine c on c.oid = k.conrelid where k.conbin is not null
            union all select format('the constraint %I on the type %I', k.conname, t.typname), k.conbin::text
              from pg_catalog.pg_constraint k join pg_catalog.pg_type t on t.oid = k.contypid
              where t.typowner = \(owner) and k.conbin is not null
            union all select format('the index %I', i.indexrelid::regclass::text), concat(i.indexprs::text, ' ', i.indpred::text)
              from pg_catalog.pg_index i join mine c on c.oid = i.indrelid
            union all select case when r.rulename = '_RETURN' then format('the view %I', c.relname)
                                  else format('the rule %I on %I', r.rulename, c.relname) end,
                             concat(r.ev_action::text, ' ', r.ev_qual::text)
              from pg_catalog.pg_rewrite r join mine c on c.oid = r.ev_class
            union all select format('the policy %I on %I', p.polname, c.relname), concat(p.polqual::text, ' ', p.polwithcheck::text)
              from pg_catalog.pg_policy p join mine c on c.oid = p.polrelid
            union all select format('the WHEN of trigger %I on %I', t.tgname, c.relname), t.tgqual::text
              from pg_catalog.pg_trigger t join mine c on c.oid = t.tgrelid where t.tgqual is not null
            union all select format('the statistics %I', s.stxname), s.stxexprs::text
              from pg_catalog.pg_statistic_ext s join mine c on c.oid = s.stxrelid where s.stxexprs is not null
            union all select format('the partition key of %I', c.relname), p.partexprs::text
              from pg_catalog.pg_partitioned_table p join mine c on c.oid = p.partrelid where p.partexprs is not null
            union all select format('the default of the type %I', t.typname), t.typdefaultbin::text
              from pg_catalog.pg_type t where t.typowner = \(owner) and t.typdefaultbin is not null
            union all select format('the default arguments of %s', p.oid::regprocedure::text), p.proargdefaults::text
              from pg_catalog.pg_proc p where p.proowner = \(owner) and p.proargdefaults is not null
            """)
        let nextval = Int(try connection.simpleQuery("select 'pg_catalog.nextval(pg_catalog.regclass)'::pg_catalog.regprocedure::oid") ?? "") ?? 1574
        var found: [(what: String, uses: Uses)] = []
        for row in trees {
            guard let what = row[0], let tree = row[1] else { continue }
            found.append((what, uses(in: tree, nextval: nextval)))
        }
        let functions = Set(found.flatMap(\.uses.functions))
        let operators = Set(found.flatMap(\.uses.operators))
        let relations = Set(found.flatMap(\.uses.relations))
        // The operators' functions, and what each function and relation is.
        var operatorFunctions: [Int: Int] = [:]
        if !operators.isEmpty {
            for row in try connection.simpleRows(
                "select oid, oprcode::oid from pg_catalog.pg_operator where oid = any('{\(operators.map(String.init).joined(separator: ","))}'::oid[])")
            {
                if let op = row[0].flatMap({ Int($0) }), let code = row[1].flatMap({ Int($0) }) { operatorFunctions[op] = code }
            }
        }
        let allFunctions = functions.union(operatorFunctions.values.filter { $0 != 0 })
        var refusedFunctions: [Int: String] = [:]
        if !allFunctions.isEmpty {
            for row in try connection.simpleRows(
                """
                select p.oid, p.oid::regprocedure::text, p.proname::text, p.provolatile::text,
                       (p.proowner = \(owner))::text, (p.pronamespace = 'pg_catalog'::regnamespace)::text,
                       exists (select 1 from pg_catalog.pg_depend x where x.classid = 'pg_catalog.pg_proc'::regclass and x.objid = p.oid and x.deptype = 'e')::text
                from pg_catalog.pg_proc p where p.oid = any('{\(allFunctions.map(String.init).joined(separator: ","))}'::oid[])
                """)
            {
                guard let oid = row[0].flatMap({ Int($0) }), let signature = row[1], let name = row[2] else { continue }
                let immutable = row[3] == "i"
                let allowed: Bool
                if row[4] == "true" {
                    allowed = true
                } else if row[5] == "true" {
                    allowed = immutable || builtinAllowed(name)
                } else if row[6] == "true" {
                    allowed = immutable || allowedExtensionFunctions.contains(name)
                } else {
                    allowed = false
                }
                if !allowed { refusedFunctions[oid] = signature }
            }
        }
        for (what, uses) in found {
            let called = uses.functions.union(uses.operators.compactMap { operatorFunctions[$0] })
            if let oid = called.sorted().first(where: { refusedFunctions[$0] != nil }), let signature = refusedFunctions[oid] {
                throw refuse(
                    "\(what) calls \(signature), which an expression of a feature may not call: it runs with the privileges of whoever writes or reads the feature's tables, the root store's login included. Expressions may call the feature's own functions, immutable built-ins, and the built-ins that read only the time, formatting settings or chance (now(), random(), to_char(), …)")
            }
        }
        if !relations.isEmpty {
            let foreign = try connection.simpleRows(
                """
                select c.oid, c.oid::regclass::text from pg_catalog.pg_class c
                where c.oid = any('{\(relations.map(String.init).joined(separator: ","))}'::oid[]) and c.relowner <> \(owner)
                """)
            let names = Dictionary(foreign.compactMap { row in row[0].flatMap { Int($0) }.map { ($0, row[1] ?? "?") } }) { a, _ in a }
            for (what, uses) in found {
                if let oid = uses.relations.sorted().first(where: { names[$0] != nil }), let name = names[oid] {
                    throw refuse(
                        "\(what) reads \(name), which is not the feature's: a feature's views, rules and policies read only its own tables (a catalog view too: what it shows depends on who reads it, the root store's login included)")
                }
            }
        }
        // Triggers run their function as whoever writes the table: the feature's own (which runs
        // as the feature), the store's change trigger, or a built-in that changes only its row.
        let triggers = try connection.simpleRows(
            """
            select format('the trigger %I on %I', t.tgname, c.relname), p.oid::regprocedure::text, p.proname::text,
                   (p.pronamespace = 'pg_catalog'::regnamespace)::text
            from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
            join pg_catalog.pg_proc p on p.oid = t.tgfoid
            where c.relowner = \(owner) and not t.tgisinternal and p.proowner <> \(owner)
              and not (p.proname = '_orion_notify_change' and p.pronamespace = current_schema()::regnamespace)
            """)
        for row in triggers where !(row[3] == "true" && allowedTriggerFunctions.contains(row[2] ?? "")) {
            throw refuse(
                "\(row[0] ?? "a trigger") runs \(row[1] ?? "a function"), which is not the feature's: a trigger runs as whoever writes the table, the root store's login included; write the trigger function in the feature's migration")
        }
        // A sequence named as a constant (`nextval('users_id_seq')`) is recorded as a dependency:
        // in any of the feature's expressions, views included, it must be the feature's.
        let sequences = try connection.simpleRows(
            """
            with mine as (select oid from pg_catalog.pg_class where relowner = \(owner)),
            holders as (
              select 'pg_catalog.pg_attrdef'::regclass as classid, d.oid from pg_catalog.pg_attrdef d where d.adrelid in (select oid from mine)
              union all select 'pg_catalog.pg_constraint'::regclass, k.oid from pg_catalog.pg_constraint k
                where k.conrelid in (select oid from mine) or k.contypid in (select oid from pg_catalog.pg_type where typowner = \(owner))
              union all select 'pg_catalog.pg_rewrite'::regclass, r.oid from pg_catalog.pg_rewrite r where r.ev_class in (select oid from mine)
              union all select 'pg_catalog.pg_policy'::regclass, p.oid from pg_catalog.pg_policy p where p.polrelid in (select oid from mine)
              union all select 'pg_catalog.pg_trigger'::regclass, t.oid from pg_catalog.pg_trigger t where t.tgrelid in (select oid from mine)
              union all select 'pg_catalog.pg_class'::regclass, oid from mine
              union all select 'pg_catalog.pg_type'::regclass, t.oid from pg_catalog.pg_type t where t.typowner = \(owner)
              union all select 'pg_catalog.pg_proc'::regclass, p.oid from pg_catalog.pg_proc p where p.proowner = \(owner))
            select distinct s.oid::regclass::text
            from pg_catalog.pg_depend d join holders h on h.classid = d.classid and h.oid = d.objid
            join pg_catalog.pg_class s on d.refclassid = 'pg_catalog.pg_class'::regclass and s.oid = d.refobjid
            where s.relkind = 'S' and s.relowner <> \(owner)
            """)
        if let sequence = sequences.first?.first ?? nil {
            throw refuse(
                "an expression, view or function default of the feature uses the sequence \(sequence), which is not the feature's; it would draw from it as whoever writes or reads the feature's tables")
        }
        // Range types and casts of the feature's types reach other features' SQL: a range type's
        // constructor functions take the type's name in the schema (jsonb_build_object(text,
        // text) would win over pg_catalog's for text arguments) and belong to the bootstrap
        // superuser, not the feature; a cast from the feature's type runs the feature's function
        // on whoever's values meet it, implicitly.
        let reaching = try connection.simpleRows(
            """
            select format('the range type %s', t.oid::regtype::text) from pg_catalog.pg_type t
              where t.typowner = \(owner) and t.typtype in ('r', 'm')
            union all
            select format('the cast from %s to %s', c.castsource::regtype::text, c.casttarget::regtype::text)
              from pg_catalog.pg_cast c join pg_catalog.pg_type s on s.oid = c.castsource join pg_catalog.pg_type d on d.oid = c.casttarget
              where s.typowner = \(owner) or d.typowner = \(owner)
            """)
        if let what = reaching.first?.first ?? nil {
            throw refuse(
                "\(what) is refused: a range type's constructor functions take its name for every feature's SQL (and are not the feature's), and a cast runs the feature's code on other callers' values; use a composite type or a domain, and call conversion functions by name")
        }
        // Anything of the feature's built on another feature's type (a column, its array, a
        // domain over it, a function's argument or result, a typed table) would bind that
        // feature's schema: it could no longer change its type, and its DROP … CASCADE would
        // drop the feature's column with its data. PostgreSQL records each such use.
        let borrowed = try connection.simpleRows(
            """
            with mine as (select oid from pg_catalog.pg_class where relowner = \(owner)),
            holders as (
              select 'pg_catalog.pg_attrdef'::regclass as classid, d.oid from pg_catalog.pg_attrdef d where d.adrelid in (select oid from mine)
              union all select 'pg_catalog.pg_constraint'::regclass, k.oid from pg_catalog.pg_constraint k
                where k.conrelid in (select oid from mine) or k.contypid in (select oid from pg_catalog.pg_type where typowner = \(owner))
              union all select 'pg_catalog.pg_rewrite'::regclass, r.oid from pg_catalog.pg_rewrite r where r.ev_class in (select oid from mine)
              union all select 'pg_catalog.pg_policy'::regclass, p.oid from pg_catalog.pg_policy p where p.polrelid in (select oid from mine)
              union all select 'pg_catalog.pg_trigger'::regclass, t.oid from pg_catalog.pg_trigger t where t.tgrelid in (select oid from mine)
              union all select 'pg_catalog.pg_statistic_ext'::regclass, x.oid from pg_catalog.pg_statistic_ext x where x.stxrelid in (select oid from mine)
              union all select 'pg_catalog.pg_class'::regclass, oid from mine
              union all select 'pg_catalog.pg_type'::regclass, t.oid from pg_catalog.pg_type t where t.typowner = \(owner)
              union all select 'pg_catalog.pg_proc'::regclass, p.oid from pg_catalog.pg_proc p where p.proowner = \(owner))
            select distinct t.oid::regtype::text
            from pg_catalog.pg_depend d join holders h on h.classid = d.classid and h.oid = d.objid
            join pg_catalog.pg_type t on d.refclassid = 'pg_catalog.pg_type'::regclass and t.oid = d.refobjid
            join pg_catalog.pg_roles r on r.oid = t.typowner
            where r.rolname like 'orion\\_%' and t.typowner <> \(owner)
            """)
        if let type = borrowed.first?.first ?? nil {
            throw refuse(
                "it uses the type \(type), which another feature owns (in a column, a domain, a function's signature, a typed table, or an expression: a default, a check, a view, a policy, a trigger's WHEN); that feature could no longer change it, and dropping it with CASCADE would drop the feature's objects. Give the feature a type of its own")
        }
        // Foreign keys to another's table: its primary key only. Whether a key exists is what a
        // reference means; a reference to other columns would tell the feature which values
        // exist there, and ON UPDATE CASCADE would copy them into its table.
        let keys = try connection.simpleRows(
            """
            select k.conname::text, c.relname::text, k.confrelid::regclass::text
            from pg_catalog.pg_constraint k join pg_catalog.pg_class c on c.oid = k.conrelid
            join pg_catalog.pg_class r on r.oid = k.confrelid
            where c.relowner = \(owner) and k.contype = 'f' and r.relowner <> \(owner)
              and not exists (
                select 1 from pg_catalog.pg_index i
                where i.indrelid = k.confrelid and i.indisprimary
                  and (select array_agg(x order by x) from unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) x)
                      = (select array_agg(y order by y) from unnest(k.confkey) y))
            """)
        if let key = keys.first {
            throw refuse(
                "the foreign key \(key[0] ?? "?") of \(key[1] ?? "?") references columns of \(key[2] ?? "?") other than its primary key; a feature may reference another's table by its primary key only (other columns would tell the feature which values exist there)")
        }
    }
}
