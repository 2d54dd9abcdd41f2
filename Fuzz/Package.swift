// swift-tools-version: 6.0
// libFuzzer targets for Orion's SQL lexing, row decoding and date parsing (issue #16).
// A package of its own so the library's build never sees -sanitize=fuzzer; run with scripts/fuzz.
import PackageDescription

/// Each target is a set of C entry points (`LLVMFuzzerTestOneInput`) with no `main`: libFuzzer,
/// linked by `-sanitize=fuzzer`, brings its own.
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "OrionFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "orion-swift", path: "..")
    ],
    targets: [
        // Reading bytes of a fuzz input, and reporting an invariant that failed.
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzPlaceholders",
            dependencies: ["FuzzSupport", .product(name: "OrionPostgres", package: "orion-swift")],
            swiftSettings: fuzzer
        ),
        .executableTarget(
            name: "FuzzClassifiers",
            dependencies: [
                "FuzzSupport",
                .product(name: "Orion", package: "orion-swift"),
                .product(name: "OrionPostgres", package: "orion-swift"),
            ],
            swiftSettings: fuzzer
        ),
        .executableTarget(
            name: "FuzzRowDecoder",
            dependencies: ["FuzzSupport", .product(name: "Orion", package: "orion-swift")],
            swiftSettings: fuzzer
        ),
        .executableTarget(
            name: "FuzzDates",
            dependencies: ["FuzzSupport", .product(name: "Orion", package: "orion-swift")],
            swiftSettings: fuzzer
        ),
    ],
    swiftLanguageModes: [.v6]
)
