/// The writer connection and the transaction running on it.
///
/// Guarded by the store's writer lock: only the thread holding it touches a `Writer`. Not
/// `Sendable` for that reason.
final class Writer {
    let connection: SQLiteConnection
    /// 0 outside `tx`; 1 in a top-level `tx`; more in nested ones.
    var depth = 0
    /// Set when SQLite ended the transaction under a `tx` body; the body's later calls throw it.
    var aborted: StoreError?
    /// The write queue's batch, when group commit is on.
    let group: GroupCommit?

    init(connection: SQLiteConnection, group: GroupCommit?) {
        self.connection = connection
        self.group = group
    }

    /// Whether a statement runs inside a transaction of the store's: a `tx` body or a batch.
    var inTransaction: Bool { depth > 0 || group?.isOpen == true }

    /// Runs `work` inside the open transaction or batch, noticing when SQLite itself ended it.
    func guarded<R>(_ work: () throws -> R) throws -> R {
        if let aborted { throw aborted }
        do {
            return try work()
        } catch {
            if inTransaction && connection.isAutocommit {
                throw transactionEnded(by: error)
            }
            throw error
        }
    }

    /// SQLite rolled back the open transaction after `error` (an interrupted write, an
    /// `OR ROLLBACK` conflict, an I/O error). A `tx` body running on it can commit nothing more:
    /// its later statements throw, and so does the `tx`. A batch that held acknowledged writes
    /// is lost, which stops the write path; one that held none just ends.
    ///
    /// - Returns: The error to throw.
    private func transactionEnded(by error: any Error) -> any Error {
        let cause = error as? StoreError
        var thrown = error
        connection.writeLog.discard()
        connection.forgetTentativeRegistry()
        if let group, group.isOpen {
            if group.units == 0 {
                group.endEmpty(on: connection)
            } else {
                thrown = group.stop(on: connection, cause: cause)
            }
        }
        if depth > 0 && aborted == nil {
            aborted =
                (thrown as? StoreError).flatMap { $0.code == .writeQueueStopped ? $0 : nil }
                ?? StoreError(
                    cause?.code ?? .sql,
                    "SQLite rolled back the whole transaction (\(cause?.message ?? "\(error)")); nothing more runs in this tx, and it commits nothing",
                    sqliteCode: cause?.sqliteCode, sqliteCodeName: cause?.sqliteCodeName)
        }
        return thrown
    }

    /// Rolls back the open transaction, if SQLite has not already.
    func rollbackIfOpen() {
        if !connection.isAutocommit { try? connection.run("rollback") }
        connection.writeLog.discard()
    }
}

@available(*, unavailable)
extension Writer: Sendable {}
