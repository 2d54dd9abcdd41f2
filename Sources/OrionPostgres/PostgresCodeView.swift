/// Migration code as PostgreSQL's lexer reads it, for the migrator's code rules.
///
/// The rules look for words (`reset role`, `set_config`, `execute`), and a rule over raw text can
/// be walked around: a comment between the words, a name in quotes or Unicode escapes, a string
/// split in two, or a comment opener inside a string that makes a comment-stripping pass
/// swallow real code. This view is a line of words read the way PostgreSQL reads them: comments
/// are gone (and only real comments), quoted and `U&"…"` names are plain words, and every string
/// literal and dollar-quoted body — where a function's code lives — is read again as code, its
/// escapes decoded (`E'\x73et_config'`, `U&'\0073et_config'`), and its words put between
/// parentheses in its place. A string is read whole across the continuation PostgreSQL allows
/// (`'set_con'⏎'fig'`).
///
/// Words are lowercased (quoted names too: that can only find more).
enum PostgresCodeView {
    /// How deep string bodies are read as code (a body holding a string that holds code…).
    static let maxDepth = 6

    /// `sql` as one line of words; with `readingStrings` false, a string's text is left out
    /// (`( )`), for rules about where statements start, which words in a message must not meet.
    static func of(_ sql: String, readingStrings: Bool = true) -> String {
        var words: [String] = []
        var bodies: [[UInt8]] = []
        append(Array(sql.utf8), depth: 0, readingStrings: readingStrings, to: &words, bodies: &bodies)
        return words.joined(separator: " ")
    }

    /// The bodies of the functions and procedures `sql` defines (each string right after `AS`),
    /// each read as code and begun with `;`, the strings inside them left out, so that a rule can
    /// find where their statements start without taking a string of data (`'Create account'`,
    /// a message) for code. What strings inside a body could run (EXECUTE, DO) is refused
    /// by other rules.
    static func functionBodies(of sql: String) -> String {
        var words: [String] = []
        var bodies: [[UInt8]] = []
        append(Array(sql.utf8), depth: 0, readingStrings: true, to: &words, bodies: &bodies)
        return bodies.map { "; " + of(String(decoding: $0, as: UTF8.self), readingStrings: false) }.joined(separator: " ")
    }

    private static func append(
        _ bytes: [UInt8], depth: Int, readingStrings: Bool, to words: inout [String], bodies: inout [[UInt8]]
    ) {
        let n = bytes.count
        var i = 0
        func word(_ slice: ArraySlice<UInt8>) -> String {
            String(decoding: slice, as: UTF8.self).lowercased()
        }
        func body(_ content: [UInt8]) {
            if depth == 0 && words.last == "as" { bodies.append(content) }
            words.append("(")
            if !readingStrings {
                // Left out.
            } else if depth < maxDepth {
                var nested: [[UInt8]] = []
                append(content, depth: depth + 1, readingStrings: true, to: &words, bodies: &nested)
            } else {
                words.append(word(content[...]))
            }
            words.append(")")
        }
        while i < n {
            let c = bytes[i]
            if PostgresSQL.isSpace(c) {
                i += 1
            } else if (c == UInt8(ascii: "-") && i + 1 < n && bytes[i + 1] == UInt8(ascii: "-"))
                || (c == UInt8(ascii: "/") && i + 1 < n && bytes[i + 1] == UInt8(ascii: "*"))
            {
                i = max(i + 1, PostgresSQL.skipSpaceAndComments(bytes, from: i))
            } else if c == UInt8(ascii: "'") {
                let (content, end) = string(bytes, at: i, escapes: false)
                body(content)
                i = end
            } else if c == UInt8(ascii: "\"") {
                let (name, end) = quotedName(bytes, at: i)
                words.append(word(name[...]))
                i = end
            } else if c == UInt8(ascii: "$") {
                if i + 1 < n && PostgresSQL.isDigit(bytes[i + 1]) {
                    var j = i + 1
                    while j < n && PostgresSQL.isDigit(bytes[j]) { j += 1 }
                    words.append(word(bytes[i..<j]))
                    i = j
                } else if let (content, end) = dollarQuoted(bytes, at: i) {
                    body(content)
                    i = end
                } else {
                    words.append("$")
                    i += 1
                }
            } else if PostgresSQL.isIdentifierStart(c) {
                var j = i
                while j < n && PostgresSQL.isIdentifierByte(bytes[j]) { j += 1 }
                let name = word(bytes[i..<j])
                let next = j < n ? bytes[j] : 0
                if next == UInt8(ascii: "'") && ["e", "b", "x", "n"].contains(name) {
                    // E'…' takes backslash escapes; B'…', X'…' and N'…' are strings as written.
                    let (content, end) = string(bytes, at: j, escapes: name == "e")
                    body(content)
                    i = end
                } else if name == "u" && next == UInt8(ascii: "&") && j + 1 < n
                    && (bytes[j + 1] == UInt8(ascii: "'") || bytes[j + 1] == UInt8(ascii: "\""))
                {
                    let isName = bytes[j + 1] == UInt8(ascii: "\"")
                    let (raw, close) = isName ? quotedName(bytes, at: j + 1) : string(bytes, at: j + 1, escapes: false)
                    let (escape, end) = PostgresSQL.unicodeEscapeClause(bytes, after: close)
                    let decoded = PostgresSQL.unicodeEscaped(raw, escape: escape) ?? raw
                    if isName { words.append(word(decoded[...])) } else { body(decoded) }
                    i = end
                } else {
                    words.append(name)
                    i = j
                }
            } else if PostgresSQL.isDigit(c) {
                // A number, with what PostgreSQL reads as part of it (1e5, 0x1f, 1_000, 1.5).
                var j = i
                while j < n && (PostgresSQL.isDigit(bytes[j]) || bytes[j] == UInt8(ascii: ".") || PostgresSQL.isIdentifierStart(bytes[j]) && bytes[j] < 0x80) {
                    j += 1
                }
                words.append(word(bytes[i..<j]))
                i = j
            } else {
                words.append(String(UnicodeScalar(c)))
                i += 1
            }
        }
    }

    /// The text of the string literal opened at `start`, and where reading goes on. `''` is a
    /// quote; with `escapes`, backslash escapes are decoded as in `E'…'`. A literal followed by
    /// another after only white space and comments is read as one, as PostgreSQL continues a
    /// string across a line break (reading more than PostgreSQL would can only find more). An
    /// unterminated literal runs to the end.
    static func string(_ bytes: [UInt8], at start: Int, escapes: Bool) -> (content: [UInt8], end: Int) {
        let n = bytes.count
        var out: [UInt8] = []
        var j = start + 1
        while j < n {
            let b = bytes[j]
            if b == UInt8(ascii: "'") {
                if j + 1 < n && bytes[j + 1] == UInt8(ascii: "'") {
                    out.append(b)
                    j += 2
                    continue
                }
                let k = PostgresSQL.skipSpaceAndComments(bytes, from: j + 1)
                if k > j + 1 && k < n && bytes[k] == UInt8(ascii: "'") {
                    j = k + 1
                    continue
                }
                return (out, j + 1)
            }
            if escapes && b == UInt8(ascii: "\\") && j + 1 < n {
                j = escape(bytes, at: j + 1, into: &out)
                continue
            }
            out.append(b)
            j += 1
        }
        return (out, n)
    }

    /// Decodes the backslash escape whose letter is at `index` (`\n`, `\041`, `\x41`, `\u0041`,
    /// `\U00000041`, `\'`), appending its bytes; returns where reading goes on.
    private static func escape(_ bytes: [UInt8], at index: Int, into out: inout [UInt8]) -> Int {
        let n = bytes.count
        func digits(from k: Int, max count: Int, radix: UInt32) -> (UInt32, Int) {
            var value: UInt32 = 0
            var j = k
            while j < n && j - k < count, let d = digit(bytes[j], radix: radix) {
                value = value * radix + d
                j += 1
            }
            return (value, j)
        }
        let letter = bytes[index]
        switch letter {
        case UInt8(ascii: "b"): out.append(8)
        case UInt8(ascii: "f"): out.append(12)
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "r"): out.append(13)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            let (value, end) = digits(from: index, max: 3, radix: 8)
            out.append(UInt8(truncatingIfNeeded: value))
            return end
        case UInt8(ascii: "x") where index + 1 < n && digit(bytes[index + 1], radix: 16) != nil:
            let (value, end) = digits(from: index + 1, max: 2, radix: 16)
            out.append(UInt8(truncatingIfNeeded: value))
            return end
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let (value, end) = digits(from: index + 1, max: letter == UInt8(ascii: "u") ? 4 : 8, radix: 16)
            if let scalar = Unicode.Scalar(value), end > index + 1 {
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            return end
        default: out.append(letter)
        }
        return index + 1
    }

    private static func digit(_ b: UInt8, radix: UInt32) -> UInt32? {
        let value: UInt32
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt32(b - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt32(b - UInt8(ascii: "A")) + 10
        default: return nil
        }
        return value < radix ? value : nil
    }

    /// The name in the double quotes opened at `start` (`""` is a quote), and where reading goes
    /// on; an unterminated name runs to the end.
    private static func quotedName(_ bytes: [UInt8], at start: Int) -> (name: [UInt8], end: Int) {
        guard let close = PostgresSQL.closingQuote(bytes, from: start, escapes: false) else {
            return (Array(bytes[(start + 1)...]), bytes.count)
        }
        var name: [UInt8] = []
        var j = start + 1
        while j < close {
            name.append(bytes[j])
            j += bytes[j] == UInt8(ascii: "\"") ? 2 : 1
        }
        return (name, close + 1)
    }

    /// The body of the dollar quote opened at `start` (`$$…$$`, `$tag$…$tag$`) and where reading
    /// goes on, or `nil` when no tag opens there; an unterminated body runs to the end.
    private static func dollarQuoted(_ bytes: [UInt8], at start: Int) -> (content: [UInt8], end: Int)? {
        let n = bytes.count
        var j = start + 1
        if j < n && PostgresSQL.isIdentifierStart(bytes[j]) {
            while j < n && PostgresSQL.isIdentifierByte(bytes[j]) && bytes[j] != UInt8(ascii: "$") { j += 1 }
        }
        guard j < n && bytes[j] == UInt8(ascii: "$") else { return nil }
        let tag = Array(bytes[start...j])
        let open = j + 1
        var k = open
        while k + tag.count <= n {
            if bytes[k] == UInt8(ascii: "$") && bytes[k..<(k + tag.count)].elementsEqual(tag) {
                return (Array(bytes[open..<k]), k + tag.count)
            }
            k += 1
        }
        return (Array(bytes[open...]), n)
    }
}
