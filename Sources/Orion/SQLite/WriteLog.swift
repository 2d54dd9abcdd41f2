/// The tables the writer's open transaction has written, level by level: the transaction, and
/// each savepoint in it (a write-queue unit, a nested `tx`).
///
/// A savepoint released hands its tables to the level below; one rolled back takes its tables
/// with it; the COMMIT publishes what is left, and a rollback publishes nothing. So a
/// ``Change`` names exactly the tables of work that was committed.
struct WriteLog {
    private var levels: [Set<String>] = []

    /// Whether a transaction is being logged.
    var isOpen: Bool { !levels.isEmpty }

    /// A transaction or savepoint began.
    mutating func begin() {
        levels.append([])
    }

    /// The innermost savepoint was released: its tables belong to the level below.
    mutating func release() {
        guard levels.count > 1 else { return }
        let top = levels.removeLast()
        levels[levels.count - 1].formUnion(top)
    }

    /// The innermost savepoint was rolled back: its tables go with it.
    mutating func rollBack() {
        guard levels.count > 1 else { return }
        levels.removeLast()
    }

    /// A statement inside the transaction wrote `tables`.
    mutating func record(_ tables: [String]) {
        guard !tables.isEmpty else { return }
        if levels.isEmpty { levels.append([]) }
        levels[levels.count - 1].formUnion(tables)
    }

    /// The transaction committed: everything it wrote.
    mutating func commit() -> Set<String> {
        defer { levels = [] }
        guard var all = levels.first else { return [] }
        for level in levels.dropFirst() { all.formUnion(level) }
        return all
    }

    /// The transaction was rolled back, whole.
    mutating func discard() {
        levels = []
    }
}
