// Orion vs raw C vs GRDB.swift, on the same data, in one run, interleaved.
//   swift run -c release OrionBench [reads|inserts|parallel|lanes|transfer|live-reads|fan-out|pg-reads|pg-transfer|memory|all] [--rounds N]
import Foundation
import GRDB
import Orion
import RawSQLite

// MARK: Harness

struct Item: Decodable, FetchableRecord, Sendable {
    let id: Int64
    let name: String
    let qty: Int
    let price: Double
}

/// The same Item read by Orion's fast path: columns by position (`RowDecodable`).
struct FastItem: Decodable, RowDecodable, Sendable {
    let id: Int64
    let name: String
    let qty: Int
    let price: Double
    init(row: RowReader) throws {
        id = try row.int64(0)
        name = try row.string(1)
        qty = try row.int(2)
        price = try row.double(3)
    }
}

/// An Item built the GRDB way that PERF-NOTES calls `init(row:)`.
struct RowItem: FetchableRecord {
    let id: Int64
    let name: String
    let qty: Int
    let price: Double
    init(row: GRDB.Row) {
        id = row[0]
        name = row[1]
        qty = row[2]
        price = row[3]
    }
}

let arguments = CommandLine.arguments.dropFirst()
let which = arguments.first { !$0.hasPrefix("--") && Int($0) == nil } ?? "all"
/// `--quick`: fewer rounds and operations, for a run of about two minutes (`report --quick`).
let quick = arguments.contains("--quick")
let rounds = arguments.firstIndex(of: "--rounds").flatMap { Int(arguments[arguments.index(after: $0)]) } ?? (quick ? 3 : 5)

let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("orion-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Runs every contender once per round, in rotating order, prints medians and ratios, and
/// records the figures (µs per operation) for the report, with the targets named.
func compare(
    _ title: String, unit: String, perOp: Int, baseline: String, targets: [String: Double] = [:],
    _ contenders: [(String, () throws -> Void)]
) throws {
    var samples: [String: [Double]] = [:]
    for round in 0..<rounds {
        for offset in contenders.indices {
            let (name, body) = contenders[(offset + round) % contenders.count]
            samples[name, default: []].append(try seconds(body) / Double(perOp))
        }
    }
    let base = median(samples[baseline]!)
    print("\n### \(title)")
    print("| contender | \(unit) (median of \(rounds)) | × \(baseline) |")
    print("| --- | ---: | ---: |")
    for (name, _) in contenders {
        record(title, name, unit: "µs \(unit)", samples: samples[name]!.map { $0 * 1e6 }, baseline: baseline, target: targets[name])
        let m = median(samples[name]!)
        print("| \(name) | \(String(format: "%.3f", m * 1e6)) µs | \(String(format: "%.2f", m / base))× |")
    }
}

// MARK: Data

let itemCount = 10_000
let readsPath = work.appendingPathComponent("reads.db").path

/// Writes `count` items to `path` (by default the reads' 10,000, named "item number N").
func makeItems(path: String = readsPath, count: Int = itemCount, name: (Int) -> String = { "item number \($0)" }) throws {
    let store = try SQLiteStore(path: path)
    try store.migrate("items", ["create table items (id integer primary key, name text not null, qty integer not null, price real not null)"])
    try store.tx {
        for i in 1...count {
            try store.exec("insert into items (id, name, qty, price) values (?, ?, ?, ?)", i, name(i), i % 97, Double(i) * 0.25)
        }
    }
    try store.close()
}

var generator = SystemRandomNumberGenerator()
let lookups = quick ? 20_000 : 100_000
let ids: [Int64] = (0..<lookups).map { _ in Int64.random(in: 1...Int64(itemCount), using: &generator) }

// MARK: Reads

func benchReads() throws {
    try makeItems()
    let raw = raw_open(readsPath, 1)!
    defer { raw_close(raw) }
    let store = try SQLiteStore(path: readsPath)
    let pool = try DatabasePool(path: readsPath)
    // GRDB's lightest per-lookup path: a serial queue, no transaction, a cached statement.
    let queue = try DatabaseQueue(path: readsPath)
    let sql = "select id, name, qty, price from items where id = ?"
    var sink = 0
    let floor = FloorReads(path: readsPath)
    defer { floor.close() }
    let floorPoint = FloorDecoder(floor.point)
    let floorRange = FloorDecoder(floor.range)
    let nio = try NIOReads(path: readsPath)
    defer { nio.close() }

    try compare(
        "Point read by primary key into a 4-column struct (autocommit per lookup)", unit: "per read", perOp: lookups, baseline: "raw C",
        targets: ["Orion one → RowDecodable (fast path)": 1.2, "Orion one → Decodable": 1.5],
        [
            ("raw C", { sink &+= Int(ids.withUnsafeBufferPointer { raw_point_reads(raw, $0.baseAddress, Int32(lookups)) }) }),
            (
                "Orion one → Decodable",
                {
                    for id in ids {
                        let item: Item? = try store.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "Orion one → RowDecodable (fast path)",
                {
                    for id in ids {
                        let item: FastItem? = try store.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "Decodable floor (bench-only decoder)",
                {
                    for id in ids {
                        let item = try floor.one(id, floorPoint)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "GRDB pool.read + Codable fetchOne",
                {
                    for id in ids {
                        let item = try pool.read { db in try Item.fetchOne(db, sql: sql, arguments: [id]) }
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "GRDB pool.read + cached statement + init(row:)",
                {
                    for id in ids {
                        let item = try pool.read { db in try RowItem.fetchOne(db.cachedStatement(sql: sql), arguments: [id]) }
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "GRDB queue.inDatabase + cached statement + Codable",
                {
                    for id in ids {
                        let item = try queue.inDatabase { db in try Item.fetchOne(db.cachedStatement(sql: sql), arguments: [id]) }
                        sink &+= item!.qty
                    }
                }
            ),
            ("SQLiteNIO query, awaited, columns by position", { sink &+= try nio.pointReads(ids[...]) }),
        ])

    let instrumented = InstrumentedStore(store, sample: 1, onQuery: { _ in })
    let sampled = InstrumentedStore(store, sample: 0.01, onQuery: { _ in })
    let unsampled = InstrumentedStore(store, sample: 0, onQuery: { _ in })
    let scoped = store.scoped(to: "items")
    try compare(
        "Point read: instrumentation (no-op handler) and a scoped store", unit: "per read", perOp: lookups, baseline: "Orion one → Decodable",
        targets: ["InstrumentedStore(sample: 1) one": 1.15, "scoped(to: \"items\") one": 1.05],
        [
            (
                "Orion one → Decodable",
                {
                    for id in ids {
                        let item: Item? = try store.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "InstrumentedStore(sample: 1) one",
                {
                    for id in ids {
                        let item: Item? = try instrumented.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "InstrumentedStore(sample: 0.01) one",
                {
                    for id in ids {
                        let item: Item? = try sampled.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "InstrumentedStore(sample: 0) one",
                {
                    for id in ids {
                        let item: Item? = try unsampled.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
            (
                "scoped(to: \"items\") one",
                {
                    for id in ids {
                        let item: Item? = try scoped.one(sql, id)
                        sink &+= item!.qty
                    }
                }
            ),
        ])

    let rows = 1000
    let repeats = quick ? 50 : 200
    let rangeSQL = "select id, name, qty, price from items where id >= ? and id < ? order by id"
    var buffer = [raw_item](repeating: raw_item(), count: rows)
    try compare(
        "Query of 1,000 rows × 4 columns into structs", unit: "per row", perOp: rows * repeats, baseline: "raw C",
        targets: ["Orion query → [RowDecodable] (fast path)": 1.5],
        [
            ("raw C", { sink &+= Int(buffer.withUnsafeMutableBufferPointer { raw_range_reads(raw, 1000, Int32(rows), Int32(repeats), $0.baseAddress) }) }),
            (
                "Orion query → [Decodable]",
                {
                    for _ in 0..<repeats {
                        let items: [Item] = try store.query(rangeSQL, 1000, 1000 + rows)
                        sink &+= items.count
                    }
                }
            ),
            (
                "Orion query → [RowDecodable] (fast path)",
                {
                    for _ in 0..<repeats {
                        let items: [FastItem] = try store.query(rangeSQL, 1000, 1000 + rows)
                        sink &+= items.count
                    }
                }
            ),
            (
                "Decodable floor (bench-only decoder)",
                {
                    for _ in 0..<repeats {
                        let items = try floor.rows(from: 1000, count: Int64(rows), floorRange)
                        sink &+= items.count
                    }
                }
            ),
            (
                "GRDB pool.read + Codable fetchAll",
                {
                    for _ in 0..<repeats {
                        let items = try pool.read { db in try Item.fetchAll(db, sql: rangeSQL, arguments: [1000, 1000 + rows]) }
                        sink &+= items.count
                    }
                }
            ),
            (
                "GRDB queue.inDatabase + cached statement + Codable fetchAll",
                {
                    for _ in 0..<repeats {
                        let items = try queue.inDatabase { db in try Item.fetchAll(db.cachedStatement(sql: rangeSQL), arguments: [1000, 1000 + rows]) }
                        sink &+= items.count
                    }
                }
            ),
            (
                "GRDB pool.read + init(row:) fetchAll",
                {
                    for _ in 0..<repeats {
                        let items = try pool.read { db in try RowItem.fetchAll(db.cachedStatement(sql: rangeSQL), arguments: [1000, 1000 + rows]) }
                        sink &+= items.count
                    }
                }
            ),
            ("SQLiteNIO query, awaited, columns by position", { sink &+= try nio.rangeReads(from: 1000, count: rows, repeats: repeats) }),
        ])
    relativeTargets.append(("Query of 1,000 rows × 4 columns into structs", "Orion query → [Decodable]", "Decodable floor (bench-only decoder)", 1.25))
    print("(checksum \(sink & 0xff))")
}

// MARK: Inserts

func benchInserts() throws {
    let count = quick ? 5_000 : 20_000
    let schema = "create table log (id integer primary key, a integer not null, b text not null)"
    var n = 0
    func freshPath() throws -> String {
        n += 1
        let path = work.appendingPathComponent("inserts-\(n).db").path
        let store = try SQLiteStore(path: path)
        try store.exec(schema)
        try store.close()
        return path
    }
    try compare(
        "Autocommit single-row insert (synchronous = normal)", unit: "per insert", perOp: count, baseline: "raw C",
        [
            (
                "raw C",
                {
                    let raw = raw_open(try freshPath(), 1)!
                    defer { raw_close(raw) }
                    precondition(raw_inserts(raw, Int32(count)) == 0)
                }
            ),
            (
                "Orion exec",
                {
                    let store = try SQLiteStore(path: try freshPath())
                    for i in 0..<count { try store.exec("insert into log (a, b) values (?, ?)", i, "some text payload") }
                    try store.close()
                }
            ),
            (
                "GRDB writeWithoutTransaction + execute",
                {
                    let queue = try DatabaseQueue(path: try freshPath())
                    for i in 0..<count {
                        try queue.writeWithoutTransaction { db in try db.execute(sql: "insert into log (a, b) values (?, ?)", arguments: [i, "some text payload"]) }
                    }
                }
            ),
            // On the same WAL file (the store made it), with synchronous = normal as the others.
            ("SQLiteNIO query, awaited", { try NIOReads.inserts(path: try freshPath(), count: count) }),
        ])
}

// MARK: Parallel reads

func benchParallel() throws {
    if !FileManager.default.fileExists(atPath: readsPath) { try makeItems() }
    let store = try SQLiteStore(path: readsPath)
    let sql = "select id, name, qty, price from items where id = ?"
    let perThread = quick ? 20_000 : 100_000
    func run(threads: Int) -> Double {
        let group = DispatchGroup()
        let elapsed = seconds {
            for t in 0..<threads {
                group.enter()
                Thread {
                    for i in 0..<perThread {
                        let item: Item? = try? store.one(sql, ids[(i + t * 7919) % ids.count])
                        precondition(item != nil)
                    }
                    group.leave()
                }.start()
            }
            group.wait()
        }
        return Double(threads * perThread) / elapsed
    }
    /// The same reads in C: one connection per thread.
    func runRaw(threads: Int) -> Double {
        let group = DispatchGroup()
        let elapsed = seconds {
            for t in 0..<threads {
                group.enter()
                Thread {
                    let db = raw_open(readsPath, 1)!
                    let slice = Array(ids[(t * 7919 % 1000)...].prefix(perThread))
                    _ = slice.withUnsafeBufferPointer { raw_point_reads(db, $0.baseAddress, Int32($0.count)) }
                    raw_close(db)
                    group.leave()
                }.start()
            }
            group.wait()
        }
        return Double(threads * min(perThread, ids.count - 1000)) / elapsed
    }
    var one: [Double] = []
    var two: [Double] = []
    var rawOne: [Double] = []
    var rawTwo: [Double] = []
    for _ in 0..<rounds {
        one.append(run(threads: 1))
        two.append(run(threads: 2))
        rawOne.append(runRaw(threads: 1))
        rawTwo.append(runRaw(threads: 2))
    }
    print("\n### Point reads from 1 and 2 threads (interleaved runs)")
    print("| threads | Orion reads/s | raw C reads/s (a connection per thread) |")
    print("| --- | ---: | ---: |")
    for (threads, orion, raw) in [(1, one, rawOne), (2, two, rawTwo)] {
        let workload = "Point reads from \(threads) thread\(threads == 1 ? "" : "s") (reads/s)"
        record(workload, "raw C, a connection per thread", unit: "reads/s", samples: raw, lowerIsBetter: false, baseline: "raw C, a connection per thread")
        record(workload, "Orion one → Decodable", unit: "reads/s", samples: orion, lowerIsBetter: false, baseline: "raw C, a connection per thread")
    }
    print("| 1 | \(Int(median(one))) | \(Int(median(rawOne))) |")
    print("| 2 | \(Int(median(two))) | \(Int(median(rawTwo))) |")
    let ratios = zip(one, two).map { $1 / $0 }
    let rawRatios = zip(rawOne, rawTwo).map { $1 / $0 }
    print("2 threads / 1 thread, median of per-round ratios: Orion \(String(format: "%.2f", median(ratios)))×, raw C \(String(format: "%.2f", median(rawRatios)))×")
}

print("Orion benchmarks — SQLite \(String(cString: raw_sqlite_version())), \(ProcessInfo.processInfo.activeProcessorCount) cores, rounds \(rounds)")
switch which {
case "reads": try benchReads()
case "inserts": try benchInserts()
case "parallel": try benchParallel()
case "profile-point":
    // Orion point reads alone, for perf/callgrind.
    try makeItems()
    let root = try SQLiteStore(path: readsPath)
    // --scoped: the same reads through the fence (compare instruction counts with callgrind).
    // --instrumented: the same reads through InstrumentedStore(sample: 1) with a no-op handler.
    let base: any Store = arguments.contains("--scoped") ? root.scoped(to: "items") : root
    let store: any Store = arguments.contains("--instrumented") ? InstrumentedStore(base, sample: 1, onQuery: { _ in }) : base
    var sink = 0
    let fast = arguments.contains("--fast")
    for id in ids.prefix(arguments.contains("--short") ? 20_000 : ids.count) {
        // --fast: the same reads through RowDecodable.
        if fast {
            let item: FastItem? = try store.one("select id, name, qty, price from items where id = ?", id)
            sink &+= item!.qty
        } else {
            let item: Item? = try store.one("select id, name, qty, price from items where id = ?", id)
            sink &+= item!.qty
        }
    }
    print(sink)
case "profile-parallel":
    // Orion point reads from 2 threads, for perf.
    try makeItems()
    let store = try SQLiteStore(path: readsPath)
    let group = DispatchGroup()
    for t in 0..<2 {
        group.enter()
        Thread {
            for i in 0..<200_000 {
                let item: Item? = try? store.one("select id, name, qty, price from items where id = ?", ids[(i + t * 7919) % ids.count])
                precondition(item != nil)
            }
            group.leave()
        }.start()
    }
    group.wait()
case "profile-raw":
    // The raw C point reads alone, for callgrind beside profile-point.
    try makeItems()
    let raw = raw_open(readsPath, 1)!
    let n = arguments.contains("--short") ? 20_000 : ids.count
    print(ids.withUnsafeBufferPointer { raw_point_reads(raw, $0.baseAddress, Int32(n)) })
    raw_close(raw)
case "profile-floor":
    // The Decodable floor's point reads (and, with --range, its 1,000-row reads), for callgrind.
    try makeItems()
    let floor = FloorReads(path: readsPath)
    var sink = 0
    if arguments.contains("--range") {
        let decoder = FloorDecoder(floor.range)
        for _ in 0..<20 { sink &+= try floor.rows(from: 1000, count: 1000, decoder).count }
    } else {
        let decoder = FloorDecoder(floor.point)
        for id in ids.prefix(20_000) { sink &+= try floor.one(id, decoder)!.qty }
    }
    floor.close()
    print(sink)
case "profile-raw-range":
    // raw C's 1,000-row reads, 20 times, for callgrind beside profile-range --short.
    try makeItems()
    let raw = raw_open(readsPath, 1)!
    var buffer = [raw_item](repeating: raw_item(), count: 1000)
    print(buffer.withUnsafeMutableBufferPointer { raw_range_reads(raw, 1000, 1000, 20, $0.baseAddress) })
    raw_close(raw)
case "profile-grdb":
    // GRDB's Codable point reads alone, for perf.
    try makeItems()
    let pool = try DatabasePool(path: readsPath)
    var sink = 0
    for id in ids.prefix(20_000) {
        let item = try pool.read { db in try Item.fetchOne(db, sql: "select id, name, qty, price from items where id = ?", arguments: [id]) }
        sink &+= item!.qty
    }
    print(sink)
case "profile-range":
    try makeItems()
    let store = try SQLiteStore(path: readsPath)
    var sink = 0
    for _ in 0..<(arguments.contains("--short") ? 20 : 200) {
        if arguments.contains("--fast") {
            let items: [FastItem] = try store.query("select id, name, qty, price from items where id >= ? and id < ? order by id", 1000, 2000)
            sink &+= items.count
        } else {
            let items: [Item] = try store.query("select id, name, qty, price from items where id >= ? and id < ? order by id", 1000, 2000)
            sink &+= items.count
        }
    }
    print(sink)
case "transfer": try await benchTransfers()
case "live-reads": try await benchLiveReads()
case "fan-out": try await benchFanOut()
case "profile-insert": try profileInserts()
case "pg-reads": try benchPostgresReads()
case "profile-pg-point": try profilePostgresPoint(raw: arguments.contains("--raw"))
case "pg-transfer": try await benchPostgresTransfers()
case "memory": try benchMemory()
case "observe-fan-out": try await benchObserveFanOut()
case "lanes": try await benchLanes()
case "change-load": try await benchChangeLoad()
case "report":
    // Every workload in one run; the figures go to Benchmarks/results/<latest|quick>.{json,svg}.
    try benchReads()
    try benchInserts()
    try benchParallel()
    try await benchLanes()
    try await benchTransfers()
    try await benchLiveReads()
    try await benchFanOut()
    try await benchChangeLoad()
    try await benchObserveFanOut()
    try benchMemory()
    try benchPostgresReads()
    try await benchPostgresTransfers()
    try writeReport(name: quick ? "quick" : "latest", quick: quick, versions: benchVersions())
case "memory-child": try memoryChild(path: Array(arguments)[1], contender: Array(arguments)[2])
default:
    try benchReads()
    try benchInserts()
    try benchParallel()
}
