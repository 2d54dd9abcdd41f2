internal import CSQLite

/// Stepping a statement to its rows or its effect.
extension SQLiteConnection {
    /// All rows of `statement`, decoded as `T`.
    func rows<T: Decodable>(_ statement: SQLiteStatement, as type: T.Type) throws -> [T] {
        guard try step(statement) else { return [] }
        let decoder = statement.decoder(for: T.self)
        var rows = RowCollector<T>()
        do {
            if let byPosition = decoder.byPosition {
                // A RowDecodable type: each row made in its slot by init(row:), with a reader
                // valid for that row only.
                defer { decoder.endReaders() }
                repeat {
                    try byPosition.read(RowReader(decoder), into: rows.slot())
                    decoder.endReaders()
                    rows.filled()
                } while try step(statement)
            } else {
                repeat {
                    rows.slot().initialize(to: try decoder.decodeRow(T.self))
                    rows.filled()
                } while try step(statement)
            }
        } catch {
            rows.release()
            throw error
        }
        return rows.array()
    }

    /// The first row of `statement` decoded as `T`; throws ``NoValue`` for no row or a
    /// one-column NULL (which `one` turns into `nil`).
    ///
    /// Not `T?`: the callers are generic over their result, and handing them `T?` makes the
    /// runtime look up `Optional<T>`'s metadata on every call (≈ 325 instructions).
    func firstRow<T: Decodable>(_ statement: SQLiteStatement, as type: T.Type) throws -> T {
        guard try step(statement) else { throw NoValue() }
        // A write with RETURNING made all its changes in that first step. Reset it once the row
        // is decoded, so the write is finished before this returns: the write queue releases the
        // write's savepoint next, which SQLite refuses while the statement is still running.
        defer { if !statement.isReadOnly { sqlite3_reset(statement.handle) } }
        let decoder = statement.decoder(for: T.self)
        do {
            return try decoder.decodeRow(T.self)
        } catch  where decoder.metNullScalar {
            throw NoValue()
        }
    }

    /// Runs `statement` to the end: what it changed and the rowid it inserted.
    func execute(_ statement: SQLiteStatement) throws -> ExecResult {
        let before = sqlite3_total_changes64(handle)
        sqlite3_set_last_insert_rowid(handle, 0)
        while try step(statement) {}
        let changed = sqlite3_total_changes64(handle) != before
        return ExecResult(
            changes: changed ? Int(sqlite3_changes64(handle)) : 0,
            lastId: statement.inserts ? sqlite3_last_insert_rowid(handle) : 0)
    }
}
