/// Reader connections for parallel reads: in WAL mode readers never block the writer or each other.
///
/// A read checks a connection out, runs, and returns it; connections open lazily up to
/// `capacity`, and a read that finds all of them busy waits for one (reads are short, and a
/// connection is held only for one statement).
///
/// `@unchecked Sendable`: a connection is either in `idle`, which is only touched under `lock`,
/// or checked out by exactly one thread until it comes back; `open` is only called by the
/// thread that reserved a slot under the lock.
final class ReaderPool: @unchecked Sendable {
    let capacity: Int
    private let lock = ConditionLock()
    private var idle: [SQLiteConnection] = []
    private var total = 0
    private var closed = false
    private let open: () throws -> SQLiteConnection

    init(capacity: Int, open: @escaping () throws -> SQLiteConnection) {
        precondition(capacity >= 1, "the reader pool needs at least one connection")
        self.capacity = capacity
        self.open = open
    }

    /// Runs `body` on a reader connection, waiting for one when all are busy.
    func withConnection<R>(_ body: (SQLiteConnection) throws -> R) throws -> R {
        let connection = try checkout()
        defer { checkin(connection) }
        return try body(connection)
    }

    private func checkout() throws -> SQLiteConnection {
        let reserved: SQLiteConnection? = try lock.withLock {
            while true {
                if closed { throw StoreError(.closed, "the store is closed; open a new SQLiteStore") }
                if let connection = idle.popLast() { return connection }
                if total < capacity {
                    total += 1
                    return nil
                }
                lock.wait()
            }
        }
        if let reserved { return reserved }
        do {
            return try open()
        } catch {
            lock.withLock {
                total -= 1
                lock.signal()
            }
            throw error
        }
    }

    private func checkin(_ connection: SQLiteConnection) {
        lock.withLock {
            if closed {
                total -= 1
                lock.broadcast()
            } else {
                idle.append(connection)
                lock.signal()
            }
        }
    }

    /// Closes idle connections and waits for busy ones to come back and close.
    func close() {
        let closing: [SQLiteConnection] = lock.withLock {
            closed = true
            let closing = idle
            total -= idle.count
            idle = []
            lock.broadcast()
            while total > 0 { lock.wait() }
            return closing
        }
        _ = closing  // released here, outside the lock: each deinit closes its handle
    }
}
