/// Where each statement runs: reads on the reader pool (or the writer, inside `tx` and for the
/// callers that wrote into the open batch), writes on the writer, as a unit of the batch.
extension SQLiteStore {
    // MARK: Reads

    func query<T: Decodable>(_ sql: String, _ params: Parameters, access: Access) throws -> [T] {
        try read(sql, params, access: access) { connection, statement in
            try connection.rows(statement, as: T.self)
        }
    }

    func one<T: Decodable>(_ sql: String, _ params: Parameters, access: Access) throws -> T? {
        do {
            return try read(sql, params, access: access) { connection, statement in
                try connection.firstRow(statement, as: T.self)
            }
        } catch is NoValue {
            return nil
        }
    }

    func exec(_ sql: String, _ params: Parameters, access: Access) throws -> ExecResult {
        if LaneThread.inReadBody { throw StoreError.writeInRead("exec", sql: sql) }
        return try onWriter(sql, params, access: access) { connection, statement in
            try connection.execute(statement)
        }
    }

    /// Thrown inside a reader when the statement turns out to write.
    struct NeedsWriter: Error {}

    func read<R>(
        _ sql: String, _ params: Parameters, access: Access,
        _ run: (SQLiteConnection, SQLiteStatement) throws -> R
    ) throws -> R {
        try checkOpen()
        // Reads run on the pool, on committed rows, never waiting for the write queue's batch;
        // the writer serves those inside `tx`, and the callers that wrote into the open batch
        // (read-your-writes).
        guard let readerPool, !writerLock.isHeldByCurrentThread else {
            return try onWriter(sql, params, access: access, decodes: true, run)
        }
        if let group, group.isOpenForReaders, group.wroteIntoOpenBatch(currentCallerKey()) {
            return try onWriter(sql, params, access: access, decodes: true, run)
        }
        do {
            return try readerPool.withConnection { connection in
                try connection.withStatement(sql, params, access: access) { statement in
                    guard statement.isReadOnly else { throw NeedsWriter() }
                    return try run(connection, statement)
                }
            }
        } catch is NeedsWriter {
            if LaneThread.inReadBody { throw StoreError.writeInRead("a statement that writes", sql: sql) }
            return try onWriter(sql, params, access: access, decodes: true, run)
        }
    }

    // MARK: Writes

    /// Runs one statement on the writer: inside the open `tx`, as a write unit of the batch, or
    /// on its own (autocommit).
    ///
    /// - Parameter decodes: Whether `run` decodes rows (`query`, `one`): a write whose returned
    ///   rows fail to decode is then undone, as any failed call is — in its own transaction
    ///   (autocommit), its own savepoint (inside `tx`), or its unit of the batch.
    func onWriter<R>(
        _ sql: String, _ params: Parameters, access: Access, decodes: Bool = false,
        _ run: (SQLiteConnection, SQLiteStatement) throws -> R
    ) throws -> R {
        try withWriter { writer in
            let connection = writer.connection
            return try connection.withStatement(sql, params, access: access) { statement in
                if !statement.isReadOnly {
                    if mode != .readWrite { throw StoreError.readOnlyStore(sql: sql) }
                    // A read body on the writer (in memory, or reading its caller's batch).
                    if LaneThread.inReadBody { throw StoreError.writeInRead("a statement that writes", sql: sql) }
                }
                /// Runs the statement, its errors free of bound values before the transaction
                /// logic copies them (a lost batch's error reaches other callers and `onBatch`).
                /// What it wrote is logged inside its own transaction level (a unit's savepoint).
                func runRedacted() throws -> R {
                    do {
                        return try connection.loggingWrites(statement) { try run(connection, statement) }
                    } catch let error as StoreError where params.count > 0 {
                        throw error.redacting(params.boundValues)
                    }
                }
                if writer.depth > 0 || writer.group?.isOpen == true && statement.isReadOnly {
                    if writer.depth > 0, writer.group?.sharesBatch == true, !statement.isReadOnly,
                        try connection.mayRollBackTransaction(statement)
                    {
                        throw StoreError.rollbackInSharedBatch(sql: sql)
                    }
                    if decodes && !statement.isReadOnly {
                        return try writer.guarded { try undoneOnFailure(connection, runRedacted) }
                    }
                    return try writer.guarded(runRedacted)
                }
                if let group, !statement.isReadOnly {
                    // A statement that can roll back the whole transaction runs in a batch of
                    // its own, so that it can take no one else's writes with it.
                    if group.sharesBatch, try connection.mayRollBackTransaction(statement) {
                        try group.commit(connection)
                    }
                    return try group.unit(writer, caller: currentCallerKey(), runRedacted)
                }
                if decodes && !statement.isReadOnly { return try decodedInTransaction(writer, runRedacted) }
                return try runRedacted()
            }
        }
    }

    /// A write whose returned rows are decoded, inside a transaction: in a savepoint of its own,
    /// rolled back when the call fails (a row that does not decode). No row, or a one-column
    /// NULL, is no failure: the write stands.
    private func undoneOnFailure<R>(_ connection: SQLiteConnection, _ work: () throws -> R) throws -> R {
        try connection.run("savepoint orion_returning")
        connection.writeLog.begin()
        do {
            let result = try work()
            try connection.run("release orion_returning")
            connection.writeLog.release()
            return result
        } catch let noValue as NoValue {
            try connection.run("release orion_returning")
            connection.writeLog.release()
            throw noValue
        } catch {
            if !connection.isAutocommit {
                try? connection.run("rollback to orion_returning")
                try? connection.run("release orion_returning")
            }
            connection.writeLog.rollBack()
            throw error
        }
    }

    /// The same outside any transaction: the write and the decoding of its rows in one
    /// transaction, committed only when both succeed.
    private func decodedInTransaction<R>(_ writer: Writer, _ work: () throws -> R) throws -> R {
        let connection = writer.connection
        try connection.run("begin immediate")
        connection.writeLog.begin()
        let result: Result<R, any Error>
        do {
            result = .success(try work())
        } catch let noValue as NoValue {
            result = .failure(noValue)
        } catch {
            writer.rollbackIfOpen()
            throw error
        }
        do {
            try connection.run("commit")
        } catch {
            writer.rollbackIfOpen()
            throw error
        }
        connection.announceCommit()
        return try result.get()
    }
}
