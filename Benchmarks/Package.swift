// swift-tools-version: 6.1
// Benchmarks for Orion, side by side with raw C over the same libsqlite3 and with GRDB.swift.
// Its own package so the library never depends on GRDB; never run in CI.
import PackageDescription

let package = Package(
    name: "OrionBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "orion-swift", path: ".."),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
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
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
