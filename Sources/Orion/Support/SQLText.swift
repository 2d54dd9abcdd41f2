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
    static func firstWord(of sql: String) -> String {
        var rest = Substring(sql)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*") {
                guard let end = rest.range(of: "*/") else { return "" }
                rest = rest[end.upperBound...]
            } else {
                break
            }
        }
        let word = rest.prefix { $0.isASCII && ($0.isLetter || $0 == "_") }
        return String(word).lowercased()
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
