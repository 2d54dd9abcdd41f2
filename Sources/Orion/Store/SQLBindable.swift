public import Foundation

/// A Swift value that binds to a `?` parameter.
///
/// ```swift
/// try store.exec("insert into events (at, id, note) values (?, ?, ?)", Date(), UUID(), nil as String?)
/// ```
///
/// `Bool` binds as 0/1, `Date` as UTC text `YYYY-MM-DD HH:MM:SS.SSS` (SQLite's own format, so
/// `datetime()` and text ordering work; a date outside the years 0000–9999 is refused), `UUID` as lowercase text, `Data` and `[UInt8]` as blobs,
/// and `nil` as NULL. Conform your own types by returning one of these; an enum whose raw value
/// binds needs only the declaration, and binds as its raw value:
///
/// ```swift
/// enum Status: String, SQLBindable { case open, done }
/// try store.exec("update todos set status = ? where id = ?", Status.done, id)
/// ```
///
/// A list for `IN (…)` does not bind as one parameter; pass it as JSON and read it with
/// `json_each`: `where id in (select value from json_each(?))` with `"[1,2,3]"`.
public protocol SQLBindable {
    /// The value to bind.
    var sqlValue: SQLValue { get }
}

extension Int: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension Int8: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension Int16: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension Int32: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension Int64: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(self) }
}
extension UInt8: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension UInt16: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension UInt32: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(Int64(self)) }
}
extension Double: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .real(self) }
}
extension Float: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .real(Double(self)) }
}
extension Bool: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
}
extension String: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .text(self) }
}
extension Substring: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .text(String(self)) }
}
extension Array: SQLBindable where Element == UInt8 {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .blob(self) }
}
extension Data: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { .blob([UInt8](self)) }
}
extension Date: SQLBindable {
    /// UTC text `YYYY-MM-DD HH:MM:SS.SSS`, rounded to the millisecond.
    ///
    /// A date that text cannot hold (not finite, or outside the years 0000–9999) gives NULL here;
    /// passed as a parameter to a store, it is refused with a ``StoreError`` naming its position
    /// before anything runs.
    public var sqlValue: SQLValue { SQLDate.format(self).map(SQLValue.text) ?? .null }
}
extension UUID: SQLBindable {
    /// Lowercase text, as PostgreSQL prints a `uuid`.
    public var sqlValue: SQLValue { .text(uuidString.lowercased()) }
}
extension SQLBindable where Self: RawRepresentable, RawValue: SQLBindable {
    /// The raw value's.
    @inlinable public var sqlValue: SQLValue { rawValue.sqlValue }
}
extension Optional: SQLBindable where Wrapped: SQLBindable {
    /// The value to bind.
    @inlinable public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}
