/// A fuzz input read front to back: fixed-size values first, the rest as one run of bytes.
///
/// Reading past the end gives zeros, so every input, however short, is a valid one.
///
/// ```swift
/// var input = FuzzInput(data, size)
/// let kind = input.byte() % 5
/// let text = input.string()
/// ```
public struct FuzzInput {
    public private(set) var bytes: ArraySlice<UInt8>

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))[...]
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// The next byte, or 0.
    public mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    /// The next 8 bytes as a little-endian integer (missing bytes are 0).
    public mutating func int64() -> Int64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { v |= UInt64(byte()) << UInt64(shift) }
        return Int64(bitPattern: v)
    }

    /// The next 8 bytes as a double's bit pattern.
    public mutating func double() -> Double { Double(bitPattern: UInt64(bitPattern: int64())) }

    /// The next `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> [UInt8] {
        let n = min(count, bytes.count)
        defer { bytes = bytes.dropFirst(n) }
        return Array(bytes.prefix(n))
    }

    /// A run of bytes whose length is the next byte.
    public mutating func chunk() -> [UInt8] { take(Int(byte())) }

    /// ``chunk()`` as text (invalid UTF-8 becomes U+FFFD).
    public mutating func string() -> String { String(decoding: chunk(), as: UTF8.self) }

    /// Every byte left.
    public mutating func rest() -> [UInt8] { take(bytes.count) }
}

/// Stops the run when an invariant fails: libFuzzer reports the trap as a crash and saves the
/// input that caused it.
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() {
        fatalError("invariant failed: \(message())", file: file, line: line)
    }
}

/// Shows bytes for a failure message: printable ASCII as is, everything else escaped.
public func shown(_ text: some Sequence<UInt8>) -> String {
    var out = "\""
    for b in text {
        switch b {
        case UInt8(ascii: "\""): out += "\\\""
        case UInt8(ascii: "\\"): out += "\\\\"
        case 0x20..<0x7f: out.append(Character(Unicode.Scalar(b)))
        default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return out + "\""
}

/// ``shown(_:)`` for a string's UTF-8.
public func shown(_ text: String) -> String { shown(text.utf8) }
