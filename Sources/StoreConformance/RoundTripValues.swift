public import Orion

/// A small seeded generator (SplitMix64), so that a failing value can be made again.
package struct SeededGenerator: RandomNumberGenerator {
    package var state: UInt64
    package init(state: UInt64) { self.state = state }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Values of every storage class for the adapters' round-trip tests (not part of the
/// conformance suite's API): the edges, and random ones from a seed.
package enum RoundTripValues {
    package static let edges: [SQLValue] = [
        .null, .integer(0), .integer(1), .integer(-1), .integer(.min), .integer(.max), .integer(Int64(Int32.max) + 1),
        .real(0), .real(-0.0), .real(.greatestFiniteMagnitude), .real(-.greatestFiniteMagnitude),
        .real(.leastNonzeroMagnitude), .real(.leastNormalMagnitude), .real(.infinity), .real(-.infinity), .real(.nan),
        .real(1e308), .real(1e-308), .real(0.1), .real(Double(Int64.max)),
        .text(""), .text("\0"), .text("a\0b"), .text("\0\0\0tail"), .text(String(repeating: "é", count: 1 << 19)),
        .text("🇺🇦 emoji, ‮bidi‬, e\u{301}"), .text(String(repeating: "x", count: 1 << 20)),
        .blob([]), .blob([0]), .blob([0xFF, 0xFE, 0x00, 0x80]), .blob([UInt8](repeating: 7, count: 1 << 20)),
    ]

    package static func random(_ count: Int, seed: UInt64) -> [SQLValue] {
        var generator = SeededGenerator(state: seed)
        return (0..<count).map { _ in
            switch Int.random(in: 0..<5, using: &generator) {
            case 0: return .null
            case 1:
                // Small, large and any bit pattern.
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: return .integer(Int64.random(in: -300...300, using: &generator))
                case 1: return .integer(Int64.random(in: .min ... .max, using: &generator))
                default: return .integer(Int64(bitPattern: generator.next()))
                }
            case 2:
                // Any bit pattern: subnormals, infinities, NaNs with payloads and signs.
                let double =
                    Int.random(in: 0..<2, using: &generator) == 0
                    ? Double(bitPattern: generator.next()) : Double.random(in: -1e6...1e6, using: &generator)
                return .real(double)
            case 3:
                let length = Int.random(in: 0..<40, using: &generator)
                let scalars = (0..<length).map { _ -> Character in
                    // ASCII (NUL included), two-, three- and four-byte scalars; no surrogates.
                    let ranges: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
                    let range = ranges[Int.random(in: 0..<ranges.count, using: &generator)]
                    return Character(Unicode.Scalar(UInt32.random(in: range, using: &generator))!)
                }
                return .text(String(scalars))
            default:
                let length = Int.random(in: 0..<40, using: &generator)
                return .blob((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
        }
    }
}
