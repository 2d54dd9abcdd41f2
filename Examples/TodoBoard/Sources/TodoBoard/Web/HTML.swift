/// A piece of HTML, escaped by construction.
///
/// Text interpolated into an `HTML` literal is escaped — `&`, `<`, `>`, `"` and `'` — so it is
/// inert in element content and in quoted attribute values alike; only another `HTML` value is
/// inserted as it is. There is no way to interpolate anything else, so a title such as
/// `<script>alert(1)</script>` or `" onmouseover="x` can only ever render as text:
///
/// ```swift
/// let title = #"" onmouseover="x"#
/// let item: HTML = "<li title=\"\(title)\">\(title)</li>"
/// // <li title="&quot; onmouseover=&quot;x">&quot; onmouseover=&quot;x</li>
/// ```
public struct HTML: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The markup, ready to send.
    public let rendered: String

    public var description: String { rendered }

    /// Markup the program wrote itself (never text that came from a request or the store).
    init(trusted markup: String) {
        rendered = markup
    }

    public init(stringLiteral value: String) {
        rendered = value
    }

    public init(stringInterpolation: StringInterpolation) {
        rendered = stringInterpolation.output
    }

    /// Text made safe for element content and quoted attribute values.
    public static func escape(_ text: some StringProtocol) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var output = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            output.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        public mutating func appendLiteral(_ literal: String) {
            output += literal
        }

        /// Text: escaped.
        public mutating func appendInterpolation(_ text: String) {
            output += HTML.escape(text)
        }

        /// A number: digits only, nothing to escape.
        public mutating func appendInterpolation(_ number: some BinaryInteger) {
            output += String(number)
        }

        /// Markup: inserted as it is.
        public mutating func appendInterpolation(_ html: HTML) {
            output += html.rendered
        }

        /// Pieces of markup, one after another.
        public mutating func appendInterpolation(_ pieces: [HTML]) {
            for piece in pieces { output += piece.rendered }
        }
    }
}
