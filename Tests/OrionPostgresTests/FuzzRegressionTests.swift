import Orion
import Testing

@testable import OrionPostgres

/// Inputs the fuzzers (`Fuzz/`, `scripts/fuzz`) found or lean on, with the behaviour they showed.
/// None needs a server.
@Suite("Fuzz regressions: PostgreSQL's SQL reader and statement kinds")
struct PostgresFuzzRegressionTests {
    func one(_ sql: String) throws -> PostgresStatementText { try PostgresSQL.single(sql) }
    func kind(_ sql: String) throws -> StatementKind { StatementKind(try one(sql)) }
    func isAllowed(_ sql: String) throws -> Bool {
        if case .other = try kind(sql) { return true }
        return false
    }

    // MARK: Ways around the refusals — FuzzClassifiers' quoting and comment invariants

    /// PostgreSQL reads `"role"` and `U&"\0072ole"` as the setting `role` (a setting's name is not
    /// case-sensitive), and `session_authorization` set to the login role's own name resets the
    /// role: each of these left a feature's role inside `tx { }`.
    @Test(
        "SET LOCAL of the role is refused however the setting is named",
        arguments: [
            #"set local "role" = 'postgres'"#,
            #"SET LOCAL "Role" TO postgres"#,
            #"set local "role" to none"#,
            #"set local U&"\0072ole" = 'postgres'"#,
            #"set local u&"!0072ole" uescape '!' = 'postgres'"#,
            "set local session_authorization = 'postgres'",
            #"set local "session_authorization" = 'postgres'"#,
            #"set local "search_path" = pg_temp"#,
            #"set local /* c */ "TimeZone" = 'UTC'"#,
        ])
    func quotedSettings(_ sql: String) throws {
        guard case .sessionControl = try kind(sql) else {
            Issue.record("\(sql) must be refused as session control, is \(try kind(sql))")
            return
        }
    }

    @Test("SET LOCAL of a setting the store does not own stays allowed, quoted or not")
    func otherSettings() throws {
        #expect(try isAllowed("set local work_mem = '64MB'"))
        #expect(try isAllowed(#"set local "work_mem" = '64MB'"#))
        #expect(try isAllowed(#"set local "lock_timeout" = 0"#))
    }

    /// A comment is white space to PostgreSQL, also between a function's name and its `(`; a
    /// `U&"…"` name is the name its escapes spell.
    @Test(
        "set_config and pg_notify are calls however they are written",
        arguments: [
            "select set_config/**/('role', 'postgres', true)",
            "select set_config /* a /* nested */ comment */ ('role', 'postgres', true)",
            "select set_config -- a comment\n('role', 'postgres', true)",
            #"select "set_config"/**/('role', 'postgres', true)"#,
            #"select U&"\0073et_config"('role', 'postgres', true)"#,
            #"select U&"!0073et_config" UESCAPE '!' ('role', 'postgres', true)"#,
            #"select u&"\+000073et_config" -- c"# + "\n(" + "'role', 'postgres', true)",
            "select pg_notify/**/('c', 'x')",
            #"select U&"pg\005Fnotify"('c', 'x')"#,
        ])
    func hiddenCalls(_ sql: String) throws {
        guard case .refused = try kind(sql) else {
            Issue.record("\(sql) must be refused, is \(try kind(sql))")
            return
        }
    }

    @Test("a name that only looks like set_config is not a call; the name itself is refused wherever it stands")
    func notCalls() throws {
        #expect(try one("select set_config_x('a')").callsSetConfig == false)
        // PostgreSQL calls a one-argument function in field notation too, `(x).setseed`: a
        // refused function's name counts wherever it stands, without a parenthesis after it.
        #expect(try one("select set_config from t -- ('role')").callsSetConfig == true)
        #expect(try one(#"select U&"\0073et_confi" ('role')"#).callsSetConfig == false)
        #expect(try one("select 'set_config' ('a')").callsSetConfig == false)
    }

    @Test("quoted names among the first three tokens are words, lowercased, quotes kept")
    func quotedWords() throws {
        #expect(try one(#"set local "Role" = x"#).words == ["set", "local", #""role""#])
        #expect(try one(#"set local U&"\0072ole" = x"#).words == ["set", "local", #"u&"\0072ole""#])
        #expect(try one(#"select "A""b", c, d"#).words == ["select", #""a""b""#, "c"])
        #expect(try one("select \"x\" into y from z").selectsInto)
    }

    // MARK: Quotes, dollar quotes and comments — FuzzPlaceholders

    @Test(
        "unterminated quotes, dollar quotes and comments are errors naming what is open",
        arguments: [
            ("select $a$ body $b$ ? $A$", "dollar-quoted string $a$"),
            ("select $é$ x $e$", "dollar-quoted string $é$"),
            ("select $$ ? $ $", "dollar-quoted string $$"),
            ("select 1 /* open /* nested */", "comment"),
            ("select /*/ ? */ /*", "comment"),
            (#"select E'\'"#, "string literal"),
            (#"select "a"" ?"#, "quoted identifier"),
        ])
    func unterminated(_ sql: String, _ what: String) throws {
        let error = try #require(throws: StoreError.self) { try PostgresSQL.statements(in: sql) }
        #expect(error.code == .sql)
        #expect(error.message == "the SQL has an unterminated \(what)")
    }

    @Test("nested comments close only at their own depth; /*/ opens one")
    func nestedComments() throws {
        #expect(try one("/* ? /* ? */ ? */ select ?").text == "/* ? /* ? */ ? */ select $1")
        #expect(try one("select /*/ ? */ ?").text == "select /*/ ? */ $1")
        #expect(try one("select ?/**/?").text == "select $1/**/$2")
    }

    @Test("runs of ? outside quotes: each ?? is one literal ?, a last single ? a parameter")
    func questionRuns() throws {
        let statement = try one("select ???, ????, '???', ?")
        #expect(statement.text == "select ?$1, ??, '???', $2")
        #expect(statement.parameterCount == 2)
    }

    /// A placeholder right after (or before) a name is spaced from it: PostgreSQL would read
    /// `limit$1` as one name, and `a$1$$` as a name where the store read a `$$` quote opening
    /// (which hid what followed from the store's checks).
    @Test("a ? beside a name or a $ is spaced from it in the text PostgreSQL gets")
    func placeholderAfterName() throws {
        let statement = try one("select * from t limit?")
        #expect(statement.text == "select * from t limit $1")
        #expect(statement.parameterCount == 1)
        #expect(try one("select a?$$ x $$").text == "select a $1 $$ x $$")
    }

    @Test("$n is refused outside quotes, also when it looks like a dollar tag")
    func numberedParameters() {
        for sql in ["select $1a$ x $1a$", "select $0", "select ?, $12"] {
            #expect { _ = try PostgresSQL.statements(in: sql) } throws: { ($0 as? StoreError)?.code == .unsupportedParameter }
        }
    }

    @Test("dollar tags may hold bytes from 0x80 and are case-sensitive")
    func dollarTags() throws {
        #expect(try one("select $é$ ? $é$, ?").text == "select $é$ ? $é$, $1")
        #expect(try one("select $a$ $A$ ? $a$").parameterCount == 0)
        #expect(try one("select a$$ ?").text == "select a$$ $1")
    }

    /// PostgreSQL's text cannot hold a NUL, and libpq sends the statement to its first NUL; the
    /// reader keeps the byte (as content: a lone NUL is a statement) and PostgreSQL refuses or
    /// truncates what follows.
    @Test("a NUL byte is kept as content")
    func nulBytes() throws {
        let statements = try PostgresSQL.statements(in: "select ?\0; \0")
        #expect(statements.map(\.text) == ["select $1\0", " \0"])
        #expect(try one("select '\0?'").parameterCount == 0)
    }

    @Test("text that was not UTF-8 reads as U+FFFD, a name character")
    func replacementCharacters() throws {
        let sql = String(decoding: Array("select '".utf8) + [0xFF] + Array("', ? \u{FFFD}x".utf8), as: UTF8.self)
        let statement = try one(sql)
        #expect(statement.parameterCount == 1)
        #expect(statement.words == ["select", "\u{FFFD}x"])
    }

    /// PostgreSQL 16 and later read \v as white space (15 rejects it): the reader counts it as
    /// white space, so that `set_config\v(` is still seen as a call.
    @Test("a vertical tab is white space")
    func verticalTab() throws {
        #expect(try PostgresSQL.statements(in: "\u{0B}").isEmpty)
        #expect(try PostgresSQL.statements(in: " \t\n\r\u{0C}\u{0B};").isEmpty)
        #expect(try one("select set_config\u{0B}('role', 'none', false)").callsSetConfig)
    }

    /// PostgreSQL ends a `--` comment at a carriage return as at a line feed.
    @Test("a line comment ends at \\r: what follows is read")
    func carriageReturnEndsComment() throws {
        let statement = try one("select 1 --\r, set_config('role', 'none', false)")
        #expect(statement.callsSetConfig)
        #expect(try PostgresSQL.statements(in: "select 1 --\r; commit").count == 2)
    }

    @Test("statements split only at top-level semicolons")
    func splitting() throws {
        let statements = try PostgresSQL.statements(in: "do $$ begin; end $$; select ';' -- ;\n; /* ; */")
        #expect(statements.map(\.original) == ["do $$ begin; end $$", " select ';' -- ;\n"])
    }
}
