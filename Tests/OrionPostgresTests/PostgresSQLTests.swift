import Orion
import Testing

@testable import OrionPostgres

@Suite("PostgreSQL placeholders: ? becomes $n outside quotes and comments")
struct PostgresSQLTests {
    func one(_ sql: String) throws -> PostgresStatementText { try PostgresSQL.single(sql) }

    @Test("? outside quotes are numbered; quoted and commented ones are left alone")
    func rewrite() throws {
        let sql = """
            select ?, '?', 'it''s ?', E'\\'?', "a?b", $$ ? $$, $tag$ ? $x$ ? $tag$, a$b, -- ?
            /* ? /* nested ? */ still ? */ ?
            """
        let statement = try one(sql)
        #expect(statement.parameterCount == 2)
        #expect(
            statement.text == """
                select $1, '?', 'it''s ?', E'\\'?', "a?b", $$ ? $$, $tag$ ? $x$ ? $tag$, a$b, -- ?
                /* ? /* nested ? */ still ? */ $2
                """)
        #expect(statement.words.first == "select")
    }

    @Test("?? is a literal ? for jsonb's operators")
    func jsonbOperators() throws {
        let statement = try one("select * from docs where body ?? ? and tags ??| ? and tags ??& array['a']")
        #expect(statement.text == "select * from docs where body ? $1 and tags ?| $2 and tags ?& array['a']")
        #expect(statement.parameterCount == 2)
    }

    @Test("backslashes escape only in E'' strings")
    func backslashes() throws {
        // In a standard string a backslash is a character: the literal ends at the first quote.
        #expect(try one(#"select 'a\', ?"#).parameterCount == 1)
        // In E'' it escapes the quote, so the ? is inside the literal.
        #expect(try one(#"select E'a\', ?'"#).parameterCount == 0)
        // A word ending in e before a quote is not an E'' prefix.
        #expect(try one(#"select * from t where name='a\' and x = ?"#).parameterCount == 1)
    }

    @Test("$1-style parameters are refused with a pointer to ?")
    func numberedParameters() {
        #expect {
            _ = try one("select * from t where id = $1")
        } throws: { ($0 as? StoreError)?.code == .unsupportedParameter && "\($0)".contains("$1") }
        // …but $1 inside a function body is the body's business.
        #expect((try? one("select $body$ select $1 $body$")) != nil)
    }

    @Test("statements split at top-level semicolons; a trailing one is fine")
    func statements() throws {
        #expect(try PostgresSQL.statements(in: "select 1; select ';'; -- x;\n").count == 2)
        #expect(try one("select 1;  -- done").text.hasPrefix("select 1"))
        #expect { _ = try one("delete from a; delete from b") } throws: { ($0 as? StoreError)?.code == .multipleStatements }
        #expect { _ = try one("  -- nothing\n ; ") } throws: { ($0 as? StoreError)?.code == .sql }
        let originals = try PostgresSQL.statements(in: "create table a (x int); select ? ").map(\.original)
        #expect(originals == ["create table a (x int)", " select ? "])
    }

    @Test("unterminated quotes and comments are errors, not silent truncation")
    func unterminated() {
        for sql in ["select 'abc", "select \"abc", "select $$abc", "select 1 /* open"] {
            #expect { _ = try one(sql) } throws: { ($0 as? StoreError)?.message.contains("unterminated") == true }
        }
    }

    @Test("the first words classify the statement")
    func kinds() throws {
        func kind(_ sql: String) throws -> StatementKind { StatementKind(try one(sql).words) }
        for sql in ["BEGIN", "start transaction", "commit", "END", "rollback to savepoint a", "savepoint a", "release a", "prepare transaction 'x'"] {
            guard case .transactionControl = try kind(sql) else {
                Issue.record("\(sql) is transaction control")
                continue
            }
        }
        for sql in ["set role postgres", "SET search_path = x", "reset role", "discard all", "set local role x", "set local time zone 'x'", "deallocate all"] {
            guard case .sessionControl = try kind(sql) else {
                Issue.record("\(sql) is session control")
                continue
            }
        }
        guard case .other = try kind("set local lock_timeout = '1s'") else {
            Issue.record("SET LOCAL of another setting is allowed")
            return
        }
        guard case .schemaChange = try kind("/* hi */ CREATE index on t (x)") else {
            Issue.record("create index is DDL")
            return
        }
        #expect(StatementKind.verb(try one("with x as (select 1) select * from x").words) == "read")
        #expect(StatementKind.verb(try one("create unique index on t (x)").words) == "index")
    }

    @Test("a function in a language the migrator does not read is refused")
    func otherLanguages() {
        let problem = PostgresMigrator.routineProblem(routine: "f()", language: "plperl", kind: "f", sharesNameWith: nil)
        #expect(problem?.contains("written in plperl") == true)
        #expect(PostgresMigrator.routineProblem(routine: "f()", language: "plpgsql", kind: "p", sharesNameWith: nil) == nil)
    }

    @Test(
        "migration code is read as PostgreSQL's lexer reads it",
        arguments: [
            ("select '/*' /* c */ -- x\r reset /*/* nested */ */ role", "select ( ) reset role"),
            ("as 'a set_conf'  -- c\n 'ig('''')' ", "as ( a set_config ( ( ) ) )"),
            (#"E'\x72eset \162ole \u0072' e'\''"#, "( reset role r ) ( ( ) )"),
            (#"U&"\0073et_config" U&'!0072ole' uescape '!'"#, "set_config ( role )"),
            ("$f$ begin execute $$x$$; end $f$ a$b$ $1", "( begin execute ( x ) ; end ) a$b$ $1"),
            (#""Quoted ""Name""" 1e5 x"#, #"quoted "name" 1e5 x"#),
            ("'unterminated", "( unterminated )"),
        ])
    func codeView(sql: String, view: String) {
        #expect(PostgresCodeView.of(sql) == view)
    }
}
