// swift-tools-version: 6.0
import PackageDescription

/// Strictness the code follows, checked by the compiler (as swift-log does).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "orion-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Orion", targets: ["Orion"]),
        .library(name: "OrionObservability", targets: ["OrionObservability"]),
        .library(name: "OrionPostgres", targets: ["OrionPostgres"]),
        // The contract every adapter passes, for a third-party adapter's own tests.
        .library(name: "StoreConformance", targets: ["StoreConformance"]),
        .executable(name: "demo", targets: ["Demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(name: "Orion", dependencies: ["CSQLite"], swiftSettings: strict),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // PostgresStore: a module of its own, so SQLite users never link libpq.
        .target(name: "OrionPostgres", dependencies: ["Orion", "CLibPQ"], swiftSettings: strict),
        // Bridges query events to swift-log, swift-metrics and swift-distributed-tracing; the
        // core stays free of dependencies.
        .target(
            name: "OrionObservability",
            dependencies: [
                "Orion",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        // The contract every adapter passes; each adapter's test target runs it.
        .target(name: "StoreConformance", dependencies: ["Orion"], swiftSettings: strict),
        .executableTarget(name: "Demo", dependencies: ["Orion"], swiftSettings: strict),
        // A helper process the tests start (locks across processes, concurrent boots, crashes).
        .executableTarget(name: "OrionTestChild", dependencies: ["Orion"], swiftSettings: strict),
        .testTarget(name: "OrionTests", dependencies: ["Orion", "OrionTestChild", "StoreConformance"], swiftSettings: strict),
        // PostgresStore's own tests, and the conformance suite over its adapters.
        .testTarget(name: "OrionPostgresTests", dependencies: ["Orion", "OrionPostgres", "StoreConformance"], swiftSettings: strict),
        // Every example of the README and the DocC articles, compiled and run (DocsCheckTests
        // fails when an article shows code that is not here).
        .testTarget(
            name: "DocsTests",
            dependencies: [
                "Orion", "OrionPostgres", "OrionObservability", "StoreConformance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrionObservabilityTests",
            dependencies: [
                "Orion",
                "OrionObservability",
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
