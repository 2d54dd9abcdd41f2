// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Logging
import Orion
import OrionObservability
import Testing

// "Seeing what SQL ran", verbatim. DocsCheckTests fails when a block of the article is not here.

@Suite("Seeing what SQL ran: its examples run", .serialized)
struct SeeingWhatSQLRanExamples {
    struct Config { var querySample: Double }

    @Test("the wrapper, the query log's table and snapshot, and the swift-log observer")
    func examples() async throws {
        try await inFreshFolder {
            let base = try SQLiteStore(path: "app.db")
            try base.migrate("t", ["create table t (x integer)"])
            let config = Config(querySample: 1)
            let log = QueryLog()
            let store: any Store = config.querySample > 0
                ? InstrumentedStore(base, sample: config.querySample, onQuery: log.record)
                : base
            try store.exec("insert into t (x) values (?)", 1)
            let _: Int? = try store.one("select x from t where x = ?", 1)

            print(log.table())
            //  total ms  count  mean µs  p50 µs  p95 µs  p99 µs  max µs  rows  errors  sql
            //     412.7   9120     45.2    31.0   120.4   310.9   902.1  9120       0  select … where id = ?
            let json = try JSONEncoder().encode(log.snapshot())  // for a panel
            #expect(log.table().contains("select x from t where x = ?"))
            #expect(String(decoding: json, as: UTF8.self).contains("insert into t (x) values (?)"))
        }
    }

    @Test("the observer logs successful queries once the logger's level is .debug")
    func observer() async throws {
        try await inFreshFolder {
            let base = try SQLiteStore(path: "app.db")
            var logger = Logger(label: "db")
            logger.logLevel = .debug  // successful queries log at .debug; failures at .warning
            let observer = QueryObserver(logger: logger, system: .sqlite)
            let store = InstrumentedStore(base, sample: 0.05, onQuery: observer.record)
            let _: Int? = try store.one("select 1")
        }
    }
}
