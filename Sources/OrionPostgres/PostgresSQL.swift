import Orion

/// One statement of feature SQL as PostgreSQL will receive it.
struct PostgresStatementText: Sendable {
    /// The statement with each `?` turned into `$1 … $n` and each `??` into a literal `?`.
    var text: String
    /// The number of `?` parameters.
    var parameterCount: Int
    /// The first three words outside quotes and comments, lowercased (`["create", "unique", "index"]`).
    /// A quoted name is a word as written, quotes kept (`"role"`, `u&"\0072ole"`).
    var words: [String]
    /// The statement as written, placeholders untouched (migration entries run as written).
    var original: String
    /// Whether it calls `set_config(…)` (by a plain or a quoted name), which can change the
    /// connection's role and settings.
    var callsSetConfig = false
    /// Whether it is a `SELECT … INTO`, which creates a table.
    var selectsInto = false
    /// Whether it calls `pg_notify(…)`.
    var callsNotify = false
    /// Whether it calls a session-level advisory lock function (`pg_advisory_lock(…)` and its
    /// kin), whose lock outlives the call on the pooled connection.
    var callsSessionLock = false
    /// Whether it calls `setseed(…)`, which fixes `random()` for the session: for the pooled
    /// connection's next caller.
    var callsSetSeed = false
    /// Whether it has a `UESCAPE` clause: a `U&"…"` name or `U&'…'` string with an escape
    /// character of its own, which PostgreSQL takes from any string constant (`UESCAPE $$!$$`).
    var usesUEscape = false

    /// Whether it calls a function that runs SQL given as text (`query_to_xml('select …')`,
    /// `ts_stat('select …')`), which the store never reads.
    var callsSQLText = false
    /// Whether it calls a function that changes the database although a read-only transaction
    /// lets it (sequences, large objects): refused in `read { }` bodies.
    var callsWritingFunction = false

    /// Whether it names `pg_settings`, whose rows are the session's settings (an `UPDATE` of
    /// it is `set_config`).
    var namesSettings = false
    /// Whether it names a TEMP schema (`pg_temp`, `pg_temp_3`), whose objects live on one
    /// pooled connection.
    var namesTempSchema = false

    /// Where, in ``original``, the statement's own `INSERT` starts (outside parentheses: not a
    /// data-modifying `WITH` part's), for an `INSERT` or a `WITH … INSERT`.
    var insertAt: Int?
    /// Where, in ``text``, the word `RETURNING` of the statement's own clause ends.
    var returningEnd: Int?
    /// Whether the statement has its own `ON CONFLICT` clause (an upsert).
    var upserts = false

    /// Functions that run a query given as text, or read tables named in text.
    static let sqlTextFunctions: Set<String> = [
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "ts_stat",
        "ts_rewrite", "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
        "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
        // Extensions' (tablefunc, xml2, dblink).
        "crosstab", "crosstab2", "crosstab3", "crosstab4", "connectby", "xpath_table", "dblink", "dblink_exec",
        "dblink_open", "dblink_fetch", "dblink_send_query", "dblink_connect", "dblink_connect_u",
    ]

    /// Functions a read-only transaction runs although they change the database or the session:
    /// sequences (a temporary one's too) and large objects.
    static let writingFunctions: Set<String> = [
        "nextval", "setval", "lo_create", "lo_creat", "lo_import", "lo_export", "lo_from_bytea", "lo_put", "lo_unlink",
        "lo_truncate", "lo_truncate64", "lowrite", "lo_open",
    ]

    /// The advisory lock functions whose locks (or unlocks) belong to the session, not the
    /// transaction.
    static let sessionLockFunctions: Set<String> = [
        "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
        "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all",
    ]
}

/// Reads SQL the way PostgreSQL's lexer does, as far as the store needs: where statements end,
/// where `?` placeholders are, and what each statement starts with.
///
/// Quoted text is skipped whole: string literals (`'…'` with `''`, and `E'…'` with backslash
/// escapes), quoted identifiers (`"…"`), dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`), and
/// comments (`-- …` and nested `/* … */`). The store sets `standard_conforming_strings = on`
/// on every connection, so a backslash is an escape only in `E'…'`.
///
/// jsonb's operators `?`, `?|` and `?&` are written `??`, `??|` and `??&`: a doubled `?` is a
/// literal question mark, never a parameter (`where tags ?? ?` asks whether `tags` has the key
/// bound to the one parameter). The function forms `jsonb_exists(…)`, `jsonb_exists_any(…)` and
/// `jsonb_exists_all(…)` need no escaping.
enum PostgresSQL {
    /// Splits `sql` into its statements (empty ones dropped), rewriting placeholders.
    ///
    /// - Throws: `StoreError` for `$1`-style parameters (write `?`) and for unterminated
    ///   quotes or comments.
    static func statements(in sql: String) throws -> [PostgresStatementText] {
        let bytes = Array(sql.utf8)
        var statements: [PostgresStatementText] = []
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var parameters = 0
        var words: [String] = []
        /// Where the last word in `words` starts (a `U` that a `&"…"` turns into a `U&"…"` name).
        var lastWordAt = -1
        var hasContent = false
        var depth = 0
        var previousWord = ""
        var callsSetConfig = false
        var callsNotify = false
        var callsSessionLock = false
        var callsSetSeed = false
        var usesUEscape = false
        var callsSQLText = false
        var callsWritingFunction = false
        var namesSettings = false
        var namesTempSchema = false
        var sawTopLevelInto = false
        var intoTemp = false
        var afterDollarQuote = -1
        var insertAt: Int?
        var returningEnd: Int?
        var upserts = false
        var i = 0
        var start = 0
        let n = bytes.count

        func finishStatement() {
            if hasContent {
                let reads = ["select", "with", "values", "table"].contains(words.first ?? "")
                statements.append(
                    PostgresStatementText(
                        text: String(decoding: out, as: UTF8.self), parameterCount: parameters, words: words,
                        original: String(decoding: bytes[start..<i], as: UTF8.self),
                        callsSetConfig: callsSetConfig, selectsInto: (reads && sawTopLevelInto) || intoTemp, callsNotify: callsNotify,
                        callsSessionLock: callsSessionLock, callsSetSeed: callsSetSeed, usesUEscape: usesUEscape, callsSQLText: callsSQLText, callsWritingFunction: callsWritingFunction,
                        namesSettings: namesSettings, namesTempSchema: namesTempSchema, insertAt: insertAt,
                        returningEnd: returningEnd, upserts: upserts))
            }
            start = i + 1
            out.removeAll(keepingCapacity: true)
            parameters = 0
            words = []
            lastWordAt = -1
            hasContent = false
            depth = 0
            previousWord = ""
            callsSetConfig = false
            callsNotify = false
            callsSessionLock = false
            callsSetSeed = false
            usesUEscape = false
            callsSQLText = false
            callsWritingFunction = false
            namesSettings = false
            namesTempSchema = false
            sawTopLevelInto = false
            intoTemp = false
            insertAt = nil
            returningEnd = nil
            upserts = false
        }
        /// Notes every name (lowercased), plain or quoted, as it appears: a function is called
        /// by its name followed by `(`, but also in field notation, `(0.5).setseed` or
        /// `(x)."ts_stat"`, so a name the store refuses is refused wherever it stands (a column
        /// of that name too).
        func note(name: String) {
            if name == "pg_settings" || name == "pg_prepared_statements" || name == "pg_cursors" { namesSettings = true }
            if name.hasPrefix("pg_temp") { namesTempSchema = true }
            if name == "set_config" { callsSetConfig = true }
            if name == "pg_notify" { callsNotify = true }
            if name == "setseed" { callsSetSeed = true }
            if PostgresStatementText.sessionLockFunctions.contains(name) { callsSessionLock = true }
            if PostgresStatementText.sqlTextFunctions.contains(name) { callsSQLText = true }
            if PostgresStatementText.writingFunctions.contains(name) { callsWritingFunction = true }
        }
        /// Whether the next word after `index`, past white space and comments, is `word` (lowercase).
        func wordFollows(_ word: String, after index: Int) -> Bool {
            let k = skipSpaceAndComments(bytes, from: index)
            let expected = Array(word.utf8)
            guard k + expected.count <= n else { return false }
            for (offset, byte) in expected.enumerated() where bytes[k + offset] | 0x20 != byte { return false }
            return k + expected.count == n || !isIdentifierByte(bytes[k + expected.count])
        }
        func unterminated(_ what: String) -> StoreError {
            StoreError(.sql, "the SQL has an unterminated \(what)", sql: sql)
        }

        while i < n {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // E'…' (or e'…') allows backslash escapes; the E is already copied as a word.
                let escapes =
                    c == UInt8(ascii: "'") && i > 0 && (bytes[i - 1] | 0x20) == UInt8(ascii: "e")
                    && (i < 2 || !isIdentifierByte(bytes[i - 2]))
                guard var j = closingQuote(bytes, from: i, escapes: escapes) else {
                    throw unterminated(c == UInt8(ascii: "'") ? "string literal" : "quoted identifier")
                }
                // A string continued on the next line (`E''⏎'\' …'`) keeps its first part's mode,
                // as PostgreSQL reads it. Read on after white space and comments too: where
                // PostgreSQL would not continue, two strings in a row are its syntax error.
                while c == UInt8(ascii: "'") {
                    let k = skipSpaceAndComments(bytes, from: j + 1)
                    guard k > j + 1, k < n, bytes[k] == UInt8(ascii: "'") else { break }
                    guard let end = closingQuote(bytes, from: k, escapes: escapes) else { throw unterminated("string literal") }
                    j = end
                }
                if c == UInt8(ascii: "\"") {
                    // A quoted name is a word (`SET LOCAL "role"` sets role), as written. A `U&"…"`
                    // name spells itself with escapes; its U was read as a word just before.
                    let unicode =
                        i >= 2 && bytes[i - 1] == UInt8(ascii: "&") && (bytes[i - 2] | 0x20) == UInt8(ascii: "u")
                        && (i < 3 || !isIdentifierByte(bytes[i - 3]))
                    if unicode && lastWordAt == i - 2 { words.removeLast() }
                    if words.count < 3 {
                        let token = bytes[(unicode ? i - 2 : i)...j]
                        words.append(String(decoding: token.map { $0 | (isUpperASCII($0) ? 0x20 : 0) }, as: UTF8.self))
                        lastWordAt = token.startIndex
                    }
                    var name = Array(bytes[(i + 1)..<j])
                    if unicode {
                        let (escape, _) = unicodeEscapeClause(bytes, after: j + 1)
                        name = unicodeEscaped(name, escape: escape) ?? []
                    }
                    note(name: String(decoding: name, as: UTF8.self).lowercased())
                }
                out.append(contentsOf: bytes[i...j])
                hasContent = true
                i = j + 1
            case UInt8(ascii: "-") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "-"):
                let j = lineCommentEnd(bytes, from: i)
                out.append(contentsOf: bytes[i..<j])
                i = j
            case UInt8(ascii: "/") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "*"):
                guard let j = blockCommentEnd(bytes, from: i) else { throw unterminated("comment") }
                out.append(contentsOf: bytes[i..<j])
                i = j
            case UInt8(ascii: "$") where i == 0 || !isIdentifierByte(bytes[i - 1]):
                if i + 1 < n, isDigit(bytes[i + 1]) {
                    var j = i + 1
                    while j < n && isDigit(bytes[j]) { j += 1 }
                    throw StoreError(
                        .unsupportedParameter,
                        "parameter \(String(decoding: bytes[i..<j], as: UTF8.self)) is not supported: write a positional '?' and pass values in order (the store numbers them for PostgreSQL)",
                        sql: sql)
                }
                // A dollar-quote opener: $$ or $tag$ with tag an identifier.
                var j = i + 1
                if j < n, isIdentifierStart(bytes[j]) {
                    j += 1
                    while j < n && isIdentifierByte(bytes[j]) && bytes[j] != UInt8(ascii: "$") { j += 1 }
                }
                guard j < n, bytes[j] == UInt8(ascii: "$") else {
                    out.append(c)
                    i += 1
                    continue
                }
                let tag = bytes[i...j]
                var k = j + 1
                var end: Int?
                while k + tag.count <= n {
                    if bytes[k] == UInt8(ascii: "$") && bytes[k..<(k + tag.count)].elementsEqual(tag) {
                        end = k + tag.count
                        break
                    }
                    k += 1
                }
                guard let end else { throw unterminated("dollar-quoted string \(String(decoding: tag, as: UTF8.self))") }
                out.append(contentsOf: bytes[i..<end])
                hasContent = true
                i = end
                // A word may start right after the closing `$` (`$$x$$into`), as PostgreSQL reads it.
                afterDollarQuote = end
            case UInt8(ascii: "?"):
                hasContent = true
                if i + 1 < n && bytes[i + 1] == UInt8(ascii: "?") {
                    out.append(c)
                    i += 2
                } else {
                    parameters += 1
                    // `$n` must not join what is around it: after a name PostgreSQL would read
                    // `a$1` as one name, and `$1$$` would not open the dollar quote this lexer
                    // saw open after the `?`. Spaced, PostgreSQL reads the tokens read here.
                    let joinsBefore = i > 0 && isIdentifierByte(bytes[i - 1])
                    let joinsAfter = i + 1 < n && isIdentifierByte(bytes[i + 1])
                    if joinsBefore { out.append(UInt8(ascii: " ")) }
                    out.append(UInt8(ascii: "$"))
                    out.append(contentsOf: String(parameters).utf8)
                    if joinsAfter { out.append(UInt8(ascii: " ")) }
                    i += 1
                }
            case UInt8(ascii: ";"):
                finishStatement()
                i += 1
            case UInt8(ascii: "("), UInt8(ascii: ")"):
                depth += c == UInt8(ascii: "(") ? 1 : -1
                hasContent = true
                out.append(c)
                i += 1
            default:
                if isIdentifierStart(c) && (i == 0 || !isIdentifierByte(bytes[i - 1]) || i == afterDollarQuote) {
                    var j = i + 1
                    while j < n && isIdentifierByte(bytes[j]) { j += 1 }
                    let word = String(decoding: bytes[i..<j].map { $0 | (isUpperASCII($0) ? 0x20 : 0) }, as: UTF8.self)
                    if words.count < 3 {
                        words.append(word)
                        lastWordAt = i
                    }
                    note(name: word)
                    if word == "uescape" { usesUEscape = true }
                    if word == "into", depth == 0, previousWord != "insert", previousWord != "merge" { sawTopLevelInto = true }
                    // INTO TEMP makes a TEMP table at any depth and after any word
                    // (`(select 1 into temp t)`, `select 1 as insert into temp t`).
                    if word == "temp" || word == "temporary", ["into", "local", "global"].contains(previousWord) { intoTemp = true }
                    if depth == 0, insertAt == nil, word == "insert", ["insert", "with"].contains(words.first), wordFollows("into", after: j) {
                        insertAt = i - start
                    }
                    if depth == 0, insertAt != nil, word == "conflict", previousWord == "on" { upserts = true }
                    let returning = depth == 0 && insertAt != nil && word == "returning"
                    previousWord = word
                    out.append(contentsOf: bytes[i..<j])
                    if returning { returningEnd = out.count }
                    hasContent = true
                    i = j
                } else {
                    if !isSpace(c) { hasContent = true }
                    out.append(c)
                    i += 1
                }
            }
        }
        finishStatement()
        return statements
    }

    /// The one statement of a `query`, `one` or `exec` call.
    static func single(_ sql: String) throws -> PostgresStatementText {
        let found = try statements(in: sql)
        guard found.count == 1 else {
            throw found.isEmpty ? StoreError.noStatement(sql: sql) : StoreError.multipleStatements(sql: sql)
        }
        return found[0]
    }

    /// The table an `INSERT` writes, as a quoted name for `to_regclass` (`"app"."todos"`): the
    /// name after `INSERT INTO` at `offset` in `original`, folded as PostgreSQL folds it (a
    /// plain name lowercased, a quoted one as written, a `U&"…"` one decoded). `nil` when it
    /// cannot be read.
    static func insertTarget(in original: String, at offset: Int) -> String? {
        let bytes = Array(original.utf8)
        let n = bytes.count
        guard offset + 6 <= n else { return nil }
        var k = skipSpaceAndComments(bytes, from: offset + 6)
        guard k + 4 <= n, bytes[k..<(k + 4)].map({ $0 | 0x20 }) == Array("into".utf8) else { return nil }
        k += 4
        var parts: [String] = []
        while parts.count < 3 {
            k = skipSpaceAndComments(bytes, from: k)
            guard k < n else { break }
            if bytes[k] == UInt8(ascii: "\"") {
                guard let end = closingQuote(bytes, from: k, escapes: false) else { return nil }
                parts.append(String(decoding: bytes[(k + 1)..<end], as: UTF8.self).replacing("\"\"", with: "\""))
                k = end + 1
            } else if k + 2 < n, bytes[k] | 0x20 == UInt8(ascii: "u"), bytes[k + 1] == UInt8(ascii: "&"), bytes[k + 2] == UInt8(ascii: "\"") {
                guard let end = closingQuote(bytes, from: k + 2, escapes: false) else { return nil }
                let (escape, after) = unicodeEscapeClause(bytes, after: end + 1)
                guard let name = unicodeEscaped(Array(bytes[(k + 3)..<end]), escape: escape) else { return nil }
                parts.append(String(decoding: name, as: UTF8.self))
                k = after
            } else if isIdentifierStart(bytes[k]) {
                var j = k + 1
                while j < n && isIdentifierByte(bytes[j]) { j += 1 }
                parts.append(String(decoding: bytes[k..<j].map { isUpperASCII($0) ? $0 | 0x20 : $0 }, as: UTF8.self))
                k = j
            } else {
                return nil
            }
            k = skipSpaceAndComments(bytes, from: k)
            guard k < n, bytes[k] == UInt8(ascii: ".") else { break }
            k += 1
        }
        guard !parts.isEmpty else { return nil }
        return parts.map(SQLText.quoteIdentifier).joined(separator: ".")
    }

    /// Where the quote opened at `start` closes (a doubled quote is part of the text), or `nil`.
    static func closingQuote(_ bytes: [UInt8], from start: Int, escapes: Bool) -> Int? {
        let quote = bytes[start]
        var j = start + 1
        while j < bytes.count {
            if escapes && bytes[j] == UInt8(ascii: "\\") {
                j += 2
                continue
            }
            if bytes[j] == quote {
                if j + 1 < bytes.count && bytes[j + 1] == quote {
                    j += 2
                    continue
                }
                return j
            }
            j += 1
        }
        return nil
    }

    /// The first byte from `start` that is neither white space nor in a comment (`-- …`, nested
    /// `/* … */`); the end for an unterminated comment.
    static func skipSpaceAndComments(_ bytes: [UInt8], from start: Int) -> Int {
        let n = bytes.count
        var k = start
        while k < n {
            if isSpace(bytes[k]) {
                k += 1
            } else if bytes[k] == UInt8(ascii: "-") && k + 1 < n && bytes[k + 1] == UInt8(ascii: "-") {
                k = lineCommentEnd(bytes, from: k)
            } else if bytes[k] == UInt8(ascii: "/") && k + 1 < n && bytes[k + 1] == UInt8(ascii: "*") {
                guard let end = blockCommentEnd(bytes, from: k) else { return n }
                k = end
            } else {
                break
            }
        }
        return k
    }

    /// Where the `--` comment at `start` ends: at a line feed or, as PostgreSQL reads it, a
    /// carriage return (which stays outside the comment), or the end.
    static func lineCommentEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var k = start
        while k < bytes.count && bytes[k] != UInt8(ascii: "\n") && bytes[k] != UInt8(ascii: "\r") { k += 1 }
        return k
    }

    /// Just past the `*/` that closes the `/*` at `start`, comments nesting as in PostgreSQL;
    /// `nil` when it is never closed.
    static func blockCommentEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        let n = bytes.count
        var depth = 0
        var k = start
        repeat {
            if k + 1 < n && bytes[k] == UInt8(ascii: "/") && bytes[k + 1] == UInt8(ascii: "*") {
                depth += 1
                k += 2
            } else if k + 1 < n && bytes[k] == UInt8(ascii: "*") && bytes[k + 1] == UInt8(ascii: "/") {
                depth -= 1
                k += 2
            } else if k < n {
                k += 1
            } else {
                return nil
            }
        } while depth > 0
        return k
    }

    /// The escape character of a `U&"…"` name and where its clause ends: `UESCAPE 'c'` after the
    /// closing quote at `index - 1`, or `\` and `index` without one.
    static func unicodeEscapeClause(_ bytes: [UInt8], after index: Int) -> (UInt8, Int) {
        let k = skipSpaceAndComments(bytes, from: index)
        let keyword = Array("uescape".utf8)
        guard k + keyword.count <= bytes.count,
            bytes[k..<(k + keyword.count)].map({ $0 | (isUpperASCII($0) ? 0x20 : 0) }) == keyword,
            k + keyword.count == bytes.count || !isIdentifierByte(bytes[k + keyword.count])
        else { return (UInt8(ascii: "\\"), index) }
        let q = skipSpaceAndComments(bytes, from: k + keyword.count)
        guard q + 2 < bytes.count, bytes[q] == UInt8(ascii: "'"), bytes[q + 2] == UInt8(ascii: "'") else {
            return (UInt8(ascii: "\\"), index)
        }
        return (bytes[q + 1], q + 3)
    }

    /// The name a `U&"…"` body spells: `""` is `"`, the escape character doubled is itself, and it
    /// introduces `XXXX` or `+XXXXXX` hex digits of a code point; `nil` where PostgreSQL would
    /// refuse the escapes.
    static func unicodeEscaped(_ body: [UInt8], escape: UInt8) -> [UInt8]? {
        var out: [UInt8] = []
        var k = 0
        func hex(_ count: Int) -> UInt32? {
            guard k + count <= body.count else { return nil }
            var v: UInt32 = 0
            for b in body[k..<(k + count)] {
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: return nil
                }
                v = v * 16 + UInt32(d)
            }
            k += count
            return v
        }
        while k < body.count {
            let b = body[k]
            k += 1
            if b == UInt8(ascii: "\"") && k < body.count && body[k] == UInt8(ascii: "\"") {
                out.append(b)
                k += 1
            } else if b == escape {
                if k < body.count && body[k] == escape {
                    out.append(escape)
                    k += 1
                    continue
                }
                let plus = k < body.count && body[k] == UInt8(ascii: "+")
                if plus { k += 1 }
                guard let code = hex(plus ? 6 : 4), let scalar = Unicode.Scalar(code) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            } else {
                out.append(b)
            }
        }
        return out
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isUpperASCII(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }
    static func isSpace(_ c: UInt8) -> Bool {
        // \v too: PostgreSQL 16 and later read it as white space.
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == 0x0C || c == 0x0B
    }
    static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_") || c >= 0x80
    }
    static func isIdentifierByte(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || isDigit(c) || c == UInt8(ascii: "$")
    }
}
