internal import CSQLite
import Foundation
import Synchronization

/// How far a backup has got: after each step of ``SQLiteStore/backup(to:replacing:pagesPerStep:progress:)``.
public struct BackupProgress: Sendable, Hashable {
    /// Pages still to copy.
    public let remainingPages: Int
    /// Pages in the database being copied.
    public let totalPages: Int
    /// The share copied, 0…1.
    public var fractionDone: Double {
        totalPages == 0 ? 1 : Double(totalPages - remainingPages) / Double(totalPages)
    }
}

extension SQLiteStore {
    /// Copies the database to `path` while the store keeps serving: an online backup.
    ///
    /// ```swift
    /// try store.backup(to: "/backups/app-2026-11-30.db") { progress in
    ///     print("backup \(Int(progress.fractionDone * 100)) %")
    /// }
    /// ```
    ///
    /// The copy is the database as of one moment — the start of the backup — with every
    /// transaction committed before it and none after, taken with SQLite's
    /// [backup API](https://www.sqlite.org/backup.html) from a read transaction of its own. In WAL
    /// mode a reader never blocks writers, so writes go on at full speed while it runs; they are
    /// simply not in the copy. The copy is written to a temporary file beside `path` and moved
    /// into place when it is complete, so `path` never holds half a backup. Writes still waiting
    /// in the write queue's open batch are not committed, so they are not in it: call ``flush()``
    /// first to include them.
    ///
    /// Only the store itself can back up: a scoped store has no such method, and feature SQL
    /// cannot `VACUUM INTO` or `ATTACH`.
    ///
    /// - Parameters:
    ///   - path: Where the copy goes; a file path, not `":memory:"`.
    ///   - replacing: Overwrite a database file already at `path` (default `false`: refuse).
    ///   - pagesPerStep: Pages copied per step; `progress` is called after each (default 1024).
    ///   - progress: Called on the calling thread after each step.
    /// - Throws: ``StoreError`` when `path` exists (and `replacing` is false) or is this store's
    ///   own file, when the store is closed, or on an I/O error (nothing is left at `path` then).
    public func backup(
        to path: String, replacing: Bool = false, pagesPerStep: Int = 1024, progress: ((BackupProgress) -> Void)? = nil
    ) throws {
        precondition(pagesPerStep >= 1, "backup(to:pagesPerStep:) copies at least one page per step, got \(pagesPerStep)")
        let target = try BackupTarget(path: path, storeFile: path == ":memory:" ? nil : databaseFile, replacing: replacing, operation: "backup")
        try withSnapshot(holdingReadTransaction: true) { source in
            try target.write { partial in
                try Self.copy(from: source.handle, to: partial, pagesPerStep: Int32(clamping: pagesPerStep), progress: progress)
            }
        }
    }

    /// Writes a compacted copy of the database to `path` (`VACUUM INTO`): no free pages, rows in
    /// order, the smallest file that holds the data. Consistent as of one moment, like
    /// ``backup(to:replacing:pagesPerStep:progress:)``, and like it written beside `path` and moved
    /// into place when complete. Slower than a backup on a large database (it rebuilds every
    /// table and index), but the copy is as small as it gets.
    ///
    /// - Parameters:
    ///   - path: Where the copy goes.
    ///   - replacing: Overwrite a database file already at `path` (default `false`: refuse).
    /// - Throws: ``StoreError`` as ``backup(to:replacing:pagesPerStep:progress:)`` does.
    public func vacuumInto(_ path: String, replacing: Bool = false) throws {
        let target = try BackupTarget(path: path, storeFile: path == ":memory:" ? nil : databaseFile, replacing: replacing, operation: "vacuumInto")
        // VACUUM INTO reads in one transaction of its own (it cannot run inside another).
        try withSnapshot(holdingReadTransaction: false) { source in
            try target.write { partial in
                try source.withStatement("vacuum into ?", [.text(partial)], access: .internal) { statement in
                    while try source.step(statement) {}
                }
            }
        }
    }

    /// Runs `body` on a connection that reads the database as of now. A file store opens a
    /// connection of its own for it (the reader pool stays free); an in-memory store has only
    /// its writer, held for the whole copy.
    private func withSnapshot(holdingReadTransaction: Bool, _ body: (SQLiteConnection) throws -> Void) throws {
        if path == ":memory:" {
            try withWriter { writer in
                guard writer.depth == 0 else {
                    throw StoreError(.misuse, "a backup inside tx would copy the transaction's unfinished writes; call it after tx returns")
                }
                if let group, group.isOpen { try group.commit(writer.connection) }
                try body(writer.connection)
            }
            return
        }
        if isClosed { throw StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again") }
        // Read-only and by the file's absolute name (as the writer opened it): a file moved or
        // deleted since is an error, never a new empty database.
        let source = try SQLiteConnection(
            path: databaseFile, role: .reader, synchronous: synchronous, statementCacheSize: 4, timeLimit: nil,
            mode: mode == .immutable ? .immutable : .readOnly)
        guard holdingReadTransaction else { return try body(source) }
        // A read transaction held from here to the end: every step copies the same snapshot,
        // and writers (WAL) are never blocked by it — nor by a checkpoint waiting for it: the
        // store runs only PASSIVE ones meanwhile.
        checkpointer.snapshots.add(1, ordering: .relaxed)
        defer { checkpointer.snapshots.subtract(1, ordering: .relaxed) }
        try source.run("begin")
        defer { try? source.run("rollback") }
        let _: Int? = try source.first("select count(*) from sqlite_schema", [], access: .internal)
        try body(source)
    }

    private static func copy(from source: OpaquePointer, to partial: String, pagesPerStep: Int32, progress: ((BackupProgress) -> Void)?) throws {
        var destination: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let opened = sqlite3_open_v2(partial, &destination, flags, nil)
        defer { sqlite3_close_v2(destination) }
        guard opened == SQLITE_OK, let destination else {
            let message = destination.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            throw SQLiteCodes.error(opened, "cannot create the backup file '\(partial)': \(message)")
        }
        guard let backup = sqlite3_backup_init(destination, "main", source, "main") else {
            throw SQLiteCodes.error(sqlite3_extended_errcode(destination), "cannot start the backup: \(String(cString: sqlite3_errmsg(destination)))")
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, pagesPerStep)
            if rc == SQLITE_OK || rc == SQLITE_DONE {
                progress?(BackupProgress(remainingPages: Int(sqlite3_backup_remaining(backup)), totalPages: Int(sqlite3_backup_pagecount(backup))))
            } else if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                usleep(1000)
                rc = SQLITE_OK
            }
        } while rc == SQLITE_OK
        let finished = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finished == SQLITE_OK else {
            let code = rc == SQLITE_DONE ? finished : rc
            throw SQLiteCodes.error(code, "the backup failed: \(String(cString: sqlite3_errstr(code)))")
        }
        // A standalone file: in rollback-journal mode, so that opening it read-only (or
        // immutable) needs no -wal or -shm beside it. A store that opens it for writing
        // switches it back to WAL.
        let mode = sqlite3_exec(destination, "pragma journal_mode = delete", nil, nil, nil)
        guard mode == SQLITE_OK else {
            throw SQLiteCodes.error(mode, "the backup could not be finished: \(String(cString: sqlite3_errmsg(destination)))")
        }
    }
}

/// Where a backup goes: checked before any work, written beside the target under a temporary
/// name, and moved into place only when complete.
private struct BackupTarget {
    let path: String
    let replacing: Bool

    init(path: String, storeFile: String?, replacing: Bool, operation: String) throws {
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:") else {
            throw StoreError(.misuse, "\(operation) needs a file path to write to, got '\(path)'")
        }
        if let storeFile {
            // The database and the files kept beside it (SQLite's, and the writers' turns), by
            // name and by identity (a hard link or another path to the same file).
            let target = Self.resolved(path)
            for suffix in ["", "-wal", "-shm", "-journal", "-orion-turns"] {
                let own = storeFile + suffix
                if target == Self.resolved(own) || Self.sameFile(path, own) {
                    throw StoreError(.misuse, "\(operation) cannot write over the store's own '\(own)'; give another path")
                }
            }
        }
        let files = FileManager.default
        if files.fileExists(atPath: path) && !replacing {
            throw StoreError(.misuse, "\(operation): '\(path)' already exists; pass replacing: true to overwrite it, or give another path")
        }
        for suffix in ["-wal", "-journal"] where files.fileExists(atPath: path + suffix) {
            throw StoreError(
                .misuse,
                "\(operation): '\(path + suffix)' exists, so a database at '\(path)' may be open or was not closed cleanly; writing over it could corrupt it. Close what uses it, or give another path")
        }
        self.path = path
        self.replacing = replacing
    }

    private static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat()
        var second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    /// Runs `body` with a temporary path beside the target, then moves the complete file into
    /// place (atomically; without `replacing`, never over a file that appeared meanwhile).
    func write(_ body: (String) throws -> Void) throws {
        let partial = path + ".orion-partial-\(UUID().uuidString.prefix(8))"
        let files = FileManager.default
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { try? files.removeItem(atPath: partial + suffix) }
        }
        try body(partial)
        if replacing {
            guard rename(partial, path) == 0 else { throw Self.failure("move the backup into place at", path) }
        } else if link(partial, path) != 0 {
            // File systems without hard links (exFAT, SMB): a rename that refuses to replace.
            let linkError = errno
            if linkError != EEXIST, orion_rename_noreplace(partial, path) == 0 { return Self.syncFolder(of: path) }
            if linkError == EEXIST || errno == EEXIST {
                throw StoreError(.misuse, "'\(path)' appeared while the backup ran; it was left alone (pass replacing: true to overwrite it)")
            }
            throw Self.failure("move the backup into place at", path)
        }
        Self.syncFolder(of: path)
    }

    /// The new name is durable once its folder is.
    private static func syncFolder(of path: String) {
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    private static func failure(_ what: String, _ path: String) -> StoreError {
        StoreError(.io, "cannot \(what) '\(path)': \(String(cString: strerror(errno)))")
    }
}
