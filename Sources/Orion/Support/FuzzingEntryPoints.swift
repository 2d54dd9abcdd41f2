public import Foundation

/// Thin wrappers around the store's internal SQL and date helpers, for the project's fuzzers
/// (`Fuzz/`) only: not API, and free to change or go away in any release.
///
/// ```swift
/// @_spi(Fuzzing) import Orion
/// _ = OrionFuzzing.firstWord(of: "-- a comment\nselect 1")  // "select"
/// ```
@_spi(Fuzzing) public enum OrionFuzzing {
    /// `SQLText.firstWord(of:)`: the statement's first word, lowercased, after white space and comments.
    public static func firstWord(of sql: String) -> String { SQLText.firstWord(of: sql) }

    /// `SQLText.hasStatement(in:)`: whether `text` holds anything but white space, comments and semicolons.
    public static func hasStatement(in text: some Collection<UInt8>) -> Bool { SQLText.hasStatement(in: text) }

    /// `SQLDate.parse(_:)`: the date of `YYYY-MM-DD[ HH:MM[:SS[.fraction]]][Z|±HH[[:]MM]]`, or `nil`.
    public static func parseDate(_ text: some Collection<UInt8>) -> Date? { SQLDate.parse(text) }

    /// `SQLDate.format(_:)`: `date` as UTC `YYYY-MM-DD HH:MM:SS.SSS`, or `nil` outside the years 0000–9999.
    public static func formatDate(_ date: Date) -> String? { SQLDate.format(date) }
}
