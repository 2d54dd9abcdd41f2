import Foundation
import Testing

@testable import Orion

@Suite("Resource bounds")
struct ResourceTests {
    let dir = TempDir()

    @Test("10,000 distinct SQL texts: every connection's statement cache and the query log stay within their bounds")
    func distinctTexts() throws {
        let store = try SQLiteStore(path: dir.path(), readers: 2, statementCacheSize: 64)
        try store.migrate("t", ["create table t (x integer)"])
        let log = QueryLog(capacity: 100, maxStatements: 200)
        let instrumented = InstrumentedStore(store, sample: 1, onQuery: log.record)
        for i in 0..<10_000 {
            // Each text is new: a literal in it makes it so.
            if i.isMultiple(of: 2) {
                try instrumented.exec("insert into t (x) values (\(i))")
            } else {
                let _: Int? = try instrumented.one("select count(*) + \(i) from t")
            }
        }
        #expect(try store.writerCacheCount() <= 64)
        #expect(store.readerCacheMaxForTests() <= 64)
        #expect(store.readerCacheMaxForTests() > 0, "the reads ran on the pool")
        let snapshot = log.snapshot()
        #expect(snapshot.recent.count == 100)
        #expect(snapshot.statements.count == 200)
        #expect(snapshot.overflow == 10_000 - 200)
        #expect(snapshot.recorded == 10_000)
        #expect(try store.one("select count(*) from t") == 5_000)
    }

    @Test("closing a store releases every connection and file it opened (counted in a process of its own)")
    func descriptors() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
        child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
        child.arguments = ["descriptors", dir.path()]
        let pipe = Pipe()
        child.standardOutput = pipe
        try child.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0, "\(output)")
        let counts = output.split(separator: "\n").first { $0.hasPrefix("descriptors ") }?.split(separator: " ").dropFirst().compactMap { Int($0) } ?? []
        try #require(counts.count == 3, "\(output)")
        #expect(counts[1] >= counts[0] + 5, "the store had its files open (database, WAL, shm, readers): \(counts)")
        #expect(counts[2] == counts[0], "descriptors before, in use, after close: \(counts)")
    }
}
