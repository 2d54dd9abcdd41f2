// swift-tools-version: 6.1
// The live todo board: a Hummingbird app over Orion. A package of its own, so that a library
// user who depends on Orion never resolves or builds Hummingbird.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TodoBoard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "todos", targets: ["todos"])
    ],
    dependencies: [
        .package(name: "orion-swift", path: "../.."),
        // Without its swift-configuration trait: the app reads its few settings itself.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // The app: features, views, routes and the composition root; the executable only reads
        // its settings and runs it.
        .target(
            name: "TodoBoard",
            dependencies: [
                .product(name: "Orion", package: "orion-swift"),
                .product(name: "OrionPostgres", package: "orion-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "todos",
            dependencies: [
                "TodoBoard",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TodoBoardTests",
            dependencies: [
                "TodoBoard",
                "todos",
                .product(name: "Orion", package: "orion-swift"),
                .product(name: "OrionPostgres", package: "orion-swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
