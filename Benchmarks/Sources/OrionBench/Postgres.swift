// PostgresStore beside libpq in C, and the transfer workload on PostgreSQL beside SQLite.
//   swift run -c release OrionBench pg-reads [--rounds N]
//   swift run -c release OrionBench pg-transfer [--accounts N] [--seconds N]
// The server is a throwaway cluster with PostgreSQL's durable defaults (fsync and synchronous
// commit on), started by ../scripts/postgres for the run, on a unix socket.
import Foundation
import Orion
import OrionPostgres
import RawPQ
import RawSQLite

/// Starts a throwaway cluster; returns its URL and a function that stops it.
func startPostgres() throws -> (url: String, stop: () -> Void) {
    let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/postgres").path
    // popen rather than Foundation's Process, whose waitUntilExit can miss the exit of a
    // script that leaves a server running.
    guard let pipe = popen("'\(script)' start --durable", "r") else { throw StoreError(.connection, "cannot run \(script)") }
    var output = ""
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), pipe) != nil {
        output += String(cString: buffer)
    }
    guard pclose(pipe) == 0 else { throw StoreError(.connection, "scripts/postgres start failed") }
    func value(_ name: String) -> String {
        let line = output.split(separator: "\n").first { $0.hasPrefix("export \(name)=") }!
        return String(line.dropFirst("export \(name)='".count).dropLast())
    }
    let dir = value("ORION_POSTGRES_DIR")
    return (value("ORION_POSTGRES_URL"), { _ = system("'\(script)' stop '\(dir)'") })
}

func benchPostgresReads() throws {
    let server = try startPostgres()
    defer { server.stop() }
    let store = try PostgresStore(url: server.url, poolSize: 1)
    try store.migrate("items", ["create table items (id bigint primary key, name text not null, qty integer not null, price double precision not null)"])
    try store.exec("insert into items select g, 'item number ' || g, g % 97, g * 0.25 from generate_series(1, ?::bigint) g", itemCount)
    try store.migrate("other", ["create table other (id bigint primary key, qty integer not null)", "insert into other values (1, 1)"])
    let items = store.scoped(to: "items")
    let other = store.scoped(to: "other")
    guard let raw = rawpq_open(server.url) else { throw StoreError(.connection, "rawpq_open failed") }
    defer { rawpq_close(raw) }
    let n = quick ? 5_000 : 20_000
    let nio = NIOPostgres(url: server.url, connections: 1)
    var orionSum = 0
    var rawSum: Int64 = 0
    try compare(
        "Point reads over PostgreSQL 15 (unix socket, one connection, 20,000 reads per round)", unit: "per read", perOp: n, baseline: "libpq, C, prepared",
        [
            ("libpq, C, prepared", { rawSum = ids.withUnsafeBufferPointer { rawpq_point_reads(raw, $0.baseAddress, Int32(n)) } }),
            (
                "PostgresNIO client.query, awaited, decode",
                {
                    let sum = try nio.pointReads(ids.prefix(n))
                    precondition(sum > 0)
                }
            ),
            (
                "PostgresStore.one → 4-column Decodable",
                {
                    orionSum = 0
                    for id in ids.prefix(n) {
                        let item: Item? = try store.one("select id, name, qty, price from items where id = ?", id)
                        orionSum &+= item!.qty
                    }
                }
            ),
            // Every call switches the connection's role: SET ROLE travels with the statement.
            (
                "scoped stores of two features, alternating",
                {
                    for (k, id) in ids.prefix(n).enumerated() {
                        if k % 2 == 0 {
                            let item: Item? = try items.one("select id, name, qty, price from items where id = ?", id)
                            precondition(item != nil)
                        } else {
                            let qty: Int? = try other.one("select qty from other where id = ?", 1)
                            precondition(qty == 1)
                        }
                    }
                }
            ),
        ])
    precondition(Int64(orionSum) == rawSum, "both read the same rows")
}

/// PostgresStore's point reads alone (or libpq's with --raw), for perf and callgrind.
func profilePostgresPoint(raw: Bool) throws {
    let server = try startPostgres()
    defer { server.stop() }
    let store = try PostgresStore(url: server.url, poolSize: 1)
    try store.migrate("items", ["create table items (id bigint primary key, name text not null, qty integer not null, price double precision not null)"])
    try store.exec("insert into items select g, 'item number ' || g, g % 97, g * 0.25 from generate_series(1, ?::bigint) g", itemCount)
    var sum = 0
    if raw {
        let db = rawpq_open(server.url)!
        sum = Int(ids.withUnsafeBufferPointer { rawpq_point_reads(db, $0.baseAddress, 20_000) })
        rawpq_close(db)
    } else {
        for id in ids.prefix(20_000) {
            let item: Item? = try store.one("select id, name, qty, price from items where id = ?", id)
            sum &+= item!.qty
        }
    }
    print(sum)
}

/// One transfer on PostgreSQL: read A, then update the lower id first, so that concurrent
/// transfers lock rows in one order and never deadlock.
func transfer(_ store: PostgresStore, _ from: Int64, _ to: Int64) throws {
    try store.tx {
        let balance: Int = try store.one("select balance from accounts where id = ?", from) ?? 0
        let amount = balance > 0 ? 1 : 0
        for (id, delta) in from < to ? [(from, -amount), (to, amount)] : [(to, amount), (from, -amount)] {
            try store.exec("update accounts set balance = balance + ? where id = ?", delta, id)
        }
    }
}

/// 64 threads (a PostgreSQL call blocks its thread for the round trip) for `duration`.
func runPostgresTransfers(url: String, accounts: Int64, pool: Int, duration: Duration) throws -> (tps: Double, retries: Int) {
    let store = try PostgresStore(url: url, poolSize: pool, poolTimeout: .seconds(60))
    defer { store.close() }
    let run = onSixtyFourThreads(accounts: accounts, duration: duration) { _, from, to in
        do {
            try transfer(store, from, to)
            return (1, 0)
        } catch let error as StoreError where error.code == .busy {
            return (0, 1)
        } catch {
            fatalError("transfer failed: \(error)")
        }
    }
    return (Double(run.done) / run.seconds, run.retried)
}

func benchPostgresTransfers() async throws {
    let arguments = CommandLine.arguments
    let accounts = arguments.firstIndex(of: "--accounts").flatMap { Int64(arguments[$0 + 1]) } ?? 1_000_000
    let runSeconds = arguments.firstIndex(of: "--seconds").flatMap { Int(arguments[$0 + 1]) } ?? (quick ? 2 : 4)
    let server = try startPostgres()
    defer { server.stop() }
    guard let admin = rawpq_open(server.url) else { throw StoreError(.connection, "rawpq_open failed") }
    defer { rawpq_close(admin) }
    precondition(rawpq_exec(admin, "create table accounts (id bigint primary key, balance bigint not null)") == 0)
    precondition(rawpq_exec(admin, "insert into accounts select g, 1000 from generate_series(1, \(accounts)) g") == 0)
    precondition(rawpq_exec(admin, "vacuum analyze accounts") == 0)
    let path = work.appendingPathComponent("accounts-pg.db").path
    let fill = raw_open(path, 1)!
    precondition(raw_fill_accounts(fill, accounts) == 0)
    raw_close(fill)

    print("\n### Transfers on PostgreSQL 15 beside SQLite: \(accounts) accounts, 64 clients, \(runSeconds) s per run")
    print("| store | durability | clients | transfers/s (median) | |")
    print("| --- | --- | --- | ---: | ---: |")
    for (commit, sqlite) in [("on", SQLiteStore.Synchronous.full), ("off", .normal)] {
        precondition(rawpq_exec(admin, "alter database orion set synchronous_commit = \(commit)") == 0)
        let workload = "Transfers on PostgreSQL, synchronous_commit = \(commit), 64 clients (transfers/s)"
        let pgbench = "pgbench, 64 clients, the same transaction as a custom script"
        let name = sqlite == .full ? "full" : "normal"
        let nio = NIOPostgres(url: server.url, connections: 64)
        // Every contender once per round, in rotating order; medians (quick: one round).
        var contenders: [(String, () async throws -> Double?)] = [
            (pgbench, { pgbenchTransfers(url: server.url, accounts: accounts, clients: 64, seconds: runSeconds) }),
            ("PostgresStore, pool 8, 64 threads", { try runPostgresTransfers(url: server.url, accounts: accounts, pool: 8, duration: .seconds(runSeconds)).tps }),
            ("PostgresStore, pool 64, 64 threads", { try runPostgresTransfers(url: server.url, accounts: accounts, pool: 64, duration: .seconds(runSeconds)).tps }),
            ("PostgresNIO withTransaction, 64 connections, 64 tasks", { try nio.transfers(accounts: accounts, seconds: runSeconds) }),
        ]
        for mode in [TransferMode.noQueue, .queueTx] {
            contenders.append(
                (
                    "SQLiteStore, \(mode.rawValue), synchronous = \(name)",
                    {
                        try await runTransfers(path: path, accounts: accounts, mode: mode, synchronous: sqlite, duration: .seconds(runSeconds)).tps
                    }
                ))
        }
        var samples: [String: [Double]] = [:]
        for round in 0..<(quick ? 1 : 3) {
            for offset in contenders.indices {
                let (contender, run) = contenders[(offset + round) % contenders.count]
                if let tps = try await run() { samples[contender, default: []].append(tps) }
            }
        }
        for (contender, _) in contenders {
            guard let runs = samples[contender] else {
                recordMissing(workload, contender, because: "pgbench was not found or failed (ORION_BENCH_PGBIN names its folder)")
                continue
            }
            record(
                workload, contender, unit: "transfers/s", samples: runs, lowerIsBetter: false, baseline: pgbench,
                target: contender == "PostgresStore, pool 64, 64 threads" ? 1 / 0.9 : nil)
            print("| \(contender) | synchronous_commit = \(commit) | 64 clients | \(Int(median(runs))) | |")
        }
    }
}
