import CSQLite
import Foundation
import Testing

@testable import Orion

/// `SQLITE_FULL` without filling a disk: the writer connection's page budget
/// (`pragma max_page_count`, set past the fence by the test) runs out. The write queue's cases
/// (a batch that SQLite ends, a write that fails alone) are in WriteQueueTests.
@Suite("Full disks and files that cannot be written")
struct FullDiskTests {
    let dir = TempDir()

    /// 200 rows of 2,000 bytes: about 100 pages more than the budget allows.
    static let fill = "with recursive n(i) as (select 1 union all select i + 1 from n where i < 200) insert into big (pad) select randomblob(2000) from n"

    /// A store whose writer may grow the file by `pages` pages only.
    func budgeted(pages: Int = 20) throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("big", ["create table big (id integer primary key, pad blob not null)"])
        try store.exec("insert into big (pad) values (x'00')")
        let now: Int = try store.one("pragma page_count") ?? 0
        try store.runOnWriterForTests("pragma max_page_count = \(now + pages)")
        return store
    }

    func rows(_ store: SQLiteStore) throws -> Int { try store.one("select count(*) from big") ?? -1 }

    @Test("an autocommit write that fills the disk: a clear error, none of its rows, and the store writes again once there is room")
    func autocommit() throws {
        let store = try budgeted()
        let error = expectStoreError(.io) { try store.exec(Self.fill) }
        #expect(error?.sqliteCode == SQLITE_FULL, "\(String(describing: error))")
        #expect(error?.message.contains("database or disk is full") == true, "\(String(describing: error))")
        #expect(try rows(store) == 1)
        #expect(try store.one("pragma integrity_check") == "ok")
        try store.exec("insert into big (pad) values (x'01')")
        try store.runOnWriterForTests("pragma max_page_count = 1000000")
        try store.exec(Self.fill)
        #expect(try rows(store) == 202)
    }

    @Test("a tx that fills the disk: it throws, and none of it stays, its first writes included")
    func transaction() throws {
        let store = try budgeted()
        let error = expectStoreError(.io) {
            try store.tx {
                try store.exec("insert into big (pad) values (x'02')")
                for _ in 0..<200 { try store.exec("insert into big (pad) values (randomblob(2000))") }
            }
        }
        #expect(error?.sqliteCode == SQLITE_FULL, "\(String(describing: error))")
        #expect(try rows(store) == 1)
        #expect(try store.one("select count(*) from big where pad = x'02'") == 0)
        // A body that catches the failure: when SQLite ended the transaction (a single-row
        // insert has no statement journal, so SQLITE_FULL rolls back everything), the tx throws
        // and none of it stays — not even the writes after the caught failure.
        let ended = expectStoreError(.io) {
            try store.tx {
                try store.exec("insert into big (pad) values (x'03')")
                for _ in 0..<200 { _ = try? store.exec("insert into big (pad) values (randomblob(2000))") }
                try store.exec("insert into big (pad) values (x'04')")
            }
        }
        #expect(ended?.sqliteCode == SQLITE_FULL, "\(String(describing: ended))")
        #expect(try rows(store) == 1)
        // When SQLite undid only the statement (a multi-row insert has a statement journal),
        // the caught failure left nothing of itself, and the rest of the body commits.
        try store.tx {
            try store.exec("insert into big (pad) values (x'05')")
            _ = try? store.exec(Self.fill)
            try store.exec("insert into big (pad) values (x'06')")
        }
        #expect(try rows(store) == 3)
        try store.exec("delete from big where pad in (x'05', x'06')")
        try store.runOnWriterForTests("pragma max_page_count = 1000000")
        try store.tx { try store.exec(Self.fill) }
        #expect(try rows(store) == 201)
    }

    @Test("a migration entry that fills the disk: the error names the entry, it is not recorded, and the next boot applies it")
    func migration() throws {
        let store = try budgeted()
        let entries = ["create table more (pad blob)", Self.fill.replacingOccurrences(of: "into big", with: "into more")]
        let error = expectStoreError(.migration) { try store.migrate("more", entries) }
        #expect(error?.message.contains("more[1]") == true, "\(String(describing: error))")
        #expect(error?.message.contains("full") == true, "\(String(describing: error))")
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'more'") == 1)
        #expect(try store.one("select count(*) from more") == 0)
        try store.runOnWriterForTests("pragma max_page_count = 1000000")
        try store.migrate("more", entries)
        #expect(try store.one("select count(*) from more") == 200)
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'more'") == 2)
    }

    @Test("a file that is not a database: a clear error at open that names it")
    func notADatabase() throws {
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: dir.path()))
        let error = expectStoreError(.io) { _ = try SQLiteStore(path: dir.path()) }
        #expect(error?.message.contains(dir.path()) == true, "\(String(describing: error))")
        #expect(error?.sqliteCode == SQLITE_NOTADB)
        #expect(error?.message.contains("not a SQLite database") == true, "\(String(describing: error))")
    }

    @Test("a file this process may not write: a clear error at open that says how to read it")
    func readOnlyFile() throws {
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.close()
        // Root writes past permissions: make the file immutable instead (ext4), else read-only.
        let immutable = getuid() == 0
        if immutable {
            let chattr = Process()
            chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            chattr.currentDirectoryURL = FileManager.default.temporaryDirectory
            chattr.arguments = ["+i", dir.path()]
            try chattr.run()
            chattr.waitUntilExit()
            guard chattr.terminationStatus == 0 else {
                Issue.record("chattr +i failed: this file system cannot make the file read-only for root")
                return
            }
        } else {
            chmod(dir.path(), 0o444)
        }
        defer {
            if immutable {
                let chattr = Process()
                chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
                chattr.currentDirectoryURL = FileManager.default.temporaryDirectory
                chattr.arguments = ["-i", dir.path()]
                try? chattr.run()
                chattr.waitUntilExit()
            }
            chmod(dir.path(), 0o644)
        }
        let error = expectStoreError(.readOnly) { _ = try SQLiteStore(path: dir.path()) }
        #expect(error?.message.contains(dir.path()) == true, "\(String(describing: error))")
        #expect(error?.message.contains("mode: .readOnly") == true, "\(String(describing: error))")
        let reader = try SQLiteStore(path: dir.path(), mode: .readOnly)
        #expect(try reader.one("select count(*) from t") == 0)
    }
}
