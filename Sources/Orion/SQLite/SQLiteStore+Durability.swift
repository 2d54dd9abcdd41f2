import Synchronization

/// Durability and the store's end: committing the write queue's batch on demand, waiting for
/// it, closing.
extension SQLiteStore {
    /// Commits the write queue's open batch now.
    ///
    /// Returns once the COMMIT is done: durable as ``synchronous`` makes it (`.full`: on disk;
    /// `.normal`: survives the process, an OS crash may lose it). Without a write queue every
    /// write is already committed and this only checks the store is usable.
    ///
    /// - Throws: ``StoreError`` when the store is closed, the write queue stopped after a lost
    ///   batch, the commit fails, or it is called inside a `tx` body.
    public func flush() throws {
        if LaneThread.inReadBody { throw StoreError.writeInRead("flush()") }
        try withWriter { writer in
            guard writer.depth == 0 else {
                throw StoreError(.misuse, "flush() inside tx would commit the transaction's unfinished writes; call it after tx returns")
            }
            if let group, group.isOpen { try group.commit(writer.connection) }
        }
        if let stopped = group?.stoppedError { throw stopped }
    }

    /// Waits until every write made before this call is committed, without forcing an early
    /// commit: the group-commit acknowledgement a handler awaits before it answers.
    ///
    /// ```swift
    /// try await store.write { try Orders.insert(orders, order) }
    /// try await store.durable()      // now it is safe to say "order placed"
    /// ```
    ///
    /// - Throws: ``StoreError`` when the batch holding those writes was lost (the write queue
    ///   stopped), or the store is closed.
    public func durable() async throws {
        try checkOpen()
        try await group?.durable()
    }

    /// The write queue's totals: batches, writes, mean batch size, commit time.
    public var writeQueueMetrics: WriteQueueMetrics {
        group?.metrics ?? WriteQueueMetrics()
    }

    /// Commits the open batch, closes every connection, and makes later calls throw.
    ///
    /// Calling it again does nothing. Calls already running finish first.
    ///
    /// - Throws: ``StoreError`` when the final commit fails (its writes are lost, and said so)
    ///   or when called inside a `tx` body.
    public func close() throws {
        if writerLock.isHeldByCurrentThread {
            throw StoreError(.misuse, "close() inside tx cannot finish the transaction it is part of; call it after tx returns")
        }
        // Callers waiting for a lane hear at once that the store is closing; bodies already
        // running finish first (the writer's below), for at most the busy timeout: a body that
        // waits for this close() (on another thread) would otherwise never return.
        readLane.close()
        writeLane.close()
        guard writerLock.lock(until: monotonicNanoseconds() &+ busyTimeoutNanoseconds) else {
            throw StoreError.laneBusy(
                waited: busyTimeoutNanoseconds,
                for: "in close() for the writer, which a write or tx body still held (one waiting for this close()?); the store is not closed: call close() again once that body has returned")
        }
        var failure: (any Error)?
        if let closing = writer, let group, group.isOpen {
            do { try group.commit(closing.connection) } catch { failure = error }
        }
        closed.store(true, ordering: .sequentiallyConsistent)
        writer = nil
        unlockWriter()
        readerPool?.close()
        group?.failWaiters(with: StoreError(.closed, "the store was closed before the write was committed"))
        otherWriters.stop()
        changeHub.finish()
        if let failure { throw failure }
    }

    /// At process exit (`exit()`, returning from `main`): commit the open batch if the writer
    /// is free within a second. A `tx` body still running keeps its batch uncommitted (whole,
    /// never in part) rather than hanging the exit; that loss is reported like any other.
    func commitAtExit() {
        guard let group, group.isOpenForReaders else { return }
        let busy = writerLock.isHeldByCurrentThread ? "exit was called inside a tx body" : nil
        guard busy == nil, writerLock.lock(attempts: 1000) else {
            group.reportLostAtExit(reason: busy ?? "the writer stayed busy for a second (a tx body still running on another thread?)")
            return
        }
        if let writer, group.isOpen { try? group.commit(writer.connection) }
        unlockWriter()
    }
}
