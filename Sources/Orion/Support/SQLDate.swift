import Foundation

/// Dates as SQLite writes them: UTC text `YYYY-MM-DD HH:MM:SS.SSS`.
///
/// Hand-written rather than `DateFormatter`/`ISO8601FormatStyle`: both allocate and are an order of
/// magnitude slower on a hot decode path.
enum SQLDate {
    private static let msPerDay: Int64 = 86_400_000

    /// The milliseconds since 1970 of 0000-01-01 00:00:00.000 and of 9999-12-31 23:59:59.999 UTC,
    /// the range of SQLite's date text.
    private static let earliest: Double = -62_167_219_200_000
    private static let latest: Double = 253_402_300_799_999

    /// Why `value`, bound at `position` (from 1), cannot be bound, when it is a `Date` that
    /// SQLite's date text cannot hold; `nil` otherwise. Called only for values whose
    /// `sqlValue` is NULL, which is what such a date gives.
    package static func bindingProblem(_ value: any SQLBindable, position: Int) -> String? {
        guard type(of: value) == Date.self, let date = value as? Date else { return nil }
        let seconds = date.timeIntervalSince1970
        let what = seconds.isFinite ? "outside the years 0000–9999" : "not a finite time"
        return "parameter \(position) is a Date \(what), which SQLite's date text (YYYY-MM-DD HH:MM:SS.SSS) cannot hold; check the date before storing it"
    }

    /// Formats `date` as UTC `YYYY-MM-DD HH:MM:SS.SSS`, rounded to the millisecond; `nil` for a
    /// date that is not finite or lies outside the years 0000–9999, which that text cannot hold.
    static func format(_ date: Date) -> String? {
        let exact = (date.timeIntervalSince1970 * 1000).rounded()
        guard exact.isFinite, exact >= earliest, exact <= latest else { return nil }
        let ms = Int64(exact)
        var days = ms / msPerDay
        var msOfDay = ms % msPerDay
        if msOfDay < 0 {
            msOfDay += msPerDay
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func put(_ value: Int64, _ width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = value < 0 ? -value : value
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            if value < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: digits)
        }
        put(year, 4)
        out.append(UInt8(ascii: "-"))
        put(month, 2)
        out.append(UInt8(ascii: "-"))
        put(day, 2)
        out.append(UInt8(ascii: " "))
        put(msOfDay / 3_600_000, 2)
        out.append(UInt8(ascii: ":"))
        put(msOfDay / 60_000 % 60, 2)
        out.append(UInt8(ascii: ":"))
        put(msOfDay / 1000 % 60, 2)
        out.append(UInt8(ascii: "."))
        put(msOfDay % 1000, 3)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `YYYY-MM-DD`, optionally followed by ` ` or `T`, `HH:MM`, `:SS`, a fraction, and
    /// `Z` or a `±HH`, `±HHMM` or `±HH:MM` offset. Without an offset the text is UTC, as SQLite's `datetime()` writes.
    static func parse(_ text: some Collection<UInt8>) -> Date? {
        var p = Array(text)[...]
        func number(_ width: Int) -> Int64? {
            guard p.count >= width else { return nil }
            var v: Int64 = 0
            for _ in 0..<width {
                let c = p.removeFirst()
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int64(c - UInt8(ascii: "0"))
            }
            return v
        }
        func take(_ c: UInt8) -> Bool {
            if p.first == c {
                p.removeFirst()
                return true
            }
            return false
        }
        guard let year = number(4), take(UInt8(ascii: "-")),
            let month = number(2), take(UInt8(ascii: "-")),
            let day = number(2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var ms: Int64 = 0
        if take(UInt8(ascii: " ")) || take(UInt8(ascii: "T")) || take(UInt8(ascii: "t")) {
            guard let h = number(2), take(UInt8(ascii: ":")), let m = number(2), h < 24, m < 60
            else { return nil }
            ms = (h * 3600 + m * 60) * 1000
            if take(UInt8(ascii: ":")) {
                guard let s = number(2), s < 61 else { return nil }
                ms += s * 1000
                if take(UInt8(ascii: ".")) {
                    var scale: Int64 = 100
                    var digits = 0
                    while let c = p.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                        p.removeFirst()
                        ms += Int64(c - UInt8(ascii: "0")) * scale
                        scale /= 10
                        digits += 1
                    }
                    guard digits > 0 else { return nil }
                }
            }
            if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) {
                // UTC
            } else if let sign = p.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                p.removeFirst()
                // ±HH, ±HHMM or ±HH:MM (PostgreSQL prints +00).
                guard let oh = number(2), oh < 24 else { return nil }
                var om: Int64 = 0
                if take(UInt8(ascii: ":")) || !p.isEmpty {
                    guard let minutes = number(2), minutes < 60 else { return nil }
                    om = minutes
                }
                let offset = (oh * 60 + om) * 60_000
                ms += sign == UInt8(ascii: "+") ? -offset : offset
            }
        }
        guard p.isEmpty else { return nil }
        let total = days(fromCivil: year, month, day) * msPerDay + ms
        return Date(timeIntervalSince1970: Double(total) / 1000)
    }

    // Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian, day 0 = 1970-01-01).
    private static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
