internal import CLibPQ
import Foundation
import Orion

extension PostgresConnection {
    /// A result's rows as SQL values, by column type, into the entry's table: integers (and
    /// `oid`) as `.integer`, floats as `.real`, numeric as `.integer` when whole and in range
    /// else `.real`, boolean as `.integer` 0/1, bytea as `.blob`, everything else (text,
    /// timestamps, uuid, json, …) as `.text` in PostgreSQL's output format.
    func read(_ result: OpaquePointer, into entry: Entry) -> ResultTable {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        let table: ResultTable
        if let existing = entry.table, existing.columnCount == columns {
            table = existing
        } else {
            entry.table?.releaseDecoder()
            table = ResultTable(names: (0..<columns).map { String(cString: PQfname(result, Int32($0))) })
            entry.table = table
        }
        table.load(rows: rows) { values in
            for r in 0..<Int32(rows) {
                for c in 0..<Int32(columns) {
                    if PQgetisnull(result, r, c) != 0 {
                        values.append(.null)
                    } else {
                        values.append(Self.value(PQgetvalue(result, r, c)!, count: Int(PQgetlength(result, r, c)), type: PQftype(result, c)))
                    }
                }
            }
        }
        return table
    }

    private static func value(_ text: UnsafeMutablePointer<CChar>, count: Int, type: Oid) -> SQLValue {
        let bytes = UnsafeRawBufferPointer(start: text, count: count).bindMemory(to: UInt8.self)
        // Type OIDs from PostgreSQL's pg_type.dat, fixed since forever.
        switch type {
        case 16:  // bool
            return .integer(bytes.first == UInt8(ascii: "t") ? 1 : 0)
        case 20, 21, 23, 26, 28:  // int8, int2, int4, oid, xid
            return .integer(integer(bytes) ?? 0)
        case 700, 701:  // float4, float8
            return .real(strtod(text, nil))
        case 1700:  // numeric
            if let whole = integer(bytes) { return .integer(whole) }
            return .real(strtod(text, nil))
        case 17:  // bytea
            return .blob(hexBytes(bytes))
        default:
            return .text(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Digits with an optional minus, when they fit an `Int64`; `nil` otherwise.
    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { i = 1 }
        guard i < bytes.count else { return nil }
        var v: Int64 = 0
        while i < bytes.count {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }

    /// bytea's hex output (`\x0102ff`) as bytes.
    private static func hexBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") else {
            return Array(bytes)
        }
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: c - UInt8(ascii: "A") + 10
            }
        }
        let count = (bytes.count - 2) / 2
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            for k in 0..<count {
                out[k] = nibble(bytes[2 + 2 * k]) << 4 | nibble(bytes[3 + 2 * k])
            }
            initialized = count
        }
    }
}
