import Foundation

/// Keeping bound values out of errors whose text the database wrote.
extension StoreError {
    /// This error with every trace of `values` cut from its message.
    ///
    /// A database's own message can quote a bound value: SQLite's JSON functions name the path
    /// they could not parse (`JSON path error near '4111-1111-1111-1111'`), FTS5 the column a
    /// query named (`no such column: hunter2`). Cut are: each occurrence of a bound value (text,
    /// bytes, or a number as Swift or SQLite prints it) of four characters or more, each quoted
    /// part of the message that is part of a bound value, and each word of four or more
    /// characters that is — all without regard to case (PostgreSQL lowercases a name it echoes,
    /// and cuts it to 63 bytes: `relation "hunter2password" does not exist`).
    /// What is cut becomes `…`. ``detail``, which is kept out of ``description``, is left.
    package func redacting(_ values: some Sequence<SQLValue>) -> StoreError {
        var secrets: [String] = []
        for value in values {
            switch value {
            case .text(let text) where !text.isEmpty:
                secrets.append(text)
            case .blob(let bytes) where !bytes.isEmpty:
                secrets.append(String(decoding: bytes, as: UTF8.self))
            case .integer(let number):
                secrets.append(String(number))
            case .real(let number) where number.isFinite:
                secrets.append(contentsOf: Self.renderings(of: number))
            default:
                break
            }
        }
        guard !secrets.isEmpty else { return self }
        let redacted = Self.redact(message, secrets: secrets)
        guard redacted != message else { return self }
        return with(message: redacted)
    }

    /// How a double may appear in a message: as Swift prints it, and as SQLite does (`%!.15g`,
    /// which keeps a `.0`: `1.0e+20`).
    static func renderings(of number: Double) -> [String] {
        let swift = String(number)
        var sqlite = String(format: "%.15g", number)
        if !sqlite.contains(".") {
            if let e = sqlite.firstIndex(of: "e") {
                sqlite.insert(contentsOf: ".0", at: e)
            } else {
                sqlite += ".0"
            }
        }
        return swift == sqlite ? [swift] : [swift, sqlite]
    }

    /// `text` with the secrets cut: whole occurrences first, then quoted parts that are part of
    /// a secret, then words of four or more characters that are part of one.
    static func redact(_ text: String, secrets: [String]) -> String {
        var out = text
        for secret in secrets.sorted(by: { $0.count > $1.count }) where secret.count >= 4 {
            out = out.replacingOccurrences(of: secret, with: "…", options: .caseInsensitive)
        }
        let folded = secrets.map { $0.lowercased() }
        func isSecret(_ part: Substring, minimum: Int) -> Bool {
            guard part.count >= minimum, part != "…" else { return false }
            let lower = part.lowercased()
            return folded.contains { $0.contains(lower) }
        }
        var result = ""
        var word = ""
        var quote: Character?
        var quoted = ""
        func flushWord() {
            // The word without the punctuation around it (`column:`, `(term)`).
            let core = word.drop { "([{".contains($0) }.reversed().drop { ":,;.)]}".contains($0) }.reversed()
            if isSecret(Substring(core), minimum: 4) {
                let head = word.prefix { "([{".contains($0) }
                let tail = word.reversed().prefix { ":,;.)]}".contains($0) }.reversed()
                result += head + "…" + String(tail)
            } else {
                result += word
            }
            word = ""
        }
        for character in out {
            if let open = quote {
                if character == open {
                    result.append(open)
                    result += isSecret(Substring(quoted), minimum: 1) ? "…" : quoted
                    result.append(open)
                    quote = nil
                    quoted = ""
                } else {
                    quoted.append(character)
                }
            } else if character == "'" || character == "\"" {
                flushWord()
                quote = character
            } else if character.isWhitespace {
                flushWord()
                result.append(character)
            } else {
                word.append(character)
            }
        }
        flushWord()
        if let open = quote { result += String(open) + quoted }
        return result
    }
}
