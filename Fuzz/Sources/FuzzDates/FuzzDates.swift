import Foundation
import FuzzSupport
@_spi(Fuzzing) import Orion

/// SQLDate: parsing any bytes never crashes, a parsed date formats to text that parses back to
/// the same date, and any Date formats to text that is a fixed point of parse-then-format.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDates(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkParse(bytes)
    if bytes.count >= 8 {
        var input = FuzzInput(bytes)
        let raw = input.int64()
        checkFormat(Date(timeIntervalSince1970: Double(bitPattern: UInt64(bitPattern: raw))))
        // The same bits as milliseconds in SQLite's range (years 0000–9999).
        let span: Int64 = 253_402_300_799_999 + 62_167_219_200_000 + 1
        let ms = (raw % span + span) % span - 62_167_219_200_000
        checkFormat(Date(timeIntervalSince1970: Double(ms) / 1000))
    }
    return 0
}

private func checkParse(_ bytes: [UInt8]) {
    let date = OrionFuzzing.parseDate(bytes)
    // The parser takes any collection of bytes: a slice that does not start at 0 reads the same.
    let padded = [UInt8(ascii: "x")] + bytes
    require(OrionFuzzing.parseDate(padded.dropFirst()) == date, "a slice of \(shown(bytes)) parses differently")
    guard let date else { return }
    require(date.timeIntervalSince1970.isFinite, "\(shown(bytes)) parsed to a date that is not finite")
    guard let text = OrionFuzzing.formatDate(date) else {
        // Only a date outside the years 0000–9999 (reachable with an offset or a day past the
        // month's end) has no text.
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        require(ms < -62_167_219_200_000 || ms > 253_402_300_799_999, "\(shown(bytes)) parsed to \(date.timeIntervalSince1970), which has no text")
        return
    }
    require(text.utf8.count == 23, "\(date.timeIntervalSince1970) formats to \(shown(text))")
    require(OrionFuzzing.parseDate(Array(text.utf8)) == date, "\(shown(bytes)) → \(date.timeIntervalSince1970) → \(shown(text)) parses to \(String(describing: OrionFuzzing.parseDate(Array(text.utf8))?.timeIntervalSince1970))")
    checkAgainstCalendar(bytes, date)
}

private func checkFormat(_ date: Date) {
    guard let text = OrionFuzzing.formatDate(date) else {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        require(!ms.isFinite || ms < -62_167_219_200_000 || ms > 253_402_300_799_999, "\(date.timeIntervalSince1970) has no text")
        return
    }
    require(text.utf8.count == 23, "\(date.timeIntervalSince1970) formats to \(shown(text))")
    guard let parsed = OrionFuzzing.parseDate(Array(text.utf8)) else {
        require(false, "\(date.timeIntervalSince1970) formats to \(shown(text)), which does not parse")
        return
    }
    // Rounded to the millisecond: off by half of one at most, plus the Double's own rounding at
    // that size (a 1e-5 s step in the year 9999).
    let slack = 0.000_5 + 4 * max(date.timeIntervalSince1970.ulp, parsed.timeIntervalSince1970.ulp)
    require(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) <= slack, "\(date.timeIntervalSince1970) → \(shown(text)) → \(parsed.timeIntervalSince1970): off by more than the rounding")
    require(OrionFuzzing.formatDate(parsed) == text, "\(shown(text)) is not a fixed point: it parses to \(parsed.timeIntervalSince1970)")
}

/// For text in the plain forms without an offset (`YYYY-MM-DD`, `… HH:MM`, `… HH:MM:SS`,
/// `… HH:MM:SS.fff…`) in the Gregorian years Foundation computes without its Julian switch,
/// the day arithmetic agrees with Foundation's calendar.
private func checkAgainstCalendar(_ bytes: [UInt8], _ date: Date) {
    func number(_ range: Range<Int>) -> Int? {
        guard range.upperBound <= bytes.count else { return nil }
        var v = 0
        for b in bytes[range] {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + Int(b - UInt8(ascii: "0"))
        }
        return v
    }
    guard let year = number(0..<4), year >= 1600, let month = number(5..<7), let day = number(8..<10) else { return }
    var components = DateComponents(year: year, month: month, day: day, hour: 0, minute: 0, second: 0, nanosecond: 0)
    var rest = bytes[10...]
    if !rest.isEmpty {
        guard let hour = number(11..<13), let minute = number(14..<16) else { return }
        components.hour = hour
        components.minute = minute
        rest = bytes[16...]
        if rest.first == UInt8(ascii: ":") {
            guard let second = number(17..<19) else { return }
            components.second = second
            rest = bytes[19...]
            if rest.first == UInt8(ascii: ".") {
                let digits = rest.dropFirst().prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                rest = rest.dropFirst(1 + digits.count)
                // Milliseconds: the parser reads three digits and ignores the rest.
                let ms = digits.prefix(3).reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } * [100, 10, 1][max(0, min(3, digits.count) - 1)]
                components.nanosecond = ms * 1_000_000
            }
        }
        guard rest.isEmpty else { return }  // an offset or a zone: not compared
    }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    guard let expected = calendar.date(from: components) else { return }
    require(
        abs(expected.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_5,
        "\(shown(bytes)) parsed to \(date.timeIntervalSince1970), Foundation's calendar says \(expected.timeIntervalSince1970)")
}
