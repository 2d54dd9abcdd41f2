/// An SQL identifier as SQLite compares it: byte for byte, with ASCII letters folded.
///
/// SQLite's name lookup and `COLLATE NOCASE` fold ASCII letters only. Swift's `String` would
/// treat canonically equivalent names as one (`"tas\u{212A}s"`, with a KELVIN SIGN, equals
/// `"tasKs"`) and `lowercased()` folds far beyond ASCII: neither may decide who owns a table.
struct SQLName: Hashable, Sendable, CustomStringConvertible {
    /// The UTF-8 bytes, ASCII letters lowercased.
    let folded: [UInt8]
    /// The name as SQLite reported it.
    let original: String

    init(_ name: String) {
        original = name
        folded = name.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
    }

    static func == (a: SQLName, b: SQLName) -> Bool { a.folded == b.folded }

    func hash(into hasher: inout Hasher) { hasher.combine(folded) }

    /// Whether the name starts with `prefix` (lowercase ASCII), as SQLite would match it.
    func hasPrefix(_ prefix: String) -> Bool { folded.starts(with: prefix.utf8) }

    var description: String { original }
}
