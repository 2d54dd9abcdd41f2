// The peers a Vapor or Hummingbird user would pick, on the same data in the same run:
// SQLiteNIO (vapor/sqlite-nio) and PostgresNIO (vapor/postgres-nio), each called from one task
// awaiting every query, as their documentation shows; and pgbench, PostgreSQL's own client,
// running the transfer transaction as a custom script.
import Dispatch
import Foundation
import Logging
import PostgresNIO
import SQLiteNIO

/// Runs `body` on the global executor and waits for it: the workloads' rounds are synchronous,
/// and a whole round (thousands of awaited queries) runs inside one task.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, any Error>?
    Task.detached {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}

/// A SQLiteNIO connection to the reads database, with the version of SQLite it carries (its own
/// copy, not the system's libsqlite3 that raw C, GRDB and Orion share).
final class NIOReads: @unchecked Sendable {
    let connection: SQLiteNIO.SQLiteConnection

    init(path: String) throws {
        connection = try blocking { try await SQLiteNIO.SQLiteConnection.open(storage: .file(path: path)) }
        peerVersions["SQLiteNIO 1.13.2 (its own SQLite)"] = SQLiteNIO.SQLiteConnection.libraryVersionString()
    }

    static func item(_ row: SQLiteRow) -> Item {
        let c = row.columns
        return Item(id: Int64(c[0].data.integer!), name: c[1].data.string!, qty: c[2].data.integer!, price: c[3].data.double!)
    }

    func pointReads(_ ids: ArraySlice<Int64>) throws -> Int {
        try blocking { [connection] in
            var sum = 0
            for id in ids {
                let rows = try await connection.query("select id, name, qty, price from items where id = ?", [.integer(Int(id))])
                sum &+= NIOReads.item(rows[0]).qty
            }
            return sum
        }
    }

    func rangeReads(from: Int, count: Int, repeats: Int) throws -> Int {
        try blocking { [connection] in
            var total = 0
            for _ in 0..<repeats {
                let rows = try await connection.query(
                    "select id, name, qty, price from items where id >= ? and id < ? order by id", [.integer(from), .integer(from + count)])
                total &+= rows.map(NIOReads.item).count
            }
            return total
        }
    }

    static func inserts(path: String, count: Int) throws {
        try blocking {
            let connection = try await SQLiteNIO.SQLiteConnection.open(storage: .file(path: path))
            _ = try await connection.query("pragma synchronous = normal")
            for i in 0..<count {
                _ = try await connection.query("insert into log (a, b) values (?, ?)", [.integer(i), .text("some text payload")])
            }
            try await connection.close()
        }
    }

    func close() { try? blocking { [connection] in try await connection.close() } }
}

/// A PostgresNIO client on the throwaway server's socket, running for as long as this lives.
final class NIOPostgres: @unchecked Sendable {
    let client: PostgresClient
    private let runner: Task<Void, Never>

    init(url: String, connections: Int) {
        // postgresql:///orion?host=/tmp/dir&user=postgres
        let query = URLComponents(string: url)?.queryItems ?? []
        let host = query.first { $0.name == "host" }?.value ?? "/tmp"
        let user = query.first { $0.name == "user" }?.value ?? "postgres"
        var config = PostgresClient.Configuration(
            unixSocketPath: host + "/.s.PGSQL.5432", username: user, password: nil, database: "orion")
        config.options.maximumConnections = connections
        config.options.minimumConnections = connections
        let client = PostgresClient(configuration: config)
        self.client = client
        runner = Task.detached { await client.run() }
        peerVersions["PostgresNIO"] = "1.33.2"
    }

    func pointReads(_ ids: ArraySlice<Int64>) throws -> Int {
        try blocking { [client] in
            var sum = 0
            for id in ids {
                let rows = try await client.query("select id, name, qty, price from items where id = \(id)")
                for try await (_, _, qty, _) in rows.decode((Int64, String, Int32, Double).self) { sum &+= Int(qty) }
            }
            return sum
        }
    }

    /// The transfer of ``transfer(_:_:_:)`` from 64 tasks for `seconds`; transfers/s.
    func transfers(accounts: Int64, seconds: Int) throws -> Double {
        try blocking { [client] in
            let deadline = ContinuousClock.now + .seconds(seconds)
            let started = ContinuousClock.now
            let logger = Logger(label: "bench")
            let done = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<64 {
                    group.addTask {
                        var rng = FastRandom(seed: UInt64(task) &* 7919 &+ 1)
                        var done = 0
                        while ContinuousClock.now < deadline {
                            let (from, to) = transferPair(accounts, &rng)
                            try await client.withTransaction(logger: logger) { connection in
                                var balance = 0
                                for try await (b) in try await connection.query("select balance from accounts where id = \(from)", logger: logger)
                                    .decode(Int64.self)
                                {
                                    balance = Int(b)
                                }
                                let amount = balance > 0 ? 1 : 0
                                for (id, delta) in from < to ? [(from, -amount), (to, amount)] : [(to, amount), (from, -amount)] {
                                    try await connection.query("update accounts set balance = balance + \(delta) where id = \(id)", logger: logger)
                                }
                            }
                            done += 1
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = ContinuousClock.now - started
            return Double(done) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }

    deinit { runner.cancel() }
}

/// pgbench running the transfer transaction (the same skew, the same statements, lower id
/// updated first) with `clients` connections for `seconds`; its TPS, or nil when pgbench is
/// missing or fails.
func pgbenchTransfers(url: String, accounts: Int64, clients: Int, seconds: Int) -> Double? {
    let script = work.appendingPathComponent("transfer.pgbench")
    let text = """
        \\set a random(0, 999999)
        \\set from greatest(1, least(:accounts, 1 + int(:accounts * pow(:a / 1000000.0, 6))))
        \\set b random(0, 999999)
        \\set to greatest(1, least(:accounts, 1 + int(:accounts * pow(:b / 1000000.0, 6))))
        \\if :from = :to
        \\set to :from % :accounts + 1
        \\endif
        BEGIN;
        SELECT balance FROM accounts WHERE id = :from;
        \\if :from < :to
        UPDATE accounts SET balance = balance + -1 WHERE id = :from;
        UPDATE accounts SET balance = balance + 1 WHERE id = :to;
        \\else
        UPDATE accounts SET balance = balance + 1 WHERE id = :to;
        UPDATE accounts SET balance = balance + -1 WHERE id = :from;
        \\endif
        COMMIT;

        """
    guard (try? text.write(to: script, atomically: true, encoding: .utf8)) != nil else { return nil }
    let bindir = ProcessInfo.processInfo.environment["ORION_BENCH_PGBIN"] ?? "/usr/lib/postgresql/15/bin"
    let command =
        "'\(bindir)/pgbench' -n -M prepared -c \(clients) -j 2 -T \(seconds) -D accounts=\(accounts) -f '\(script.path)' '\(url)' 2>&1"
    guard let pipe = popen(command, "r") else { return nil }
    var output = ""
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), pipe) != nil { output += String(cString: buffer) }
    guard pclose(pipe) == 0,
        let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
        let tps = Double(line.dropFirst("tps = ".count).prefix { $0 != " " })
    else {
        print("pgbench failed: \(output.suffix(400))")
        return nil
    }
    return tps
}
