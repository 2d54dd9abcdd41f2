// swift-tools-version: 6.1
// Benchmarks for Orion, side by side with raw C over the same libsqlite3, GRDB.swift, SQLiteNIO,
// libpq in C, PostgresNIO and pgbench.
// Its own package so the library never depends on GRDB; never run in CI.
import PackageDescription

let package = Package(
    name: "OrionBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "orion-swift", path: ".."),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        // The peers a Vapor user would pick: SQLiteNIO (it carries its own SQLite) and PostgresNIO.
        .package(url: "https://github.com/vapor/sqlite-nio", exact: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
    ],
    targets: [
        .target(name: "RawSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "RawPQ", cSettings: [.unsafeFlags(["-I/usr/include/postgresql"])], linkerSettings: [.linkedLibrary("pq")]),
        .executableTarget(
            name: "OrionBench",
            dependencies: [
                "RawSQLite",
                "RawPQ",
                .product(name: "Orion", package: "orion-swift"),
                .product(name: "OrionPostgres", package: "orion-swift"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
