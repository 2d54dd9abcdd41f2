// The lanes: what an awaited `read { one }` costs beside the synchronous `one` and GRDB's
// `await pool.read`, from one task; and awaited point reads from 64 tasks beside synchronous
// reads from 2 threads.
import Foundation
import GRDB
import Orion

/// Runs `contenders` once per round in rotating order; the samples of each, µs per operation.
func compareAsync(
    rounds: Int, perOp: Int, _ contenders: [(String, () async throws -> Int)]
) async throws -> [String: [Double]] {
    var samples: [String: [Double]] = [:]
    var sink = 0
    for round in 0..<rounds {
        for offset in contenders.indices {
            let (name, body) = contenders[(offset + round) % contenders.count]
            let start = ContinuousClock.now
            sink &+= try await body()
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            samples[name, default: []].append(seconds / Double(perOp) * 1e6)
        }
    }
    if sink == 42 { print("") }
    return samples
}

func benchLanes() async throws {
    if !FileManager.default.fileExists(atPath: readsPath) { try makeItems() }
    let store = try SQLiteStore(path: readsPath)
    defer { try? store.close() }
    let pool = try DatabasePool(path: readsPath)
    let sql = "select id, name, qty, price from items where id = ?"
    let count = quick ? 20_000 : 100_000
    let some = Array(ids.prefix(count))

    // One task, one read after another: the whole cost of entering a lane and coming back.
    let single = "The cost of a lane: point reads awaited one after another from one task (Decodable)"
    let sync = "Orion one (synchronous, on the task's thread)"
    let lane = "Orion await store.read { one }"
    let grdb = "GRDB await pool.read { fetchOne }"
    let samples = try await compareAsync(
        rounds: rounds, perOp: count,
        [
            (
                sync,
                {
                    var sink = 0
                    for id in some {
                        let item: Item? = try store.one(sql, id)
                        sink &+= item!.qty
                    }
                    return sink
                }
            ),
            (
                lane,
                {
                    var sink = 0
                    for id in some {
                        let item: Item? = try await store.read { try store.one(sql, id) }
                        sink &+= item!.qty
                    }
                    return sink
                }
            ),
            (
                grdb,
                {
                    var sink = 0
                    for id in some {
                        let item = try await pool.read { db in try Item.fetchOne(db, sql: sql, arguments: [id]) }
                        sink &+= item!.qty
                    }
                    return sink
                }
            ),
        ])
    let base = median(samples[sync]!)
    print("\n### \(single)")
    print("| contender | µs per read (median of \(rounds)) | µs more than synchronous |")
    print("| --- | ---: | ---: |")
    for name in [sync, lane, grdb] {
        let m = median(samples[name]!)
        let note =
            name == lane
            ? "target: at most 10 µs more than the synchronous one, and below GRDB's await pool.read (\(String(format: "%.2f", median(samples[grdb]!))) µs)"
            : nil
        record(single, name, unit: "µs per read", samples: samples[name]!, baseline: sync, note: note)
        print("| \(name) | \(String(format: "%.2f", m)) | \(String(format: "%+.2f", m - base)) |")
    }

    // Many tasks at once: a server's handlers, 64 of them, each awaiting its reads.
    let tasks = 64
    let perTask = count / tasks
    let throughput = "Awaited point reads from 64 tasks, beside synchronous reads from 2 threads (reads/s)"
    let many = try await compareAsync(
        rounds: rounds, perOp: tasks * perTask,
        [
            (
                "Orion one, synchronous, 2 threads",
                {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                        let group = DispatchGroup()
                        for t in 0..<2 {
                            group.enter()
                            Thread {
                                for i in 0..<(tasks * perTask / 2) {
                                    let item: Item? = try? store.one(sql, some[(i * 2 + t) % some.count])
                                    precondition(item != nil)
                                }
                                group.leave()
                            }.start()
                        }
                        group.notify(queue: .global()) { continuation.resume(returning: 0) }
                    }
                }
            ),
            (
                "Orion await store.read { one }, 64 tasks",
                {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for t in 0..<tasks {
                            group.addTask {
                                var sink = 0
                                for i in 0..<perTask {
                                    let item: Item? = try await store.read { try store.one(sql, some[t * perTask + i]) }
                                    sink &+= item!.qty
                                }
                                return sink
                            }
                        }
                        return try await group.reduce(0, &+)
                    }
                }
            ),
            (
                "GRDB await pool.read { fetchOne }, 64 tasks",
                {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for t in 0..<tasks {
                            group.addTask {
                                var sink = 0
                                for i in 0..<perTask {
                                    let item = try await pool.read { db in try Item.fetchOne(db, sql: sql, arguments: [some[t * perTask + i]]) }
                                    sink &+= item!.qty
                                }
                                return sink
                            }
                        }
                        return try await group.reduce(0, &+)
                    }
                }
            ),
        ])
    print("\n### \(throughput)")
    print("| contender | reads/s (median of \(rounds)) | × synchronous, 2 threads |")
    print("| --- | ---: | ---: |")
    let syncRate = 1e6 / median(many["Orion one, synchronous, 2 threads"]!)
    for (name, values) in many.sorted(by: { $0.key < $1.key }) {
        let rates = values.map { 1e6 / $0 }
        record(throughput, name, unit: "reads/s", samples: rates, lowerIsBetter: false, baseline: "Orion one, synchronous, 2 threads")
        print("| \(name) | \(Int(median(rates))) | \(String(format: "%.2f", median(rates) / syncRate))× |")
    }
}
