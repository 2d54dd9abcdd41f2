// The live todo board. `swift run todos` serves http://127.0.0.1:8080 with its data in app.db;
// HOST, PORT, ORION_DB, ORION_POSTGRES_URL and ORION_QUERY_SAMPLE change that.
import Foundation
import Hummingbird
import Logging
import TodoBoard

let logger = Logger(label: "todos")
do {
    let settings = try Settings(environment: ProcessInfo.processInfo.environment)
    let backend = try openBackend(settings)
    let app = makeApplication(settings: settings, backend: backend, logger: logger)
    try await app.runService()
} catch {
    FileHandle.standardError.write(Data("todos: \(error)\n".utf8))
    exit(1)
}
