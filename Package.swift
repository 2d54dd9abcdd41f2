// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "orion-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Orion", targets: ["Orion"]),
        .executable(name: "demo", targets: ["Demo"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(name: "Orion", dependencies: ["CSQLite"]),
        .executableTarget(name: "Demo", dependencies: ["Orion"]),
        // A helper process the tests start (locks across processes, concurrent boots, crashes).
        .executableTarget(name: "OrionTestChild", dependencies: ["Orion"]),
        .testTarget(name: "OrionTests", dependencies: ["Orion", "OrionTestChild"]),
    ],
    swiftLanguageModes: [.v6]
)
