internal import CLibPQ
import Foundation
import Orion

/// Turning libpq's failures into `StoreError`, with no password and no bound value in them.
extension PostgresConnection {
    /// Throws the failure `result` reports, if it reports one.
    func check(_ result: OpaquePointer?, sql: String) throws {
        if let result {
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                return
            default:
                break
            }
        }
        if PQstatus(handle) != CONNECTION_OK {
            isBroken = true
            throw StoreError(
                .connection,
                "the connection to PostgreSQL was lost (\(Self.trimmed(PQerrorMessage(handle)))); the statement's outcome is unknown, and the next call opens a new connection",
                sql: sql)
        }
        guard let result else {
            throw StoreError(.connection, "libpq returned no result: \(Self.trimmed(PQerrorMessage(handle)))", sql: sql)
        }
        throw Self.error(result, sql: sql)
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    /// PostgreSQL's report as a `StoreError`: SQLSTATE, the primary message, and the SQL.
    /// `DETAIL` (which quotes row data) goes to `StoreError.detail` only; for data exceptions
    /// (class 22), whose primary message quotes the offending value, quoted parts are cut from
    /// the message and kept in `detail`.
    static func error(_ result: OpaquePointer, sql: String) -> StoreError {
        let state = field(result, orion_pg_diag_sqlstate) ?? "XX000"
        var message = field(result, orion_pg_diag_message_primary) ?? "PostgreSQL reported an error"
        var detail = field(result, orion_pg_diag_message_detail)
        if state.hasPrefix("22") {
            let redacted = redactQuotes(message)
            if redacted != message {
                detail = [message, detail].compactMap { $0 }.joined(separator: " — ")
                message = redacted
            }
        }
        if let hint = field(result, orion_pg_diag_message_hint) { message += " (hint: \(hint))" }
        let code: StoreError.Code
        switch state {
        case _ where state.hasPrefix("23"): code = .constraint
        case "57014":
            code = .interrupted
            message = "the statement ran past the store's statement time limit and was cancelled (\(message))"
        case "40001", "40P01", "55P03": code = .busy
        case _ where state.hasPrefix("08"), "57P01", "57P02", "57P03": code = .connection
        case "53100", "58030": code = .io
        case "25P02":
            code = .sql
            message = "an earlier statement in this tx failed, so PostgreSQL refuses the rest of the transaction; wrap a statement that may fail in a nested tx { } to recover from its failure"
        default: code = .sql
        }
        return StoreError(code, message, sql: sql, sqlState: state, detail: detail)
    }

    /// `message` with every double-quoted part replaced by `"…"`.
    private static func redactQuotes(_ message: String) -> String {
        var out = ""
        var inQuote = false
        for ch in message {
            if ch == "\"" {
                if inQuote { out += "…\"" } else { out.append(ch) }
                inQuote.toggle()
            } else if !inQuote {
                out.append(ch)
            }
        }
        return out
    }

    /// The URL (or `key=value` string) with its password replaced, for messages.
    static func redacted(_ url: String) -> String {
        if !url.contains("://") {
            // key=value form: drop the value of a quoted password=…, and everything after an
            // unquoted one (`password=correct horse battery` is a password libpq cannot parse,
            // whose words after the first are the password's all the same).
            return url.replacingOccurrences(
                of: #"password\s*=\s*('([^'\\]|\\.)*('|$)|[^'\s][\s\S]*$)"#, with: "password=…", options: [.regularExpression, .caseInsensitive])
        }
        guard var parts = URLComponents(string: url) else { return "the configured URL" }
        if parts.password != nil { parts.password = "…" }
        if let items = parts.queryItems, items.contains(where: { $0.name == "password" }) {
            parts.queryItems = items.map { $0.name == "password" ? URLQueryItem(name: "password", value: "…") : $0 }
        }
        return parts.string ?? "the configured URL"
    }

    /// libpq's message about `url` with every trace of its password cut: libpq quotes the token
    /// or the URI it could not parse, password and all (`invalid percent-encoded token: "…"`).
    static func redacted(_ message: String, url: String) -> String {
        var out = message
        // A quoted URI or connection string is replaced whole, by its redacted form.
        for quoted in quotedParts(of: out) where quoted.contains("://") || quoted.contains("=") {
            out = out.replacingOccurrences(of: "\"\(quoted)\"", with: "\"\(redacted(url))\"")
        }
        for secret in passwordCandidates(in: url) where !secret.isEmpty {
            // (A shorter one only where quoted: cutting every "is" would leave no message.)
            if secret.count >= 3 { out = out.replacingOccurrences(of: secret, with: "…") }
            // A quoted token that is part of the password (libpq quotes what it choked on).
            for quoted in quotedParts(of: out) where quoted == secret || (quoted.count >= 3 && secret.contains(quoted)) {
                out = out.replacingOccurrences(of: "\"\(quoted)\"", with: "\"…\"")
            }
        }
        return out
    }

    /// What may be the password of `url`, as written and percent-decoded: from the user part of
    /// a URI (up to the last `@`, even a malformed one), a `password=` query parameter, or a
    /// `password=` key of the key=value form.
    static func passwordCandidates(in url: String) -> [String] {
        var found: [String] = []
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                let raw = String(rest[rest.index(after: colon)..<at])
                found.append(raw)
                if let slash = raw.firstIndex(of: "/") { found.append(String(raw[..<slash])) }
            }
        }
        let pattern = #"password\s*=\s*('(?:[^'\\]|\\.)*'?|[^&\s]*)"#
        var searchRange = url.startIndex..<url.endIndex
        while let match = url.range(of: pattern, options: [.regularExpression, .caseInsensitive], range: searchRange) {
            var value = String(url[match])
            if let equals = value.firstIndex(of: "=") { value = String(value[value.index(after: equals)...]).trimmingCharacters(in: .whitespaces) }
            found.append(value)
            if !value.hasPrefix("'"), !url.contains("://") {
                // The words after an unquoted password, up to the next key=value: the rest of it.
                let rest = url[match.upperBound...].split(whereSeparator: \.isWhitespace).prefix { !$0.contains("=") }
                found.append(contentsOf: rest.map(String.init))
                found.append(([value] + rest.map(String.init)).joined(separator: " "))
            }
            if value.hasPrefix("'") {
                var inner = String(value.dropFirst())
                if inner.hasSuffix("'") { inner.removeLast() }
                found.append(inner)
                found.append(inner.replacingOccurrences(of: "\\'", with: "'").replacingOccurrences(of: "\\\\", with: "\\"))
            }
            searchRange = match.upperBound..<url.endIndex
        }
        var decoded = found.compactMap { $0.removingPercentEncoding }
        decoded.append(contentsOf: found)
        return Array(Set(decoded.filter { !$0.isEmpty })).sorted { $0.count > $1.count }
    }

    /// The parts of `text` between double quotes.
    private static func quotedParts(of text: String) -> [String] {
        var parts: [String] = []
        var current: String?
        for character in text {
            if character == "\"" {
                if let part = current {
                    parts.append(part)
                    current = nil
                } else {
                    current = ""
                }
            } else if current != nil {
                current!.append(character)
            }
        }
        return parts
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "no message" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
