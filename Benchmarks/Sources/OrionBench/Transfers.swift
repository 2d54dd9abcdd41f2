// The TPS workload of "100000 TPS over a billion rows", scaled to this machine: accounts with
// 10M rows, transfers that read A, subtract from A and add to B, ids skewed toward a hot set,
// 64 concurrent tasks, each transfer counted when its commit is acknowledged (durable()).
import Foundation
import Orion
import RawSQLite

enum TransferMode: String, CaseIterable {
    case noQueue = "no queue, tx per transfer"
    case queue = "queue, 3 statements per transfer"
    case queueTx = "queue, tx (savepoint) per transfer"
    case queueTxReads = "queue, tx per transfer + 3 point reads per transfer from other tasks"
}

/// SplitMix64: a fast generator for the workload's ids, so that drawing them costs no system
/// call (`SystemRandomNumberGenerator` asks the kernel every time, which raw C does not pay).
struct FastRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Two different skewed accounts: a transfer's source and destination.
func transferPair(_ accounts: Int64, _ rng: inout some RandomNumberGenerator) -> (Int64, Int64) {
    let from = skewedID(accounts, &rng)
    let to = skewedID(accounts, &rng)
    return (from, to == from ? from % accounts + 1 : to)
}

/// A Pareto-like skew: most transfers touch a small hot set, some touch anything.
func skewedID(_ accounts: Int64, _ rng: inout some RandomNumberGenerator) -> Int64 {
    let u = Double.random(in: 0..<1, using: &rng)
    return min(accounts, 1 + Int64(Double(accounts) * pow(u, 6)))
}

func transfer(_ store: SQLiteStore, _ mode: TransferMode, _ from: Int64, _ to: Int64) throws {
    func body() throws {
        let balance: Int = try store.one("select balance from accounts where id = ?", from) ?? 0
        let amount = balance > 0 ? 1 : 0
        try store.exec("update accounts set balance = balance - ? where id = ?", amount, from)
        try store.exec("update accounts set balance = balance + ? where id = ?", amount, to)
    }
    switch mode {
    case .queue: try body()
    case .noQueue, .queueTx, .queueTxReads: try store.tx { try body() }
    }
}

/// Runs 64 transfer tasks for `duration`; returns acknowledged transfers/s, reads/s, mean batch.
func runTransfers(
    path: String, accounts: Int64, mode: TransferMode, synchronous: SQLiteStore.Synchronous, duration: Duration
) async throws -> (tps: Double, reads: Double, meanBatch: Double) {
    let store = try SQLiteStore(
        path: path, writeQueue: mode == .noQueue ? nil : WriteQueue(), synchronous: synchronous)
    defer { try? store.close() }
    let deadline = ContinuousClock.now + duration
    let started = ContinuousClock.now
    let (transfers, reads) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
        for task in 0..<64 {
            group.addTask {
                var rng = FastRandom(seed: UInt64(task) &* 7919 &+ 1)
                var done = 0
                while ContinuousClock.now < deadline {
                    let (from, to) = transferPair(accounts, &rng)
                    try transfer(store, mode, from, to)
                    try await store.durable()
                    done += 1
                }
                return (done, 0)
            }
        }
        if mode == .queueTxReads {
            for reader in 0..<64 {
                group.addTask {
                    var rng = FastRandom(seed: UInt64(reader) &* 104_729 &+ 3)
                    var done = 0
                    while ContinuousClock.now < deadline {
                        for _ in 0..<3 {
                            let _: Int? = try store.one("select balance from accounts where id = ?", skewedID(accounts, &rng))
                        }
                        done += 3
                        await Task.yield()
                    }
                    return (0, done)
                }
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
    return (Double(transfers) / secs, Double(reads) / secs, store.writeQueueMetrics.meanBatchSize)
}

/// Runs `body(thread, transfer)` on 64 real threads until `duration` passes, each drawing skewed
/// transfer pairs; returns the seconds taken and what the bodies counted (two counters each).
func onSixtyFourThreads(
    accounts: Int64, duration: Duration, _ body: @escaping @Sendable (Int, Int64, Int64) -> (done: Int, retried: Int)
) -> (seconds: Double, done: Int, retried: Int) {
    let deadline = ContinuousClock.now + duration
    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 128)
    counts.initialize(repeating: 0)
    defer { counts.deallocate() }
    nonisolated(unsafe) let shared = counts
    let group = DispatchGroup()
    let elapsed = seconds {
        for t in 0..<64 {
            group.enter()
            let thread = Thread {
                var rng = FastRandom(seed: UInt64(t) &* 7919 &+ 1)
                while ContinuousClock.now < deadline {
                    let (from, to) = transferPair(accounts, &rng)
                    let (done, retried) = body(t, from, to)
                    shared[t] += done
                    shared[64 + t] += retried
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
    }
    return (elapsed, counts[0..<64].reduce(0, +), counts[64..<128].reduce(0, +))
}

/// The same transfers from 64 real threads instead of tasks: each blocks in the store and then
/// waits for `durable()` on a semaphore, as a thread-per-request server would.
func runTransfersOnThreads(
    path: String, accounts: Int64, synchronous: SQLiteStore.Synchronous, duration: Duration
) throws -> (tps: Double, meanBatch: Double) {
    let store = try SQLiteStore(path: path, writeQueue: WriteQueue(), synchronous: synchronous)
    defer { try? store.close() }
    let run = onSixtyFourThreads(accounts: accounts, duration: duration) { _, from, to in
        let acknowledged = DispatchSemaphore(value: 0)
        try? transfer(store, .queueTx, from, to)
        Task {
            try? await store.durable()
            acknowledged.signal()
        }
        acknowledged.wait()
        return (1, 0)
    }
    return (Double(run.done) / run.seconds, store.writeQueueMetrics.meanBatchSize)
}

func benchTransfers() async throws {
    let arguments = CommandLine.arguments
    let accounts = arguments.firstIndex(of: "--accounts").flatMap { Int64(arguments[$0 + 1]) } ?? (quick ? 1_000_000 : 10_000_000)
    let runSeconds = arguments.firstIndex(of: "--seconds").flatMap { Int(arguments[$0 + 1]) } ?? (quick ? 2 : 4)
    let modes: [TransferMode] = quick ? [.noQueue, .queueTx] : TransferMode.allCases
    let path = work.appendingPathComponent("accounts.db").path
    print("\n### Transfers: \(accounts) accounts, 64 tasks, \(runSeconds) s per run, \(quick ? 1 : 3) round(s), each transfer acknowledged by durable()")
    let fill = raw_open(path, 1)!
    precondition(raw_fill_accounts(fill, accounts) == 0)
    raw_close(fill)
    let fsync = raw_fsync_seconds(work.appendingPathComponent("fsync.probe").path, 200)
    print("measured fsync (write 1 byte + fsync, mean of 200): \(String(format: "%.3f", fsync * 1000)) ms")

    var rng = SystemRandomNumberGenerator()
    let pairs = 400_000
    var from = [Int64]()
    var to = [Int64]()
    for _ in 0..<pairs {
        let a = skewedID(accounts, &rng)
        var b = skewedID(accounts, &rng)
        if a == b { b = a % accounts + 1 }
        from.append(a)
        to.append(b)
    }
    print("| run | synchronous | transfers/s | × no queue | × raw C 1000/tx | mean batch |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    // Rounds: every contender once per round, in rotating order; medians (quick: one round).
    let transferRounds = quick ? 1 : 3
    for synchronous in [SQLiteStore.Synchronous.normal, .full] {
        let level: Int32 = synchronous == .full ? 2 : 1
        func rawTPS(perTx: Int32, count: Int) -> Double {
            let db = raw_open(path, level)!
            defer { raw_close(db) }
            var rc: Int32 = 0
            let t = seconds { rc = raw_transfers(db, from, to, Int32(count), perTx) }
            precondition(rc == 0)
            return Double(count) / t
        }
        let name = synchronous == .full ? "full" : "normal"
        typealias Run = (tps: Double, reads: Double, meanBatch: Double)
        var contenders: [(String, () async throws -> Run)] = [
            ("raw C, 1 transfer per tx, 1 thread", { (rawTPS(perTx: 1, count: synchronous == .full ? 8_000 : 60_000), 0, 0) }),
            ("raw C, 1000 per tx in savepoints, 1 thread", { (rawTPS(perTx: 1000, count: 300_000), 0, 0) }),
        ]
        for mode in modes {
            contenders.append(
                ("Orion \(mode.rawValue)", { try await runTransfers(path: path, accounts: accounts, mode: mode, synchronous: synchronous, duration: .seconds(runSeconds)) }))
        }
        if !quick {
            contenders.append(
                (
                    "Orion queue, tx per transfer, 64 threads",
                    {
                        let t = try runTransfersOnThreads(path: path, accounts: accounts, synchronous: synchronous, duration: .seconds(runSeconds))
                        return (t.tps, 0, t.meanBatch)
                    }
                ))
        }
        var samples: [String: [Run]] = [:]
        for round in 0..<transferRounds {
            for offset in contenders.indices {
                let (contender, run) = contenders[(offset + round) % contenders.count]
                samples[contender, default: []].append(try await run())
            }
        }
        let workload = "Transfers, 64 tasks, synchronous = \(name) (transfers/s)"
        let rawBase = "raw C, 1000 per tx in savepoints, 1 thread"
        let raw1000 = median(samples[rawBase]!.map(\.tps))
        let base = samples["Orion \(TransferMode.noQueue.rawValue)"].map { median($0.map(\.tps)) } ?? 1
        for (contender, _) in contenders {
            let runs = samples[contender]!
            let tps = median(runs.map(\.tps))
            record(
                workload, contender, unit: "transfers/s", samples: runs.map(\.tps), lowerIsBetter: false, baseline: rawBase,
                target: contender == "Orion \(TransferMode.queueTx.rawValue)" && synchronous == .full ? 1 / 0.9 : nil)
            let reads = contender.contains("point reads") ? " (+\(Int(median(runs.map(\.reads)))) reads/s)" : ""
            let isOrion = contender.hasPrefix("Orion")
            let batch = isOrion && !contender.contains("no queue") ? String(format: "%.1f", median(runs.map(\.meanBatch))) : ""
            print(
                "| \(contender) | \(name) | \(Int(tps))\(reads) | \(isOrion ? String(format: "%.2f", tps / base) + "×" : "") | \(String(format: "%.2f", tps / raw1000))× | \(batch) |")
        }
    }
}
