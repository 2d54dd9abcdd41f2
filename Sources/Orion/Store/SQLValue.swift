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
    ///
    /// - Throws: ``StoreError`` with ``StoreError/Code/unsupportedParameter`` for a value the
    ///   store refuses to bind (a `Date` outside the years 0000–9999), naming its position.
    @inlinable
    public static func list(_ params: [(any SQLBindable)?]) throws -> [SQLValue] {
        try list(params, sql: nil)
    }

    /// ``list(_:)`` for a call of `sql`, which a refusal names.
    @inlinable
    static func list(_ params: [(any SQLBindable)?], sql: String?) throws -> [SQLValue] {
        if params.isEmpty { return [] }
        // Read each parameter in place: iterating the array copies every existential through
        // the runtime's value witnesses, which cost more than the binding itself.
        return try params.withUnsafeBufferPointer { buffer in
            @inline(__always) func value(_ i: Int) throws -> SQLValue {
                let value = buffer[i]?.sqlValue ?? .null
                if case .null = value, let given = buffer[i] { try checkBindable(given, position: i + 1, sql: sql) }
                return value
            }
            // Array literals allocate with the array type's metadata cached at the call site;
            // `init(unsafeUninitializedCapacity:)` looks it up in the runtime on every call.
            switch buffer.count {
            case 1: return [try value(0)]
            case 2: return [try value(0), try value(1)]
            case 3: return [try value(0), try value(1), try value(2)]
            case 4: return [try value(0), try value(1), try value(2), try value(3)]
            default: break
            }
            var values: [SQLValue] = []
            values.reserveCapacity(buffer.count)
            for i in 0..<buffer.count { values.append(try value(i)) }
            return values
        }
    }

    /// Throws when `value`, whose `sqlValue` is NULL, is a value the store refuses to bind.
    @usableFromInline
    static func checkBindable(_ value: any SQLBindable, position: Int, sql: String?) throws {
        if let problem = SQLDate.bindingProblem(value, position: position) {
            throw StoreError(.unsupportedParameter, problem, sql: sql)
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
