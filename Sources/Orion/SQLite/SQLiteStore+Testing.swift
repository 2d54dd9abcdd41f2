/// What tests look at inside the store.
extension SQLiteStore {
    /// Whether a write-queue batch is open (for tests).
    var batchIsOpenForTests: Bool { group?.isOpenForReaders == true }

    /// Runs one of the store's own statements on the writer, past the fence (for tests that need
    /// a connection setting feature SQL may not make, such as `pragma max_page_count`).
    func runOnWriterForTests(_ sql: String) throws {
        try withWriter { try $0.connection.run(sql) }
    }

    /// Whether the writer takes turns with other processes' writers (for tests).
    var hasWriterTurnsForTests: Bool { turns != nil }

    /// Whether the calling thread holds the writer (for tests of what runs outside the lock).
    var writerHeldByCurrentThreadForTests: Bool { writerLock.isHeldByCurrentThread }

    /// The most statements any reader connection holds in its cache (for tests).
    func readerCacheMaxForTests() -> Int {
        var most = 0
        _ = readerPool?.figures { connection in
            most = max(most, connection.cachedStatementCount)
            return CacheCount()
        }
        return most
    }

    /// Statements cached on the writer connection (for tests and diagnostics).
    func writerCacheCount() throws -> Int {
        try withWriter { $0.connection.cachedStatementCount }
    }
}
