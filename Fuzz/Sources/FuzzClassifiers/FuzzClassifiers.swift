import FuzzSupport
@_spi(Fuzzing) import Orion
@_spi(Fuzzing) import OrionPostgres

/// The classifiers the SQLite fence and the PostgreSQL adapter rely on: `SQLText.firstWord(of:)`
/// agrees with SQLite's tokenizer about the first keyword, `SQLText.hasStatement(in:)` reads any
/// collection the same way, and `StatementKind` and `verb` classify any words.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClassifiers(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let sql = String(decoding: bytes, as: UTF8.self)
    let utf8 = Array(sql.utf8)

    // firstWord: lowercase ASCII letters and underscores only.
    let word = OrionFuzzing.firstWord(of: sql)
    require(word.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") }, "firstWord(\(shown(utf8))) = \(shown(word))")
    // Where SQLite's tokenizer starts with a keyword-like token, firstWord names it: the store's
    // REINDEX refusal depends on it.
    if let keyword = SQLiteReference.firstKeyword(utf8) {
        require(word == keyword, "firstWord(\(shown(utf8))) = \(shown(word)), SQLite's tokenizer starts with \(shown(keyword))")
    }

    // hasStatement: the same answer over an array, a slice that starts past 0 and a string's
    // UTF-8 view; the same as the reference; and no first word where it finds no statement.
    let has = OrionFuzzing.hasStatement(in: utf8)
    require(OrionFuzzing.hasStatement(in: ([0x41] + utf8).dropFirst()) == has, "hasStatement over a slice of \(shown(utf8)) differs")
    require(OrionFuzzing.hasStatement(in: sql.utf8) == has, "hasStatement over the UTF-8 view of \(shown(utf8)) differs")
    require(SQLiteReference.hasStatement(utf8) == has, "hasStatement(\(shown(utf8))) = \(has), the reference says \(!has)")
    require(has || word.isEmpty, "hasStatement(\(shown(utf8))) is false but firstWord is \(shown(word))")

    // StatementKind and verb over the words of the input, then over each statement PostgreSQL's
    // reader finds in it.
    let words = sql.split(whereSeparator: { $0 == " " }).prefix(3).map { String($0).lowercased() }
    checkKind(words)
    // Then how those kinds survive rewriting: comments for spaces, quoted names for plain ones.
    if let statements = try? OrionPostgresFuzzing.statements(in: sql) {
        for statement in statements {
            let byWords = OrionPostgresFuzzing.kind(words: statement.words)
            let kind = OrionPostgresFuzzing.kind(of: statement)
            // What the calls in a statement add only ever refuses what the words allowed.
            if byWords != .other {
                require(kind == byWords, "\(shown(statement.original)): kind \(kind), by its words \(byWords)")
            } else if statement.callsNotify || statement.callsSetConfig || statement.callsSessionLock || statement.callsSQLText || statement.selectsInto {
                guard case .refused = kind else {
                    require(false, "\(shown(statement.original)) calls pg_notify/set_config or selects into, yet is \(kind)")
                    return 0
                }
            } else {
                require(kind == .other, "\(shown(statement.original)): kind \(kind)")
            }
            checkKind(statement.words)
            checkQuotedNames(statement, kind)
        }
        checkCommentsAsSpace(sql, statements)
    }
    return 0
}

/// PostgreSQL reads a comment as white space: with every space turned into ` /**/ `, the same
/// statements are found, with the same words, parameters and calls. (A `UESCAPE ' '` clause
/// would change; PostgreSQL refuses a space as the escape anyway.)
private func checkCommentsAsSpace(_ sql: String, _ statements: [OrionPostgresFuzzing.Statement]) {
    guard !sql.lowercased().contains("uescape") else { return }
    var spaced: [UInt8] = []
    for b in sql.utf8 {
        if b == UInt8(ascii: " ") { spaced += Array(" /**/ ".utf8) } else { spaced.append(b) }
    }
    let variant = String(decoding: spaced, as: UTF8.self)
    guard let others = try? OrionPostgresFuzzing.statements(in: variant) else {
        require(false, "\(shown(sql)) reads, with its spaces as comments it throws")
        return
    }
    require(others.count == statements.count, "\(shown(sql)): \(statements.count) statements, with its spaces as comments \(others.count)")
    for (statement, other) in zip(statements, others) {
        let plain = { (words: [String]) in words.filter { !$0.contains("\"") } }
        require(
            plain(statement.words) == plain(other.words) && statement.parameterCount == other.parameterCount
                && statement.callsSetConfig == other.callsSetConfig && statement.callsNotify == other.callsNotify
                && statement.callsSessionLock == other.callsSessionLock && statement.callsSQLText == other.callsSQLText
                && statement.selectsInto == other.selectsInto && OrionPostgresFuzzing.kind(of: statement) == OrionPostgresFuzzing.kind(of: other),
            "\(shown(statement.original)) reads differently with its spaces as comments: \(statement) vs \(other)")
    }
}

/// Names PostgreSQL also reads quoted (`"role"`) or spelled with Unicode escapes (`U&"\0072ole"`):
/// a statement refused for naming one is refused however the name is written.
private let significantNames = ["role", "session_authorization", "search_path", "timezone", "set_config", "pg_notify"]

private func checkQuotedNames(_ statement: OrionPostgresFuzzing.Statement, _ kind: OrionPostgresFuzzing.Kind) {
    guard kind != .other else { return }
    let text = Array(statement.original.utf8)
    for name in significantNames {
        // The name once, as a word of its own (so not inside a longer name): the one the
        // statement is refused for, if any.
        let target = Array(name.utf8)
        var found: [Int] = []
        var i = 0
        while i + target.count <= text.count {
            let before = i == 0 ? UInt8(ascii: " ") : text[i - 1]
            let after = i + target.count == text.count ? UInt8(ascii: " ") : text[i + target.count]
            if !SQLiteReference.isIdentifier(before) && !SQLiteReference.isIdentifier(after)
                && before != UInt8(ascii: "\"") && after != UInt8(ascii: "\"")
                && text[i..<(i + target.count)].map({ $0 | (($0 >= 65 && $0 <= 90) ? 0x20 : 0) }) == target
            {
                found.append(i)
            }
            i += 1
        }
        guard found.count == 1, let at = found.first else { continue }
        let escaped = "U&\"" + name.unicodeScalars.map { "\\" + String(repeating: "0", count: 4 - String($0.value, radix: 16).count) + String($0.value, radix: 16) }.joined() + "\""
        for spelling in ["\"" + name + "\"", "\"" + name.uppercased() + "\"", escaped] {
            let variant = String(decoding: Array(text[..<at]) + Array(spelling.utf8) + Array(text[(at + target.count)...]), as: UTF8.self)
            guard let others = try? OrionPostgresFuzzing.statements(in: variant), others.count == 1 else { continue }
            let otherKind = OrionPostgresFuzzing.kind(of: others[0])
            require(otherKind != .other, "\(shown(statement.original)) is \(kind), yet \(shown(variant)) is allowed")
        }
    }
}

private func checkKind(_ words: [String]) {
    let kind = OrionPostgresFuzzing.kind(words: words)
    let verb = OrionPostgresFuzzing.verb(words)
    require(!verb.isEmpty, "verb(\(words)) is empty")
    switch kind {
    case .sessionControl(let reason), .refused(let reason):
        require(!reason.isEmpty, "kind(\(words)) has no reason")
    case .transactionControl, .schemaChange, .other:
        break
    }
    // A read is never a transaction, session or schema statement.
    if verb == "read" { require(kind == .other, "\(words) reads, yet is \(kind)") }
}

/// SQLite's tokenizer (tokenize.c, `sqlite3GetToken`), as far as the first token: white space is
/// `\t \n \f \r` and space; `--` runs to the end of the line; `/*` runs to the first `*/` after
/// it, or to the end; identifiers and keywords are `[A-Za-z0-9_$]` and every byte from 0x80.
/// SQLite reads the text to its first NUL.
enum SQLiteReference {
    static func isSpace(_ c: UInt8) -> Bool { c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x20 }
    static func isIdentifier(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "$") || c >= 0x80
    }

    /// The first token, lowercased, when it is made of ASCII letters and underscores (a keyword or
    /// a plain name); `nil` for anything else, or nothing.
    static func firstKeyword(_ text: [UInt8]) -> String? {
        let end = text.firstIndex(of: 0) ?? text.count
        var i = 0
        while i < end {
            if isSpace(text[i]) {
                i += 1
            } else if text[i] == UInt8(ascii: "-"), i + 1 < end, text[i + 1] == UInt8(ascii: "-") {
                i += 2
                while i < end, text[i] != UInt8(ascii: "\n") { i += 1 }
            } else if text[i] == UInt8(ascii: "/"), i + 1 < end, text[i + 1] == UInt8(ascii: "*") {
                var j = i + 2
                while j + 1 < end, !(text[j] == UInt8(ascii: "*") && text[j + 1] == UInt8(ascii: "/")) { j += 1 }
                guard j + 1 < end else { return nil }
                i = j + 2
            } else {
                break
            }
        }
        var j = i
        while j < end, isIdentifier(text[j]) { j += 1 }
        guard j > i else { return nil }
        let token = text[i..<j]
        guard token.allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || $0 == UInt8(ascii: "_") }) else { return nil }
        return String(decoding: token.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Whether the text after a statement holds another: anything but white space (with `\v`, as
    /// the store counts it), comments and semicolons. A NUL counts as something (the store refuses
    /// SQL with one after its statement).
    static func hasStatement(_ text: [UInt8]) -> Bool {
        var i = 0
        while i < text.count {
            let c = text[i]
            if isSpace(c) || c == 0x0B || c == UInt8(ascii: ";") {
                i += 1
            } else if c == UInt8(ascii: "-"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "-") {
                while i < text.count, text[i] != UInt8(ascii: "\n") { i += 1 }
            } else if c == UInt8(ascii: "/"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "*") {
                var j = i + 2
                while j + 1 < text.count, !(text[j] == UInt8(ascii: "*") && text[j + 1] == UInt8(ascii: "/")) { j += 1 }
                guard j + 1 < text.count else { return false }
                i = j + 2
            } else {
                return true
            }
        }
        return false
    }
}
