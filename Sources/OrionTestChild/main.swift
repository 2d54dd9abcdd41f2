// A helper process for Orion's tests (not part of the library): the tests start it to prove
// what happens across processes — waiting on each other's locks, booting at the same time,
// and being killed in the middle of writing.
import Foundation
import Orion

/// Prints a line and pushes it out at once: the parent reads these as they happen.
func say(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write("usage: OrionTestChild hold|migrate|crash DB …\n".data(using: .utf8)!)
    exit(2)
}
let path = arguments[2]

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
        // Writes numbered rows until killed. Prints "acked N" once row N (and all before it) is
        // durable as the store promises: after flush() (queue) or after exec returns (no queue).
        let useQueue = arguments[3] == "queue"
        let synchronous: SQLiteStore.Synchronous = arguments[4] == "full" ? .full : .normal
        let store = try SQLiteStore(
            path: path, writeQueue: useQueue ? WriteQueue(maxBatch: 64, maxDelay: .milliseconds(5)) : nil,
            synchronous: synchronous)
        try store.migrate("crash", ["create table crash (n integer primary key, batch integer not null, size integer not null, pad text not null)"])
        var n: Int = try store.one("select coalesce(max(n), 0) from crash") ?? 0
        var batch: Int = try store.one("select coalesce(max(batch), 0) from crash") ?? 0
        while true {
            batch += 1
            let size = Int.random(in: 1...40)
            try store.tx {
                for _ in 0..<size {
                    n += 1
                    try store.exec(
                        "insert into crash (n, batch, size, pad) values (?, ?, ?, ?)",
                        n, batch, size, String(repeating: "x", count: Int.random(in: 10...400)))
                }
            }
            if useQueue && Bool.random() { try store.flush() }
            if !useQueue || batch % 2 == 0 {
                if useQueue { try store.flush() }
                say("acked \(n)")
            }
        }
    default:
        FileHandle.standardError.write("unknown mode \(arguments[1])\n".data(using: .utf8)!)
        exit(2)
    }
} catch {
    say("error: \(error)")
    exit(1)
}
