import Foundation
import Testing

@testable import Orion

/// Inputs the fuzzers (`Fuzz/`, `scripts/fuzz`) found or lean on, with the behaviour they showed.
@Suite("Fuzz regressions: SQL text, dates and row decoding")
struct FuzzRegressionTests {
    // MARK: SQLText.firstWord — found by FuzzClassifiers

    /// Before the fix firstWord read `Character`s: a `\r\n` is one, so a `--` comment ran past
    /// it; a combining mark made `-` + mark one Character, hiding `--` and `/*`; and `/*/` was
    /// closed by its own `*/`. SQLite reads bytes, and so the REINDEX refusal could be walked around.
    @Test(
        "firstWord reads comments as SQLite does, byte by byte",
        arguments: [
            ("-- maintenance\r\nREINDEX nocase", "reindex"),
            ("--\u{1}\u{FFFD}\r\nwww", "www"),
            ("--\u{301}\nreindex nocase", "reindex"),
            ("/*\u{301} */reindex", "reindex"),
            ("/*/ */reindex", "reindex"),
            ("/*/ reindex */ select", "select"),
            ("/* *\u{301}/ reindex */ select", "select"),
            ("/* a */ /* b */\r\n-- c\r\n\tReIndex", "reindex"),
            ("\u{0B}\u{0C}select", "select"),
        ])
    func firstWordComments(_ sql: String, _ word: String) {
        #expect(SQLText.firstWord(of: sql) == word)
    }

    @Test(
        "firstWord is empty where SQLite starts with no keyword",
        arguments: [
            "", "   ", "-- only a comment", "/* unterminated reindex", "/*/", "\u{A0}reindex", "\u{2028}select",
            "\0reindex", "éselect", "(select 1)", "?",
        ])
    func firstWordNone(_ sql: String) {
        #expect(SQLText.firstWord(of: sql) == "")
    }

    @Test("firstWord lowercases ASCII only and stops at the first byte that is not a letter or _")
    func firstWordShape() {
        #expect(SQLText.firstWord(of: "SELECT1") == "select")
        #expect(SQLText.firstWord(of: "_x_Y z") == "_x_y")
        #expect(SQLText.firstWord(of: "reindex\u{301}") == "reindex")
        #expect(SQLText.firstWord(of: "-- x\0\nreindex") == "reindex")
    }

    /// A REINDEX that rebuilds an index reaches the authorizer; one that names a collation no index
    /// uses reaches nothing, and only the first-word check refuses it.
    @Test(
        "a scoped store refuses REINDEX however a comment before it ends",
        arguments: ["reindex rtrim", "-- maintenance\r\nREINDEX rtrim", "--\u{301}\nreindex rtrim", "/*/ */reindex rtrim", "/*\u{301} */ reindex RTRIM"])
    func scopedReindex(_ sql: String) throws {
        let dir = TempDir()
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("notes", ["create table notes (id integer primary key, title text)"])
        let error = expectStoreError(.fence) { try store.scoped(to: "notes").exec(sql) }
        #expect(error?.message.contains("schema change") == true)
    }

    // MARK: SQLText.hasStatement

    @Test(
        "hasStatement: white space (\\v too), comments and semicolons are nothing; anything else, NUL included, is a statement",
        arguments: [
            ("", false), (";;\n\t\r\u{0B}\u{0C} ;", false), ("-- x", false), ("-- x\r\n;", false), ("/* open", false),
            ("/*/", false), ("/**/", false), ("/* a */ -- b\n", false),
            ("-", true), ("/", true), ("/ *", true), ("\0", true), ("\u{A0}", true), ("-- x\nselect", true), ("/*/ */ x", true),
        ])
    func hasStatement(_ text: String, _ expected: Bool) {
        #expect(SQLText.hasStatement(in: text.utf8) == expected)
        #expect(SQLText.hasStatement(in: Array(text.utf8)) == expected)
        #expect(SQLText.hasStatement(in: Array(("x" + text).utf8).dropFirst()) == expected)
    }

    @Test("SQL with a NUL after its statement is refused, not cut short")
    func nulAfterStatement() throws {
        let store = try SQLiteStore(path: ":memory:")
        expectStoreError(.multipleStatements) { _ = try store.one("select 1;\0") as Int? }
        expectStoreError(.multipleStatements) { _ = try store.one("select 1\0; select 2") as Int? }
    }

    // MARK: SQLDate — FuzzDates

    func date(_ text: String) -> Date? { SQLDate.parse(Array(text.utf8)) }

    @Test("parse rolls a day past the month's end and a leap second over, as SQLite's date functions do")
    func rollOver() {
        #expect(date("2021-02-31") == date("2021-03-03"))
        #expect(date("2016-12-31 23:59:60") == date("2017-01-01 00:00:00"))
        #expect(date("2000-01-01 00:00:00.1239999")?.timeIntervalSince1970 == 946_684_800.123)
    }

    @Test("parse reads offsets as ±HH, ±HHMM and ±HH:MM, after minutes or seconds")
    func offsets() {
        let utc = date("1999-12-31 22:30:00")
        #expect(utc != nil)
        #expect(date("2000-01-01T00:00+0130") == utc)
        #expect(date("2000-01-01t00:00:00+01:30") == utc)
        #expect(date("2000-01-01 00:00:00.000+01:30") == utc)
        #expect(date("1999-12-31 23:30+01") == utc)
        #expect(date("1999-12-31 22:30:00Z") == utc)
        #expect(date("1999-12-31 22:30:00z") == utc)
    }

    @Test(
        "parse refuses anything else",
        arguments: [
            "", "2000", "2000-01-01 ", "2000-01-01Z", "2000-01-01\0", "2000-01-01 24:00", "2000-01-01 00:60",
            "2000-01-01 00:00:61", "2000-01-01 00:00:00.", "2000-01-01 00:00:00+01:3", "2000-01-01 00:00:00+01x",
            "2000-01-01 00:00:00+24", "2000-01-01 00:00:00+0160", "2000-00-01", "2000-01-32", "+2000-01-01", "２０００-01-01",
        ])
    func refused(_ text: String) {
        #expect(date(text) == nil)
    }

    @Test("a date an offset pushes past the years 0000–9999 parses but has no text")
    func outOfRange() throws {
        let late = try #require(date("9999-12-31 23:59:59.999-00:01"))
        #expect(SQLDate.format(late) == nil)
        let early = try #require(date("0000-01-01 00:00+00:01"))
        #expect(SQLDate.format(early) == nil)
        #expect(SQLDate.format(try #require(date("0000-01-01 00:00"))) == "0000-01-01 00:00:00.000")
        #expect(SQLDate.format(try #require(date("9999-12-31 23:59:59.999"))) == "9999-12-31 23:59:59.999")
    }

    /// FuzzDates' first report was its own: a Date on a half millisecond rounds away from zero,
    /// so format then parse moves it by 0.5 ms plus the Double's rounding at that size.
    @Test("format rounds a half millisecond up, and its text is a fixed point")
    func halfMillisecond() throws {
        let given = Date(timeIntervalSince1970: 156_842_090_592.3755)
        let text = try #require(SQLDate.format(given))
        #expect(text == "6940-02-16 23:23:12.376")
        let parsed = try #require(date(text))
        #expect(SQLDate.format(parsed) == text)
        #expect(SQLDate.format(Date(timeIntervalSince1970: .infinity)) == nil)
        #expect(SQLDate.format(Date(timeIntervalSince1970: .nan)) == nil)
    }

    // MARK: RowDecoder — FuzzRowDecoder

    @Test("text that is not UTF-8 decodes as String with replacement characters, and is no Date or UUID")
    func invalidUTF8() throws {
        let store = try SQLiteStore(path: ":memory:")
        #expect(try store.one("select cast(x'61ff62' as text)") as String? == "a\u{FFFD}b")
        expectStoreError(.decoding) { _ = try store.one("select cast(x'ff' as text)") as Date? }
        expectStoreError(.decoding) { _ = try store.one("select cast(x'ff' as text)") as UUID? }
        #expect(try store.one("select cast(x'' as text)") as String? == "")
    }

    @Test("a NaN is stored as NULL; infinities (also as a Date) and NUL bytes round-trip")
    func edgeValues() throws {
        let store = try SQLiteStore(path: ":memory:")
        #expect(try store.one("select ?", [SQLValue.real(.nan)]) as SQLValue? == .null)
        #expect(try store.one("select ?", [SQLValue.real(.nan)]) as Double? == nil)
        #expect(try store.one("select ?", [SQLValue.real(-.infinity)]) as Double? == -.infinity)
        // A REAL is Unix seconds to a Date, an infinite one too (SQLDate.format then gives no text).
        #expect(try store.one("select ?", [SQLValue.real(.infinity)]) as Date? == Date(timeIntervalSince1970: .infinity))
        #expect(try store.one("select ?", [SQLValue.text("a\0b")]) as String? == "a\0b")
        #expect(try store.one("select ?", [SQLValue.blob([])]) as [UInt8]? == [])
        #expect(try store.one("select ?", [SQLValue.blob([])]) as Data? == Data())
    }

    @Test("numbers decode only where exact: out of range, fractional and non-0/1 Bool are decoding errors")
    func numbers() throws {
        let store = try SQLiteStore(path: ":memory:")
        #expect(try store.one("select 2.0") as Int? == 2)
        #expect(try store.one("select -0.0") as UInt8? == 0)
        expectStoreError(.decoding) { _ = try store.one("select 1.5") as Int? }
        expectStoreError(.decoding) { _ = try store.one("select 128") as Int8? }
        expectStoreError(.decoding) { _ = try store.one("select -1") as UInt64? }
        expectStoreError(.decoding) { _ = try store.one("select 9223372036854775807.0") as Int64? }
        expectStoreError(.decoding) { _ = try store.one("select 2") as Bool? }
        expectStoreError(.decoding) { _ = try store.one("select 1.0") as Bool? }
    }
}
