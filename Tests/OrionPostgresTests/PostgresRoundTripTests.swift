import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Testing

@Suite("PostgresStore: round trips", .enabled(if: PG.available, PG.skipReason))
struct PostgresRoundTripTests {
    /// The column of the test table that holds `value`'s kind, and what PostgreSQL gives back:
    /// bigint, double precision (NaN, ±infinity and -0 included), text without NUL, bytea.
    static func column(_ value: SQLValue) -> String? {
        switch value {
        case .null: "n"
        case .integer: "n"
        case .real: "d"
        case .text(let v): v.utf8.contains(0) ? nil : "t"
        case .blob: "b"
        }
    }

    @Test("10,000 values and the edges PostgreSQL can hold: written with exec, read with query and one, unchanged")
    func values() throws {
        let values = (RoundTripValues.edges + RoundTripValues.random(10_000, seed: 0xFEED_FACE_CAFE_BEEF)).filter { Self.column($0) != nil }
        let store = try PG.freshStore()
        try store.exec("create table rt (i integer primary key, n bigint, d double precision, t text, b bytea)")
        try store.tx {
            for (i, value) in values.enumerated() {
                try store.exec("insert into rt (i, \(Self.column(value)!)) values (?, ?)", i, value)
            }
        }
        let rows: [Row] = try store.query("select n, d, t, b from rt order by i")
        #expect(rows.count == values.count)
        var mismatches: [String] = []
        for (i, value) in values.enumerated() {
            let index = ["n": 0, "d": 1, "t": 2, "b": 3][Self.column(value)!]!
            let read = rows[i][index]
            let same: Bool
            switch (value, read) {
            case (.real(let x), .real(let y)): same = x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
            default: same = value == read
            }
            if !same { mismatches.append("#\(i) wrote \(value), read \(read)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ: \(mismatches.prefix(5))")
        for i in stride(from: 0, to: values.count, by: 97) {
            let column = Self.column(values[i])!
            let one: SQLValue? = try store.one("select \(column) from rt where i = ?", i)
            #expect(one == values[i] || { if case .real(let x) = values[i], x.isNaN { return true } else { return false } }(), "#\(i): one gave \(String(describing: one)) for \(values[i])")
        }
    }
}

@Suite("PostgresStore: resources", .enabled(if: PG.available, PG.skipReason))
struct PostgresResourceTests {
    @Test("closing a store ends every server connection it opened")
    func closeEndsConnections() throws {
        let url = try PG.freshDatabase()
        let database = try #require(URLComponents(string: url)?.path.dropFirst()).description
        func connections() throws -> Int {
            try PG.admin.one("select count(*) from pg_stat_activity where datname = ?", database) ?? -1
        }
        let store = try PostgresStore(url: url, poolSize: 4)
        try store.exec("create table t (x integer)")
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for i in 0..<50 {
                try? store.exec("insert into t (x) values (?)", i)
                let _: Int? = try? store.one("select count(*) from t")
            }
        }
        #expect(try store.one("select count(*) from t") == 200)
        let opened = try connections()
        #expect(opened >= 1, "the pool opened connections: \(opened)")
        store.close()
        // The server notices a closed connection at once, but its backend exits a moment later.
        var left = try connections()
        for _ in 0..<100 where left > 0 {
            usleep(20_000)
            left = try connections()
        }
        #expect(left == 0)
    }
}
