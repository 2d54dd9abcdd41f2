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
    /// A hash of `folded` (FNV-1a), computed once: names are hashed on the writer's path.
    let digest: UInt64

    init(_ name: String) {
        self.init(name, folding: true)
    }

    /// A name compared as written (`folding` false: PostgreSQL's quoted names, where `"Users"`
    /// and `users` are two tables), or as SQLite compares names.
    init(_ name: String, folding: Bool) {
        original = name
        folded = folding ? name.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 } : Array(name.utf8)
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in folded { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.digest = digest
    }

    static func == (a: SQLName, b: SQLName) -> Bool { a.digest == b.digest && a.folded == b.folded }

    func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    /// Whether the name starts with `prefix` (lowercase ASCII), as SQLite would match it.
    func hasPrefix(_ prefix: String) -> Bool { folded.starts(with: prefix.utf8) }

    var description: String { original }

    /// One of 64 bits, chosen by the name's digest (for cheap membership filters).
    @inline(__always)
    static func bit(_ name: SQLName) -> UInt64 { 1 << (name.digest >> 58) }
}
