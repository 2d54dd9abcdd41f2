import Foundation
import Testing

@testable import Orion

/// How long the multi-process suites run: a few seconds in `scripts/test` (CI), longer under
/// `scripts/soak`, which sets `ORION_SOAK=1`.
enum Soak {
    static let on = ProcessInfo.processInfo.environment["ORION_SOAK"] == "1"
    /// SIGKILLs per configuration of the crash loop: 4 configurations, so 52 in CI, 200 soaking.
    static let killsPerConfiguration = on ? 50 : 13
    /// Seconds the many-process run writes.
    static let manySeconds = on ? 30 : 5
}

@Suite("Crash safety: SIGKILL at random points")
struct CrashTests {
    struct Config: Sendable, CustomTestStringConvertible {
        let queue: Bool
        let synchronous: String
        var testDescription: String { "\(queue ? "queue" : "no queue"), synchronous \(synchronous)" }
    }

    struct Incomplete: Decodable {
        let batch: Int
    }

    @Test(
        "after each kill the file is intact, every acknowledged write is there, no transaction, savepoint or migration entry is partial",
        arguments: [
            Config(queue: true, synchronous: "normal"), Config(queue: true, synchronous: "full"),
            Config(queue: false, synchronous: "normal"), Config(queue: false, synchronous: "full"),
        ])
    func kills(config: Config) async throws {
        try await MachineLoad.alone { try killLoop(config: config) }
    }

    private func killLoop(config: Config) throws {
        let dir = TempDir()
        let path = dir.path()
        var kills = 0
        var lastAcked = 0
        var lastSolo = 0
        var bootsKilled = 0
        for round in 0..<Soak.killsPerConfiguration {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
            child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
            // Each boot brings two migration entries more than the last, so kills land in
            // migrations too (the early kills especially).
            child.arguments = ["crash", path, config.queue ? "queue" : "plain", config.synchronous, "\(2 * round + 2)"]
            // Output to a file, not a pipe: a pipe nobody reads until the kill fills up, and
            // the child would block on it outside any write.
            let outputPath = dir.path("child-\(round).out")
            FileManager.default.createFile(atPath: outputPath, contents: nil)
            let outputFile = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            child.standardOutput = outputFile
            try child.run()
            usleep(UInt32.random(in: 5_000...(round.isMultiple(of: 2) ? 80_000 : 250_000)))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            try outputFile.close()
            let output = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
            #expect(child.terminationReason == .uncaughtSignal, "the child ended on its own: \(output)")
            kills += 1
            #expect(!output.contains("error:"), "\(output)")
            if !output.contains("booted") { bootsKilled += 1 }
            for line in output.split(separator: "\n") {
                if line.hasPrefix("acked ") { lastAcked = max(lastAcked, Int(line.dropFirst(6)) ?? 0) }
                if line.hasPrefix("solo ") { lastSolo = max(lastSolo, Int(line.dropFirst(5)) ?? 0) }
            }

            let store = try SQLiteStore(path: path)
            defer { try? store.close() }
            #expect(try store.one("pragma integrity_check") == "ok")
            // Every migration entry recorded as applied is whole, and none is there unrecorded
            // (a kill before the first migration leaves no _orion_migrations at all).
            let hasMigrations: Int? = try store.one("select count(*) from sqlite_schema where name = '_orion_migrations'")
            let applied: [Int] = hasMigrations == 1 ? try store.query("select idx from _orion_migrations where feature = 'crashboot' order by idx") : []
            #expect(applied == Array(0..<applied.count), "entries applied out of order: \(applied)")
            let bootTables: [String] = try store.query("select name from sqlite_schema where type = 'table' and name like 'boot\\_%' escape '\\'")
            #expect(bootTables.count == applied.count, "tables \(bootTables.count), entries recorded \(applied.count)")
            for i in applied {
                let rows: Int? = try? store.one("select count(*) from boot_\(i)")
                #expect(rows == 3, "migration entry \(i) kept in part: \(rows.map(String.init) ?? "no table")")
            }
            let hasTable: Int? = try store.one("select count(*) from sqlite_schema where name = 'crash'")
            guard hasTable == 1 else { continue }
            let maxN: Int = try store.one("select coalesce(max(n), 0) from crash") ?? -1
            let count: Int = try store.one("select count(*) from crash where n > 0") ?? -1
            #expect(maxN >= lastAcked, "acknowledged \(lastAcked) but only \(maxN) survived")
            #expect(count == maxN, "the surviving writes are not a prefix: a batch was partly kept")
            let partial: [Incomplete] = try store.query(
                "select batch from crash group by batch having count(*) != max(size)")
            #expect(partial.isEmpty, "transactions kept in part: \(partial.map(\.batch))")
            #expect(try store.one("select count(*) from crash where doomed = 1 or n < 0") == 0, "a rolled-back savepoint's rows survived")
            // The second entry of the child's feature: a kill can land between the two.
            guard try store.one("select count(*) from sqlite_schema where name = 'crash_solo'") == 1 else { continue }
            let maxSolo: Int = try store.one("select coalesce(max(n), 0) from crash_solo") ?? -1
            let soloCount: Int = try store.one("select count(*) from crash_solo") ?? -1
            #expect(maxSolo >= lastSolo, "acknowledged single write \(lastSolo) but only \(maxSolo) survived")
            #expect(soloCount == maxSolo, "the surviving single writes are not a prefix")
        }
        #expect(kills == Soak.killsPerConfiguration)
        #expect(lastAcked > 0, "the child never acknowledged a transaction; the test proved nothing")
        #expect(lastSolo > 0, "the child never acknowledged a single write; the test proved nothing")
        print("crash loop (\(config.testDescription)): \(kills) kills, \(bootsKilled) during boot, \(lastAcked) transaction rows and \(lastSolo) single writes acknowledged")
    }
}

@Suite("Many processes on one file")
struct ManyProcessTests {
    @Test("4 processes × 2 threads write and read one file: no error surfaces, every count exact, the boot's migrations apply once")
    func fourProcesses() async throws {
        try await MachineLoad.alone { try run() }
    }

    private func run() throws {
        let dir = TempDir()
        let path = dir.path()
        let children = (0..<4).map { process in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: builtExecutable("OrionTestChild"))
            child.currentDirectoryURL = FileManager.default.temporaryDirectory  // not the current folder: another suite may remove it
            child.arguments = ["many", path, "\(Soak.manySeconds)", "2", process < 2 ? "queue" : "plain", "\(process)"]
            child.standardOutput = Pipe()
            return child
        }
        for child in children { try child.run() }
        var written = 0
        var each: [Int] = []
        for (process, child) in children.enumerated() {
            let output = String(decoding: (child.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            #expect(child.terminationStatus == 0, "process \(process): \(output)")
            #expect(!output.contains("error:"), "process \(process): \(output)")
            let count = output.split(separator: "\n").first { $0.hasPrefix("wrote ") }.flatMap { Int($0.dropFirst(6)) }
            #expect(count ?? 0 > 0, "process \(process) wrote nothing: \(output)")
            written += count ?? 0
            each.append(count ?? 0)
        }
        // Fair turns (WriterTurns): no process is starved of the write lock by the others.
        #expect(each.allSatisfy { $0 * 20 >= written }, "each process's share of \(written) transactions: \(each)")
        let store = try SQLiteStore(path: path)
        defer { try? store.close() }
        #expect(try store.one("pragma integrity_check") == "ok")
        #expect(try store.one("select count(*) from _orion_migrations where feature = 'many'") == 3)
        #expect(try store.one("select n from counter where id = 1") == written)
        #expect(try store.one("select count(*) from ledger") == written)
        // Each thread's rows are 1…k with no gap: no acknowledged transaction went missing.
        #expect(try store.one("select count(*) from (select process, thread from ledger group by 1, 2 having max(seq) != count(*))") == 0)
        #expect(try store.one("select count(*) from (select distinct process, thread from ledger)") == 8)
        print("many processes: 4 × 2 threads for \(Soak.manySeconds) s, \(written) transactions (\(each.map(String.init).joined(separator: " + ")))")
    }
}

@Suite("Writer turns between processes")
struct WriterTurnsTests {
    @Test("a writer that waits is marked in the turns file, and the holder stands aside for it")
    func standsAside() throws {
        let dir = TempDir()
        let holder = try SQLiteStore(path: dir.path())
        try holder.migrate("t", ["create table t (x integer)"])
        let waiter = try SQLiteStore(path: dir.path())
        #expect(FileManager.default.fileExists(atPath: dir.path() + "-orion-turns"))
        #expect(holder.hasWriterTurnsForTests && waiter.hasWriterTurnsForTests)
        // The holder's transaction keeps the lock until the waiter's insert has marked the
        // turns file (its wait), and 50 ms more; right after it the holder writes again, which
        // would retake the lock within microseconds. It stands aside instead, so the waiter's
        // row lands first.
        let waiting = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let turns = dir.path() + "-orion-turns"
        Thread {
            try? holder.tx {
                try holder.exec("insert into t values (1)")
                waiting.signal()
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline, (FileManager.default.contents(atPath: turns) ?? Data()).allSatisfy({ $0 == 0 }) {
                    usleep(1_000)
                }
                usleep(50_000)
            }
            try? holder.exec("insert into t values (3)")
            finished.signal()
        }.start()
        waiting.wait()
        Thread {
            try? waiter.exec("insert into t values (2)")
            finished.signal()
        }.start()
        finished.wait()
        finished.wait()
        #expect(try holder.query("select x from t order by rowid") == [1, 2, 3])
    }

    @Test("a mark left by another clock (before a reboot) is taken down, and costs no write a wait")
    func staleMark() throws {
        let dir = TempDir()
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.close()
        // Another process's token, expiring an hour from now by this clock: no mark lives that long.
        var words: [UInt64] = [0xDEAD_BEEF, monotonicNanoseconds() + 3_600_000_000_000]
        let turns = FileHandle(forUpdatingAtPath: dir.path() + "-orion-turns")!
        try turns.write(contentsOf: Data(bytes: &words, count: 16))
        try turns.close()
        let reopened = try SQLiteStore(path: dir.path())
        let start = ContinuousClock.now
        for i in 0..<50 { try reopened.exec("insert into t (x) values (?)", i) }
        #expect(ContinuousClock.now - start < .milliseconds(500), "50 writes stood aside for a dead mark")
        let left = try Data(contentsOf: URL(fileURLWithPath: dir.path() + "-orion-turns"))
        #expect(left.prefix(8).allSatisfy { $0 == 0 }, "the stale mark is still there")
    }

    @Test("the turns file gets the database's permissions, and is never made through a symbolic link")
    func permissionsAndLinks() throws {
        let dir = TempDir()
        let made = try SQLiteStore(path: dir.path())
        try made.close()
        try FileManager.default.removeItem(atPath: dir.path() + "-orion-turns")
        chmod(dir.path(), 0o664)
        let store = try SQLiteStore(path: dir.path())
        var status = stat()
        #expect(stat(dir.path() + "-orion-turns", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o664)
        try store.close()
        // A link planted where the file goes is not followed: the store writes without turns.
        try FileManager.default.removeItem(atPath: dir.path() + "-orion-turns")
        let victim = dir.path("victim")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: dir.path() + "-orion-turns", withDestinationPath: victim)
        let linked = try SQLiteStore(path: dir.path())
        #expect(!linked.hasWriterTurnsForTests)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
    }

    @Test("when the turns file cannot be made, the store writes without it")
    func noTurnsFile() throws {
        let dir = TempDir()
        // A folder where the file would go: opening it for writing fails, for root too.
        try FileManager.default.createDirectory(atPath: dir.path() + "-orion-turns", withIntermediateDirectories: false)
        let store = try SQLiteStore(path: dir.path())
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        #expect(!store.hasWriterTurnsForTests)
        #expect(try store.one("select count(*) from t") == 1)
    }
}
