// Live reads: readers beside the write queue, the writer's cost of change notifications, and the
// fan-out of one commit to many subscribers.
import Foundation
import Orion
import RawSQLite
import Synchronization

/// 64 transfer tasks (a tx per transfer, acknowledged by durable()) beside 30 reader tasks that
/// read continuously; transfers/s and reads/s, with the queue off and on, interleaved.
func benchLiveReads() async throws {
    let arguments = CommandLine.arguments
    let accounts = arguments.firstIndex(of: "--accounts").flatMap { Int64(arguments[$0 + 1]) } ?? 1_000_000
    let runSeconds = arguments.firstIndex(of: "--seconds").flatMap { Int(arguments[$0 + 1]) } ?? (quick ? 1 : 3)
    let path = work.appendingPathComponent("live.db").path
    let fill = raw_open(path, 1)!
    precondition(raw_fill_accounts(fill, accounts) == 0)
    raw_close(fill)
    print("\n### Transfers beside 30 reader tasks: \(accounts) accounts, 64 transfer tasks, \(runSeconds) s per run, medians of \(rounds)")
    print("| synchronous | queue | transfers/s | reads/s | transfers × off | reads × off |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for synchronous in [SQLiteStore.Synchronous.normal, .full] {
        var samples: [Bool: [(Double, Double)]] = [:]
        for round in 0..<rounds {
            for queued in round % 2 == 0 ? [false, true] : [true, false] {
                samples[queued, default: []].append(
                    try await runLiveReads(path: path, accounts: accounts, queued: queued, synchronous: synchronous, seconds: runSeconds))
            }
        }
        let off = (median(samples[false]!.map(\.0)), median(samples[false]!.map(\.1)))
        let on = (median(samples[true]!.map(\.0)), median(samples[true]!.map(\.1)))
        let name = synchronous == .full ? "full" : "normal"
        let workload = "Transfers beside 30 readers, synchronous = \(name)"
        record(workload, "Orion, queue off: transfers/s", unit: "transfers/s", samples: samples[false]!.map(\.0), lowerIsBetter: false)
        record(workload, "Orion, queue on: transfers/s", unit: "transfers/s", samples: samples[true]!.map(\.0), lowerIsBetter: false)
        record(workload, "Orion, queue off: reads/s", unit: "reads/s", samples: samples[false]!.map(\.1), lowerIsBetter: false)
        record(workload, "Orion, queue on: reads/s", unit: "reads/s", samples: samples[true]!.map(\.1), lowerIsBetter: false)
        print("| \(name) | off | \(Int(off.0)) | \(Int(off.1)) | 1.00× | 1.00× |")
        print("| \(name) | on | \(Int(on.0)) | \(Int(on.1)) | \(String(format: "%.2f", on.0 / off.0))× | \(String(format: "%.2f", on.1 / off.1))× |")
    }
}

func runLiveReads(path: String, accounts: Int64, queued: Bool, synchronous: SQLiteStore.Synchronous, seconds: Int) async throws -> (Double, Double) {
    let store = try SQLiteStore(path: path, writeQueue: queued ? WriteQueue() : nil, synchronous: synchronous)
    defer { try? store.close() }
    let deadline = ContinuousClock.now + .seconds(seconds)
    let started = ContinuousClock.now
    let (transfers, reads) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
        for task in 0..<64 {
            group.addTask {
                var rng = FastRandom(seed: UInt64(task) &* 7919 &+ 1)
                var done = 0
                while ContinuousClock.now < deadline {
                    let (from, to) = transferPair(accounts, &rng)
                    try transfer(store, .queueTx, from, to)
                    try await store.durable()
                    done += 1
                    // A handler gives the executor back between requests (here, to the readers:
                    // without it, transfers that never suspend hold both cooperative threads).
                    await Task.yield()
                }
                return (done, 0)
            }
        }
        for reader in 0..<30 {
            group.addTask {
                var rng = FastRandom(seed: UInt64(reader) &* 104_729 &+ 3)
                var done = 0
                while ContinuousClock.now < deadline {
                    for _ in 0..<8 {
                        let _: Int? = try store.one("select balance from accounts where id = ?", skewedID(accounts, &rng))
                    }
                    done += 8
                    await Task.yield()
                }
                return (0, done)
            }
        }
        var totals = (0, 0)
        for try await (t, r) in group {
            totals.0 += t
            totals.1 += r
        }
        return totals
    }
    let elapsed = ContinuousClock.now - started
    let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (Double(transfers) / secs, Double(reads) / secs)
}

/// 1,000 subscribers to one table: for each of 200 commits, the time from just before the write
/// to the last subscriber holding the change; median and 99th percentile.
func benchFanOut() async throws {
    let path = work.appendingPathComponent("fanout.db").path
    let store = try SQLiteStore(path: path)
    try store.migrate("todos", ["create table todos (id integer primary key, title text not null)"])
    let subscribers = 1000
    let commits = 200
    final class Arrivals: Sendable {
        let received = Mutex<[Int: Int]>([:])
        let times = Mutex<[Int: ContinuousClock.Instant]>([:])
    }
    let arrivals = Arrivals()
    var tasks: [Task<Void, Never>] = []
    for _ in 0..<subscribers {
        let changes = store.changes(to: ["todos"])
        tasks.append(
            Task {
                var seen = 0
                for await _ in changes {
                    seen += 1
                    let now = ContinuousClock.now
                    arrivals.received.withLock { $0[seen, default: 0] += 1 }
                    arrivals.times.withLock { $0[seen] = max($0[seen] ?? now, now) }
                }
            })
    }
    var latencies: [Double] = []
    for i in 1...commits {
        let start = ContinuousClock.now
        try store.exec("insert into todos (title) values (?)", "t\(i)")
        while arrivals.received.withLock({ $0[i] ?? 0 }) < subscribers { await Task.yield() }
        let last = arrivals.times.withLock { $0[i]! }
        let d = last - start
        latencies.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3)
    }
    for task in tasks { task.cancel() }
    latencies.sort()
    record("Fan-out: 1,000 subscribers of one table, write to last delivery", "Orion changes(to:)", unit: "ms", samples: latencies)
    record("Fan-out: 1,000 subscribers of one table, write to last delivery", "Orion changes(to:), p99", unit: "ms", samples: [latencies[Int(Double(latencies.count) * 0.99)]])
    print("\n### Fan-out: 1,000 subscribers of one table, \(commits) commits, one at a time")
    print("| from before the write to the last subscriber | median | p99 |")
    print("| --- | ---: | ---: |")
    print("| time | \(String(format: "%.2f", latencies[latencies.count / 2])) ms | \(String(format: "%.2f", latencies[Int(Double(latencies.count) * 0.99)])) ms |")
    try store.close()
}

/// 1,000 `observe` views of one table (each a count, re-run after every commit that wrote it):
/// for each of 100 commits, the time from just before the write until every view has produced
/// a value that includes it; median and 99th percentile.
func benchObserveFanOut() async throws {
    let path = work.appendingPathComponent("observe.db").path
    let store = try SQLiteStore(path: path)
    try store.migrate("todos", ["create table todos (id integer primary key, title text not null)"])
    let todos = store.scoped(to: "todos")
    let views = 1000
    let commits = quick ? 30 : 100
    final class Latest: Sendable {
        let counts: Mutex<[Int]>
        init(_ views: Int) { counts = Mutex(Array(repeating: -1, count: views)) }
    }
    let latest = Latest(views)
    var tasks: [Task<Void, Never>] = []
    for v in 0..<views {
        let observation = store.observe { try todos.one("select count(*) from todos") ?? 0 }
        tasks.append(
            Task {
                do {
                    for try await count in observation { latest.counts.withLock { $0[v] = count } }
                } catch {}
            })
    }
    while latest.counts.withLock({ $0.contains(-1) }) { await Task.yield() }
    var latencies: [Double] = []
    for i in 1...commits {
        let start = ContinuousClock.now
        try store.exec("insert into todos (title) values (?)", "t\(i)")
        while latest.counts.withLock({ $0.contains { $0 < i } }) { await Task.yield() }
        let d = ContinuousClock.now - start
        latencies.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3)
    }
    for task in tasks { task.cancel() }
    latencies.sort()
    let workload = "observe: 1,000 views of one table re-run after a write, write to every view updated"
    record(workload, "Orion observe", unit: "ms", samples: latencies)
    record(workload, "Orion observe, p99", unit: "ms", samples: [latencies[Int(Double(latencies.count) * 0.99)]])
    print("\n### observe fan-out: 1,000 views of one table (a count each), \(commits) commits, one at a time")
    print("| from before the write to every view updated | median | p99 |")
    print("| --- | ---: | ---: |")
    print("| time | \(String(format: "%.2f", latencies[latencies.count / 2])) ms | \(String(format: "%.2f", latencies[Int(Double(latencies.count) * 0.99)])) ms |")
    try store.close()
}

/// Autocommit inserts for callgrind: with --subscribers N, N subscribers (of `todos` itself with
/// --same, of another table otherwise), never iterated (their changes merge in place).
func profileInserts() throws {
    let path = work.appendingPathComponent("inserts.db").path
    let store = try SQLiteStore(path: path)
    try store.migrate("todos", ["create table todos (id integer primary key, title text not null)", "create table other (id integer primary key)"])
    let arguments = CommandLine.arguments
    let count = arguments.firstIndex(of: "--subscribers").flatMap { Int(arguments[$0 + 1]) } ?? 0
    let tables: Set<String> = arguments.contains("--same") ? ["todos"] : ["other"]
    let subscriptions = (0..<count).map { _ in store.changes(to: tables) }
    // --consume: each subscriber iterates its changes on a task of its own.
    let consumers = arguments.contains("--consume") ? subscriptions.map { changes in Task { for await _ in changes {} } } : []
    for i in 0..<20_000 {
        try store.exec("insert into todos (title) values (?)", "t\(i)")
    }
    for consumer in consumers { consumer.cancel() }
    print(subscriptions.count)
}

/// Change notifications under a writer at full speed: 1,000 subscribers of every table, a
/// thread inserting as fast as it can, and every 10 ms a marker commit (to one of 50 marker
/// tables in turn); for each marker, the time from its commit returning until each subscriber
/// holds a `Change` that names it. And the process's memory before and after.
func benchChangeLoad() async throws {
    let path = work.appendingPathComponent("changeload.db").path
    let store = try SQLiteStore(path: path)
    let markerTables = 50
    try store.migrate("load", ["create table t (id integer primary key, v integer)"] + (0..<markerTables).map { "create table m\($0) (id integer primary key)" })
    let subscribers = 1000
    let seconds = quick ? 1.0 : 3.0
    final class Arrivals: Sendable {
        /// (marker table, when it arrived), in order.
        let list = Mutex<[(Int, ContinuousClock.Instant)]>([])
    }
    final class Received: Sendable {
        /// Per subscriber.
        let arrivals: [Arrivals]
        init(_ count: Int) { arrivals = (0..<count).map { _ in Arrivals() } }
    }
    let received = Received(subscribers)
    var tasks: [Task<Void, Never>] = []
    for s in 0..<subscribers {
        let changes = store.changes()
        tasks.append(
            Task {
                for await change in changes {
                    let now = ContinuousClock.now
                    for table in change.tables where table.hasPrefix("m") {
                        if let i = Int(table.dropFirst()) { received.arrivals[s].list.withLock { $0.append((i, now)) } }
                    }
                }
            })
    }
    try await Task.sleep(for: .milliseconds(200))
    let before = currentRSS()
    final class Writer: @unchecked Sendable {
        /// Each marker commit: just before it began, and when it returned.
        var markers: [(began: ContinuousClock.Instant, returned: ContinuousClock.Instant)] = []
        var commits = 0
    }
    let writer = Writer()
    let done = DispatchSemaphore(value: 0)
    Thread {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var nextMarker = ContinuousClock.now
        var v = 0
        while ContinuousClock.now < end {
            v += 1
            try! store.exec("insert into t (v) values (?)", v)
            writer.commits += 1
            if ContinuousClock.now >= nextMarker {
                let began = ContinuousClock.now
                try! store.exec("insert into m\(writer.markers.count % markerTables) default values")
                writer.markers.append((began, .now))
                writer.commits += 1
                nextMarker = nextMarker + .milliseconds(10)
            }
        }
        done.signal()
    }.start()
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            done.wait()
            continuation.resume()
        }
    }
    let during = currentRSS()
    try await Task.sleep(for: .seconds(1))
    let after = currentRSS()
    for task in tasks { task.cancel() }
    var latencies: [Double] = []
    var missed = 0
    for s in 0..<subscribers {
        let arrivals = received.arrivals[s].list.withLock { $0 }
        for (k, marker) in writer.markers.enumerated() {
            let table = k % markerTables
            // Delivered while the commit was returning counts as no delay.
            if let first = arrivals.first(where: { $0.0 == table && $0.1 >= marker.began }) {
                let d = max(.zero, first.1 - marker.returned)
                latencies.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
            } else {
                missed += 1
            }
        }
    }
    latencies.sort()
    let p = { (q: Double) in latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] }
    let rate = Double(writer.commits) / seconds
    let workload = "Change notifications: 1,000 subscribers, a writer at full speed"
    let note = "\(Int(rate)) commits/s, \(writer.markers.count) markers × \(subscribers) subscribers, \(missed) never seen; memory \(before >> 20) MiB before, \(during >> 20) MiB at the end of the writes, \(after >> 20) MiB a second later"
    record(workload, "marker commit → each subscriber, p50", unit: "ms", samples: [p(0.5)], note: note)
    record(workload, "marker commit → each subscriber, p99 (target ≤ 50 ms)", unit: "ms", samples: [p(0.99)], target: nil, note: note)
    record(workload, "memory growth over the run", unit: "MiB", samples: [Double(max(0, after - before)) / 1_048_576], note: note)
    print("\n### \(workload) (\(seconds) s)")
    print("| marker commit → each subscriber | p50 | p99 | max |")
    print("| --- | ---: | ---: | ---: |")
    print("| delay | \(String(format: "%.2f", p(0.5))) ms | \(String(format: "%.2f", p(0.99))) ms | \(String(format: "%.2f", latencies.last ?? .nan)) ms |")
    print(note)
    try store.close()
}
