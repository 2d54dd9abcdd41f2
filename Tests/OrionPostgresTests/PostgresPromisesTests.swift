import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Testing

@Suite("What the store promises: the wrong-input table on PostgreSQL", .enabled(if: PG.available, PG.skipReason))
struct PostgresPromisesTests {
    /// Ends the server process behind `store`'s only connection, as a restart would.
    static func endConnection(_ store: PostgresStore) throws {
        let pid: Int? = try store.one("select pg_backend_pid()")
        #expect(try PG.admin.one("select pg_terminate_backend(?)", pid) == true)
    }

    @Test("every wrong input in the table gives the error written there (PostgreSQL)")
    func wrongInputs() throws {
        let store = try PG.freshStore(poolSize: 1, poolTimeout: .milliseconds(200))
        try store.exec("create table todos (id bigserial primary key, title text not null)")
        let cases: [String: () throws -> Void] = [
            "parameter-count": { try store.exec("insert into todos (title) values (?)") },
            "syntax": { try store.exec("insrt into todos (title) values (?)", "a") },
            "two-statements": { try store.exec("insert into todos (title) values ('a'); delete from todos") },
            "not-a-postgres-url": { _ = try PostgresStore(url: "mysql://localhost/app") },
            "unreachable-server": { _ = try PostgresStore(url: "postgresql://someone:secret@127.0.0.1:1/none?connect_timeout=2") },
            "lost-connection": {
                // The server ends the connection while the call runs on it.
                let _: Bool? = try store.one("select pg_terminate_backend(pg_backend_pid())")
            },
            "lost-mid-tx": {
                defer { #expect(try! store.one("select count(*) from todos where title = 'in the lost tx'") == 0) }
                try store.tx {
                    try store.exec("insert into todos (title) values ('in the lost tx')")
                    try Self.endConnection(store)
                    try store.exec("insert into todos (title) values ('after')")
                }
            },
            "swallowed-failure": {
                try store.tx {
                    try store.exec("insert into todos (title) values ('before')")
                    _ = try? store.exec("insert into nowhere values (1)")
                    try store.exec("insert into todos (title) values ('after')")
                }
            },
            "pool-exhausted": {
                let release = PG.holdConnection(of: store)
                defer { release() }
                let _: Int? = try store.one("select 1")
            },
        ]
        let rows = try PromisesPage().wrongInputs(for: "PostgreSQL")
        #expect(rows.count >= 9)
        try PromisesPage().check("PostgreSQL", cases: cases)
    }
}
