// swift-format-ignore-file
// (the examples are the articles' code, line for line)
import Foundation
import Logging
import Orion
import OrionObservability
import Testing

// "Operating a store", verbatim. DocsCheckTests fails when a block of the article is not here.

enum OperatingDocs {
    enum Todos {
        static let migrations = ["create table todos (id integer primary key, title text not null)"]
    }
}

@Suite("Operating a store: its examples run", .serialized)
struct OperatingExamples {
    typealias Todos = OperatingDocs.Todos

    @Test("a backup while the queue is on, the checkpointing option, health metrics, a read-only replica")
    func examples() async throws {
        try await inFreshFolder {
            let logger = Logger(label: "ops")
            try FileManager.default.createDirectory(atPath: "backups", withIntermediateDirectories: true)
            let store = try SQLiteStore(path: "app.db", writeQueue: WriteQueue(), checkpointing: .bounded(walLimit: 256 << 20))
            try store.migrate("todos", Todos.migrations)
            try store.exec("insert into todos (title) values ('in the backup')")

            try store.flush()  // with the write queue: commit the open batch, so it is in the copy
            try store.backup(to: "backups/app.db", replacing: true) { progress in
                logger.debug("backup \(Int(progress.fractionDone * 100)) %")
            }

            let metrics = HealthMetrics(dimensions: [("store", "main")])
            Task { await metrics.run(every: .seconds(10)) { try store.health() } }

            try FileManager.default.copyItem(atPath: "backups/app.db", toPath: "replica.db")
            let replica = try SQLiteStore(path: "replica.db", mode: .readOnly)
            try replica.migrate("todos", Todos.migrations)  // checks the entries are applied; applies none
            let todos = replica.scoped(to: "todos")  // reads through the fence as usual
            #expect(try todos.query("select title from todos") == ["in the backup"])
            #expect(throws: StoreError.self) { try todos.exec("delete from todos") }
            try store.close()
        }
    }
}
