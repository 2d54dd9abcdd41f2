import Dispatch
import Synchronization

/// The writer: its lock (with turns for other processes, the checkpointer and the write
/// queue's commits at unlock), transactions and savepoints on it, and batches committed when
/// it goes idle.
extension SQLiteStore {
    func withWriter<R>(_ body: (Writer) throws -> R) throws -> R {
        if writerLock.isHeldByCurrentThread, let writer {
            return try body(writer)
        }
        try checkOpen()
        writerActivity.add(1, ordering: .relaxed)
        if !writerLock.tryLock() {
            // Another thread's write or tx holds the writer: wait at most the busy timeout, as
            // for another process's lock (a lane's write: until its deadline, from its call), so
            // that a body blocked on a thread that needs the writer ends in an error, not a hang.
            let laneDeadline = LaneThread.deadline(in: writeLane)
            if !writerLock.lock(until: laneDeadline != 0 ? laneDeadline : monotonicNanoseconds() &+ busyTimeoutNanoseconds) {
                if writerActivity.subtract(1, ordering: .relaxed).newValue == 0 { writerWentIdle() }
                throw StoreError.laneBusy(
                    waited: busyTimeoutNanoseconds,
                    for: laneDeadline != 0 ? "for the writer" : "for the writer, which a write or tx of this store held all that time")
            }
        }
        defer {
            if let writer, writer.depth == 0, let group, group.isOpen, group.isDue() {
                // However busy the writer stays, a batch commits once it is due: this exit
                // (a read on the writer, say) commits it; a failure is reported by the commit.
                try? group.commit(writer.connection)
            }
            unlockWriter()
            let remaining = writerActivity.subtract(1, ordering: .relaxed).newValue
            if remaining == 0 { writerWentIdle() }
        }
        guard let writer else { throw Self.closedError }
        return try body(writer)
    }

    /// Runs `body` on the writer if it is free within 50 ms (or already this thread's);
    /// whether it ran. For figures that must not wait behind a long `tx`.
    func withWriterIfFree(_ body: (Writer) -> Void) -> Bool {
        if writerLock.isHeldByCurrentThread {
            guard let writer else { return false }
            body(writer)
            return true
        }
        guard writerLock.lock(attempts: 50) else { return false }
        defer { unlockWriter() }
        guard let writer else { return false }
        body(writer)
        return true
    }

    /// The reader pool's figures and its connections' page-cache lookups (see ``ReaderPool``).
    func readerPoolFigures(collect: (SQLiteConnection) -> CacheCount) -> (ReaderPoolFigures, CacheCount)? {
        readerPool?.figures(collect: collect)
    }

    /// Before the writer is unlocked: takes down this writer's mark if it waited for another
    /// process, and when another process's writer waits and no transaction is open, lets it
    /// have its turn before this process writes again (``WriterTurns``). Here, not where the
    /// writer is locked, and out of line: there it made the optimizer give up inlining elsewhere
    /// on the write path (+2 % instructions per insert, measured).
    @inline(never)
    private func takeTurns(_ writer: Writer) {
        guard let turns else { return }
        turns.doneWaiting()
        if turns.othersWait { turns.standAside(before: writer.connection) }
    }

    /// Unlocks the writer, then hands the batch events its holder produced to `onBatch`,
    /// outside every lock of the store.
    @inline(__always)
    func unlockWriter() {
        if let writer {
            if turns != nil { takeTurns(writer) }
            checkpointer.runPending(on: writer.connection)
        }
        writerLock.unlock()
        if let group, group.hasEvents { group.deliverEvents() }
    }

    // MARK: Transactions

    /// The body of a top-level `tx`, at depth 1.
    func transactionBody<T>(_ writer: Writer, _ body: () throws -> T) throws -> T {
        writer.depth = 1
        defer {
            writer.depth = 0
            writer.aborted = nil
        }
        let result = try body()
        if let aborted = writer.aborted { throw aborted }
        return result
    }

    /// A nested `tx`: a savepoint that a throwing body rolls back alone.
    func savepoint<T>(_ writer: Writer, _ body: () throws -> T) throws -> T {
        if let aborted = writer.aborted { throw aborted }
        let connection = writer.connection
        let name = "orion_tx\(writer.depth)"
        try connection.run("savepoint \(name)")
        connection.writeLog.begin()
        writer.depth += 1
        defer { writer.depth -= 1 }
        let result: T
        do {
            result = try body()
        } catch {
            if writer.aborted == nil && !connection.isAutocommit {
                try? connection.run("rollback to \(name)")
                try? connection.run("release \(name)")
                connection.writeLog.rollBack()
            }
            throw error
        }
        if let aborted = writer.aborted { throw aborted }
        try connection.run("release \(name)")
        connection.writeLog.release()
        return result
    }

    // MARK: Committing batches

    /// The last thread left the writer: with a zero delay, this is when the batch commits.
    func writerWentIdle() {
        guard let group, group.isOpenForReaders, group.takeFlushWanted() else { return }
        DispatchQueue.global().async { [weak self] in
            self?.commitIfOpen(batch: nil, onlyWhenIdle: true)
        }
    }

    /// Commits the open batch (if it is `batch`, when given). A zero-delay flush that finds
    /// writers running or waiting leaves the batch to them: they join it, and the last one out
    /// schedules the flush again.
    func commitIfOpen(batch: UInt64?, onlyWhenIdle: Bool) {
        guard let group else { return }
        if onlyWhenIdle && writerActivity.load(ordering: .relaxed) > 0 {
            group.wantFlush()
            if writerActivity.load(ordering: .relaxed) > 0 { return }
        }
        writerLock.lock()
        defer { unlockWriter() }
        guard let writer, group.isOpen, writer.depth == 0 else { return }
        if let batch, !group.isBatch(batch) { return }
        try? group.commit(writer.connection)
    }
}
