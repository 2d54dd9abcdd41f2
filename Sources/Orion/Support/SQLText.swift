import Foundation

/// The little SQL lexing the store needs; never used to decide access (the authorizer does that).
package enum SQLText {
    /// `name` as a double-quoted identifier (`"a""b"`), the same in SQLite and PostgreSQL.
    package static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `text` as a single-quoted string literal (`'it''s'`), the same in SQLite and PostgreSQL
    /// (with `standard_conforming_strings`, which the PostgreSQL store sets).
    package static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// The statement's first word, lowercased (ASCII), after white space and comments; "" when
    /// it starts with something else.
    ///
    /// Reads the UTF-8 bytes as SQLite's tokenizer does, not `Character`s: a `--` comment ends at
    /// the `\n` of a `\r\n` (one `Character`), a combining mark after `-` or `*` hides no `--`,
    /// `/*` or `*/` (it would make one `Character` of them), and the `*/` that closes a comment
    /// comes after its `/*` (`/*/` is not closed). White space is ASCII's (`\t \n \v \f \r` and
    /// space); the word is the run of ASCII letters and `_` that follows.
    static func firstWord(of sql: String) -> String {
        let text = sql.utf8
        var i = text.startIndex
        func byte(at index: String.Index) -> UInt8? { index < text.endIndex ? text[index] : nil }
        while let c = byte(at: i) {
            let next = text.index(after: i)
            if c == UInt8(ascii: " ") || (0x09...0x0D).contains(c) {
                i = next
            } else if c == UInt8(ascii: "-"), byte(at: next) == UInt8(ascii: "-") {
                i = text[next...].firstIndex(of: UInt8(ascii: "\n")) ?? text.endIndex
            } else if c == UInt8(ascii: "/"), byte(at: next) == UInt8(ascii: "*") {
                var j = text.index(after: next)
                while true {
                    guard let d = byte(at: j) else { return "" }
                    j = text.index(after: j)
                    if d == UInt8(ascii: "*"), byte(at: j) == UInt8(ascii: "/") { break }
                }
                i = text.index(after: j)
            } else {
                break
            }
        }
        var word: [UInt8] = []
        while let c = byte(at: i), (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_") {
            word.append(c == UInt8(ascii: "_") ? c : c | 0x20)
            i = text.index(after: i)
        }
        return String(decoding: word, as: UTF8.self)
    }

    /// Whether `text` holds anything but white space, comments and semicolons: SQL after the
    /// first statement, which `query`, `one` and `exec` refuse rather than silently drop.
    static func hasStatement(in text: some Collection<UInt8>) -> Bool {
        var i = text.startIndex
        while i != text.endIndex {
            let c = text[i]
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
                0x0b, 0x0c, UInt8(ascii: ";"):
                i = text.index(after: i)
            case UInt8(ascii: "-"):
                let next = text.index(after: i)
                guard next != text.endIndex, text[next] == UInt8(ascii: "-") else { return true }
                i = next
                while i != text.endIndex, text[i] != UInt8(ascii: "\n") { i = text.index(after: i) }
            case UInt8(ascii: "/"):
                let next = text.index(after: i)
                guard next != text.endIndex, text[next] == UInt8(ascii: "*") else { return true }
                i = text.index(after: next)
                var closed = false
                while i != text.endIndex {
                    let c = text[i]
                    i = text.index(after: i)
                    if c == UInt8(ascii: "*"), i != text.endIndex, text[i] == UInt8(ascii: "/") {
                        i = text.index(after: i)
                        closed = true
                        break
                    }
                }
                if !closed { return false }
            default:
                return true
            }
        }
        return false
    }
}
