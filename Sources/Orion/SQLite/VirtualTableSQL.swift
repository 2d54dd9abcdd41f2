/// A `CREATE VIRTUAL TABLE` statement as SQLite reads it: its module and the arguments it hands
/// the module, read with SQLite's own token rules (comments skipped; names quoted with `"…"`,
/// `` `…` `` or `[…]`; strings with `'…'`), so that no spelling hides a module or an option.
///
/// What the fence needs from it: which other table a module reads by itself, through statements
/// it prepares once per connection and reuses unchecked — an FTS4/FTS5 index's `content=`
/// table, the FTS4 index an `fts4aux` table reads, the FTS5 index an `fts5vocab` table reads.
struct VirtualTableSQL: Equatable {
    /// The module, lowercased (`fts5`, `dbstat`).
    let module: String
    /// The module's arguments, each as its tokens (quotes removed from names and strings).
    let arguments: [[String]]

    /// Reads `sql` (as `sqlite_schema.sql` holds it); `nil` when it is not a virtual table.
    init?(_ sql: String) {
        let tokens = Self.tokens(sql)
        var i = 0
        func word(_ expected: String) -> Bool {
            guard i < tokens.count, case .word(let w) = tokens[i], w.lowercased() == expected else { return false }
            i += 1
            return true
        }
        guard word("create"), word("virtual"), word("table") else { return nil }
        if word("if") { guard word("not"), word("exists") else { return nil } }
        // The table's name, maybe schema-qualified.
        guard i < tokens.count, tokens[i].isName else { return nil }
        i += 1
        if i + 1 < tokens.count, tokens[i] == .symbol("."), tokens[i + 1].isName { i += 2 }
        guard word("using"), i < tokens.count, let module = tokens[i].text else { return nil }
        self.module = module.lowercased()
        i += 1
        var arguments: [[String]] = []
        if i < tokens.count, tokens[i] == .symbol("(") {
            var depth = 0
            var current: [String] = []
            for token in tokens[(i + 1)...] {
                if token == .symbol("(") { depth += 1 }
                if token == .symbol(")") {
                    if depth == 0 { break }
                    depth -= 1
                }
                if depth == 0, token == .symbol(",") {
                    arguments.append(current)
                    current = []
                    continue
                }
                current.append(token.text ?? "")
            }
            arguments.append(current)
        }
        self.arguments = arguments.filter { !$0.isEmpty }
    }

    /// The value of option `key` (`content = 'people'`), matched as modules match it: without
    /// regard to case.
    func option(_ key: String) -> String? {
        for argument in arguments where argument.count == 3 && argument[1] == "=" && argument[0].lowercased() == key {
            return argument[2]
        }
        return nil
    }

    /// The table the module reads by itself, if it reads one: what reading this table reads.
    var readsTable: String? {
        switch module {
        case "fts4", "fts5":
            guard let content = option("content"), !content.isEmpty else { return nil }
            return content
        case "fts4aux":
            // fts4aux(index) or fts4aux(schema, index)
            return arguments.last?.first
        case "fts5vocab":
            // fts5vocab(index, type) or fts5vocab(schema, index, type)
            return arguments.count >= 2 ? arguments[arguments.count - 2].first : nil
        default:
            return nil
        }
    }

    // MARK: Tokens

    enum Token: Equatable {
        /// A bare word or a quoted name, quotes removed.
        case word(String)
        /// A string literal, quotes removed.
        case string(String)
        case symbol(String)

        var isName: Bool {
            if case .word = self { return true }
            return false
        }

        var text: String? {
            switch self {
            case .word(let w), .string(let w), .symbol(let w): w
            }
        }
    }

    static func tokens(_ sql: String) -> [Token] {
        let bytes = Array(sql.utf8)
        var tokens: [Token] = []
        var i = 0
        func isWordByte(_ c: UInt8) -> Bool {
            (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "$") || c >= 0x80
        }
        /// The quoted text from `i` (at the opening quote) to its closing `close`, a doubled
        /// closing quote standing for one.
        func quoted(_ close: UInt8) -> String {
            var out: [UInt8] = []
            i += 1
            while i < bytes.count {
                if bytes[i] == close {
                    if close != UInt8(ascii: "]"), i + 1 < bytes.count, bytes[i + 1] == close {
                        out.append(close)
                        i += 2
                        continue
                    }
                    i += 1
                    break
                }
                out.append(bytes[i])
                i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                i += 1
            case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "-"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                i += 2
                while i + 1 < bytes.count && !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
            case UInt8(ascii: "'"):
                tokens.append(.string(quoted(UInt8(ascii: "'"))))
            case UInt8(ascii: "\""), UInt8(ascii: "`"):
                tokens.append(.word(quoted(c)))
            case UInt8(ascii: "["):
                tokens.append(.word(quoted(UInt8(ascii: "]"))))
            default:
                if isWordByte(c) {
                    let start = i
                    while i < bytes.count && isWordByte(bytes[i]) { i += 1 }
                    tokens.append(.word(String(decoding: bytes[start..<i], as: UTF8.self)))
                } else {
                    tokens.append(.symbol(String(UnicodeScalar(c))))
                    i += 1
                }
            }
        }
        return tokens
    }
}
