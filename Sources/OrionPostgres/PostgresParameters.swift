internal import CLibPQ
import Foundation
import Orion

extension PostgresConnection {
    /// Parameters in libpq's form, in buffers one connection reuses for every call.
    struct ParameterBuffers {
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var pointers: [UnsafePointer<CChar>?] = []

        /// Parameters in libpq's form: text for numbers and strings (PostgreSQL infers each type from
        /// where the `$n` stands, so `1` fits a boolean column and a bigint alike), binary for bytes.
        mutating func with<R>(
            _ params: [SQLValue], sql: String,
            _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
        ) throws -> R {
            if params.isEmpty { return body(nil, nil, nil) }
            bytes.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            formats.removeAll(keepingCapacity: true)
            var binary = false
            for (index, value) in params.enumerated() {
                var length: Int32 = 0
                var format: Int32 = 0
                switch value {
                case .null:
                    offsets.append(-1)
                    lengths.append(0)
                    formats.append(0)
                    continue
                case .integer(let v):
                    offsets.append(bytes.count)
                    Self.appendDecimal(v, to: &bytes)
                case .real(let v):
                    offsets.append(bytes.count)
                    bytes.append(contentsOf: Self.text(of: v).utf8)
                case .text(let v):
                    if v.utf8.contains(0) {
                        throw StoreError(
                            .unsupportedParameter,
                            "parameter \(index + 1) is text with a NUL character, which PostgreSQL's text cannot hold; bind it as bytes ([UInt8] or Data) into a bytea column",
                            sql: sql)
                    }
                    offsets.append(bytes.count)
                    bytes.append(contentsOf: v.utf8)
                case .blob(let v):
                    offsets.append(bytes.count)
                    bytes.append(contentsOf: v)
                    length = Int32(v.count)
                    format = 1
                    binary = true
                }
                bytes.append(0)
                lengths.append(length)
                formats.append(format)
            }
            return bytes.withUnsafeBufferPointer { buffer in
                let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                pointers.removeAll(keepingCapacity: true)
                for offset in offsets { pointers.append(offset < 0 ? nil : base + offset) }
                // Text parameters need neither lengths nor formats: libpq reads them to their NUL.
                return binary ? body(pointers, lengths, formats) : body(pointers, nil, nil)
            }
        }

        /// Appends `value` in decimal digits.
        private static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            var magnitude = value.magnitude
            var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            var count = 0
            withUnsafeMutableBytes(of: &digits) { raw in
                repeat {
                    raw[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                    magnitude /= 10
                    count += 1
                } while magnitude > 0
                for k in stride(from: count - 1, through: 0, by: -1) { bytes.append(raw[k]) }
            }
        }

        /// A double as PostgreSQL's float8 input reads it, exactly.
        private static func text(of value: Double) -> String {
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
            return value.description
        }
    }
}
