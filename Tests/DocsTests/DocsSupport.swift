import Foundation
import Orion
import OrionPostgres
import StoreConformance
import Testing

/// Runs `body` in a fresh folder made the current directory, as the articles' examples assume
/// (`SQLiteStore(path: "app.db")`). The suites that use it are serialized, and the other test
/// targets use absolute paths only.
func inFreshFolder<T>(_ body: () async throws -> T) async throws -> T {
    // One at a time: the current directory belongs to the whole process.
    try await currentFolder.alone {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orion-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(folder.path)
        defer {
            FileManager.default.changeCurrentDirectoryPath(previous)
            try? FileManager.default.removeItem(at: folder)
        }
        return try await body()
    }
}

/// Who may change the process's current directory: one example at a time.
private let currentFolder = OneAtATime()

/// The PostgreSQL server of the run, for the examples that read `DATABASE_URL`.
enum DocsPostgres {
    static let url = ProcessInfo.processInfo.environment["ORION_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// A fresh database on the run's server, exported as `DATABASE_URL` for the example.
    static func freshDatabase() throws {
        let admin = try PostgresStore(url: url!, poolSize: 1)
        defer { admin.close() }
        let name = "orion_docs_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        try admin.exec("create database \(name)")
        var parts = URLComponents(string: url!)!
        parts.path = "/" + name
        setenv("DATABASE_URL", parts.string!, 1)
    }
}
