// A helper process for Orion's tests (not part of the library): the tests start it to prove
// what happens across processes — waiting on each other's locks, booting at the same time,
// and being killed in the middle of writing.
import Foundation
import Orion

/// A RowDecodable that keeps its reader, to use it after init(row:) returned (a misuse).
struct KeepsReader: RowDecodable {
    nonisolated(unsafe) static var kept: RowReader?
    let x: Int
    init(row: RowReader) throws {
        x = try row.int(0)
        Self.kept = row
    }
    init(from decoder: any Decoder) throws { x = 0 }
}

/// Prints a line and pushes it out at once: the parent reads these as they happen.
func say(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write("usage: OrionTestChild hold|hold-until-released|migrate|exit-with-batch|exit-with-busy-writer|crash|many|descriptors DB …\n".data(using: .utf8)!)
    exit(2)
}
let path = arguments[2]

/// Entry `i` of the feature the crash child migrates at boot: a table filled by three
/// statements, so a kill inside the entry would show as a table with fewer rows.
func crashBootEntry(_ i: Int) -> String {
    "create table boot_\(i) (k integer primary key); insert into boot_\(i) values (1); insert into boot_\(i) values (2); insert into boot_\(i) values (3)"
}

do {
    switch arguments[1] {
    case "hold":
        // Holds the write lock for N milliseconds inside a transaction, then commits.
        let milliseconds = UInt32(arguments[3])!
        let store = try SQLiteStore(path: path)
        try store.tx {
            try store.exec("insert into todos (title) values ('from the child')")
            say("locked")
            usleep(milliseconds * 1000)
        }
        say("committed")
    case "kept-row-reader":
        // Keeps a RowReader past init(row:) and uses it after the store closed: a misuse the
        // store must stop with a sentence, not a crash inside SQLite.
        let store = try SQLiteStore(path: path)
        try store.migrate("t", ["create table t (x integer)", "insert into t values (7)"])
        let _: [KeepsReader] = try store.query("select x from t")
        try store.close()
        say("using the kept reader")
        _ = try? KeepsReader.kept?.int(0)
        say("read it")
    case "turns-cut-short":
        // Cuts the turns file short while the store uses it, then writes on (no SIGBUS).
        let store = try SQLiteStore(path: path)
        try store.migrate("t", ["create table t (x integer)"])
        try store.exec("insert into t values (1)")
        guard truncate(path + "-orion-turns", 0) == 0 else {
            say("could not cut the turns file")
            exit(3)
        }
        for i in 0..<100 { try store.exec("insert into t values (?)", i) }
        let other = try SQLiteStore(path: path)
        try other.exec("insert into t values (2)")
        let count: Int? = try store.one("select count(*) from t")
        say("rows \(count ?? -1)")
    case "hold-until-released":
        // Holds the write lock inside a transaction until a line (or the end) arrives on
        // standard input, then commits.
        let store = try SQLiteStore(path: path)
        try store.tx {
            try store.exec("insert into todos (title) values ('from the child')")
            say("locked")
            _ = readLine()
        }
        say("committed")
    case "migrate":
        // Boots like an app: migrates the given feature's entries.
        let feature = arguments[3]
        let count = Int(arguments[4])!
        let store = try SQLiteStore(path: path)
        let entries = (0..<count).map { i in
            i == 0 ? "create table \(feature)_t (id integer primary key, n integer)" : "insert into \(feature)_t (n) values (\(i))"
        }
        try store.migrate(feature, entries)
        say("migrated")
    case "exit-with-batch":
        // Writes into a batch that would stay open for a minute, then exits normally.
        let store = try SQLiteStore(path: path, writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)))
        for i in 0..<5 { try store.exec("insert into todos (title) values (?)", "at exit \(i)") }
        say("written")
        exit(0)
    case "exit-with-busy-writer":
        // Writes three units into a batch, then exits while another thread's tx holds the
        // writer: the exit cannot commit the batch, and must say so.
        let store = try SQLiteStore(path: path, writeQueue: WriteQueue(maxBatch: 1000, maxDelay: .seconds(60)))
        for i in 0..<3 { try store.exec("insert into todos (title) values (?)", "at exit \(i)") }
        let inside = DispatchSemaphore(value: 0)
        Thread {
            try? store.tx {
                try store.exec("insert into todos (title) values ('in a tx that never ends')")
                inside.signal()
                while true { sleep(60) }
            }
        }.start()
        inside.wait()
        say("written")
        exit(0)
    case "crash":
        // Mixed load until killed: migrations at boot (the first BOOT entries of a feature whose
        // every entry creates a table and fills it in several statements, so a kill can land
        // inside one), a thread of transactions with savepoints (a nested tx that commits, one
        // that throws and must leave nothing), and a thread of single autocommit writes.
        // Prints "acked N" once transaction rows up to N are durable as the store promises
        // (after flush() with the queue, after tx returns without), "solo N" the same for the
        // single writes.
        let useQueue = arguments[3] == "queue"
        let synchronous: SQLiteStore.Synchronous = arguments[4] == "full" ? .full : .normal
        let bootEntries = arguments.count > 5 ? Int(arguments[5])! : 0
        let store = try SQLiteStore(
            path: path, writeQueue: useQueue ? WriteQueue(maxBatch: 64, maxDelay: .milliseconds(5)) : nil,
            synchronous: synchronous)
        try store.migrate(
            "crash",
            [
                "create table crash (n integer primary key, batch integer not null, size integer not null, pad text not null, doomed integer not null default 0)",
                "create table crash_solo (n integer primary key)",
            ])
        try store.migrate("crashboot", (0..<bootEntries).map(crashBootEntry))
        say("booted")
        Thread {
            do {
                var n: Int = try store.one("select coalesce(max(n), 0) from crash_solo") ?? 0
                while true {
                    n += 1
                    try store.exec("insert into crash_solo (n) values (?)", n)
                    if useQueue { try store.flush() }
                    say("solo \(n)")
                }
            } catch {
                say("error: \(error)")
                exit(1)
            }
        }.start()
        var n: Int = try store.one("select coalesce(max(n), 0) from crash") ?? 0
        var batch: Int = try store.one("select coalesce(max(batch), 0) from crash") ?? 0
        struct Doomed: Error {}
        while true {
            batch += 1
            let size = Int.random(in: 2...40)
            let split = Int.random(in: 1..<size)
            let base = n
            try store.tx {
                var next = base
                func insert(doomed: Bool = false) throws {
                    next += 1
                    try store.exec(
                        "insert into crash (n, batch, size, pad, doomed) values (?, ?, ?, ?, ?)",
                        doomed ? -next : next, batch, size, String(repeating: "x", count: Int.random(in: 10...400)), doomed)
                }
                for _ in 0..<split { try insert() }
                // A savepoint rolled back: its rows (negative n, doomed) must never survive.
                let before = next
                _ = try? store.tx {
                    try insert(doomed: true)
                    try insert(doomed: true)
                    throw Doomed()
                }
                next = before
                // A savepoint released: its rows are part of the transaction.
                try store.tx {
                    for _ in split..<size { try insert() }
                }
            }
            n = base + size
            if useQueue && Bool.random() { try store.flush() }
            if !useQueue || batch % 2 == 0 {
                if useQueue { try store.flush() }
                say("acked \(n)")
            }
        }
    case "many":
        // One of several processes sharing a file: migrates (racing the others at boot), then
        // THREADS threads each run transactions (a ledger row and a shared counter) and reads
        // for SECONDS; prints "wrote W" with the transactions it committed.
        let seconds = Double(arguments[3])!
        let threads = Int(arguments[4])!
        let useQueue = arguments[5] == "queue"
        let process = Int(arguments[6])!
        let store = try SQLiteStore(
            path: path, writeQueue: useQueue ? WriteQueue(maxBatch: 32, maxDelay: .milliseconds(2)) : nil)
        try store.migrate(
            "many",
            [
                "create table counter (id integer primary key, n integer not null)",
                "insert into counter (id, n) values (1, 0)",
                "create table ledger (process integer not null, thread integer not null, seq integer not null, primary key (process, thread, seq))",
            ])
        let deadline = Date(timeIntervalSinceNow: seconds)
        let failures = Locked<[String]>([])
        let written = Locked(0)
        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    var seq = 0
                    var seen = 0
                    while Date() < deadline {
                        seq += 1
                        try store.tx {
                            try store.exec("insert into ledger (process, thread, seq) values (?, ?, ?)", process, thread, seq)
                            try store.exec("update counter set n = n + 1 where id = 1")
                        }
                        written.withLock { $0 += 1 }
                        // Reads see the counter move forward only: each snapshot is newer.
                        let now: Int = try store.one("select n from counter where id = 1") ?? -1
                        if now < seen { failures.withLock { $0.append("counter went back from \(seen) to \(now)") } }
                        seen = now
                        let mine: Int = try store.one("select count(*) from ledger where process = ? and thread = ?", process, thread) ?? -1
                        // Read-your-writes: the thread's own rows, every one (with the queue its
                        // reads go to the writer while its rows are in the open batch).
                        if mine != seq { failures.withLock { $0.append("thread \(thread) wrote \(seq) rows, reads \(mine)") } }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        done.wait()
        try store.close()
        for failure in failures.withLock({ $0 }) { say("error: \(failure)") }
        say("wrote \(written.withLock { $0 })")
        exit(failures.withLock { $0.isEmpty } ? 0 : 1)
    case "descriptors":
        // Counts this process's open file descriptors before a store opens, while it is in use
        // (reads on several threads, writes through the queue, a backup) and after close().
        // A first store, opened and closed before counting, starts what the process keeps once
        // started (libdispatch's event loop: an epoll, an eventfd and a timerfd).
        func open() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
        func use(_ path: String) throws -> Int {
            let store = try SQLiteStore(path: path, writeQueue: WriteQueue(), readers: 4)
            try store.migrate("fd", ["create table fd (x integer)"])
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                Thread {
                    for i in 0..<200 {
                        try? store.exec("insert into fd (x) values (?)", i)
                        let _: Int? = try? store.one("select count(*) from fd")
                    }
                    group.leave()
                }.start()
            }
            group.wait()
            try store.backup(to: path + ".backup")
            let during = open()
            try store.close()
            return during
        }
        _ = try use(path + ".warm")
        let before = open()
        let during = try use(path)
        let after = open()
        say("descriptors \(before) \(during) \(after)")
    default:
        FileHandle.standardError.write("unknown mode \(arguments[1])\n".data(using: .utf8)!)
        exit(2)
    }
} catch {
    say("error: \(error)")
    exit(1)
}
