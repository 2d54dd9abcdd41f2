/// A value as SQL stores it: the five storage classes SQLite and the store's decoders share.
///
/// ```swift
/// let rows: [Row] = try store.query("select * from todos where id = ?", [SQLValue.integer(7)])
/// ```
public enum SQLValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A 64-bit signed integer.
    case integer(Int64)
    /// A double-precision float.
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Bytes.
    case blob([UInt8])

    /// The storage class's SQL name (`NULL`, `INTEGER`, `REAL`, `TEXT`, `BLOB`), for messages.
    public var typeName: String { columnType.sqlName }

    /// The storage class.
    var columnType: ColumnType {
        switch self {
        case .null: .null
        case .integer: .integer
        case .real: .real
        case .text: .text
        case .blob: .blob
        }
    }

    /// Turns the variadic parameters of the `Store` conveniences into values; `nil` binds NULL.
    @inlinable
    public static func list(_ params: [(any SQLBindable)?]) -> [SQLValue] {
        if params.isEmpty { return [] }
        // Read each parameter in place: iterating the array copies every existential through
        // the runtime's value witnesses, which cost more than the binding itself.
        return params.withUnsafeBufferPointer { buffer in
            @inline(__always) func value(_ i: Int) -> SQLValue { buffer[i]?.sqlValue ?? .null }
            // Array literals allocate with the array type's metadata cached at the call site;
            // `init(unsafeUninitializedCapacity:)` looks it up in the runtime on every call.
            switch buffer.count {
            case 1: return [value(0)]
            case 2: return [value(0), value(1)]
            case 3: return [value(0), value(1), value(2)]
            case 4: return [value(0), value(1), value(2), value(3)]
            default: break
            }
            return [SQLValue](unsafeUninitializedCapacity: buffer.count) { values, count in
                for i in 0..<buffer.count {
                    (values.baseAddress! + i).initialize(to: buffer[i]?.sqlValue ?? .null)
                }
                count = buffer.count
            }
        }
    }
}

extension SQLValue: SQLBindable {
    /// The value itself.
    @inlinable
    public var sqlValue: SQLValue { self }
}

extension SQLValue: CustomStringConvertible {
    /// The value in SQL literal form (`NULL`, `42`, `'text'`, `x'0a'`).
    ///
    /// Errors never use this: a bound value never appears in a ``StoreError``.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let v): return SQLText.quoteLiteral(v)
        case .blob(let bytes):
            let digits = Array("0123456789abcdef".utf8)
            var hex: [UInt8] = []
            hex.reserveCapacity(bytes.count * 2)
            for b in bytes {
                hex.append(digits[Int(b >> 4)])
                hex.append(digits[Int(b & 0x0f)])
            }
            return "x'" + String(decoding: hex, as: UTF8.self) + "'"
        }
    }
}

extension SQLValue: Codable {
    /// Decodes whichever of NULL, integer, real, text or bytes the decoder holds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let v = try? container.decode(Int64.self) {
            self = .integer(v)
        } else if let v = try? container.decode(Double.self) {
            self = .real(v)
        } else if let v = try? container.decode(String.self) {
            self = .text(v)
        } else {
            self = .blob(try container.decode([UInt8].self))
        }
    }

    /// Encodes the value as null, a number, a string or an array of bytes.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .integer(let v): try container.encode(v)
        case .real(let v): try container.encode(v)
        case .text(let v): try container.encode(v)
        case .blob(let v): try container.encode(v)
        }
    }
}
