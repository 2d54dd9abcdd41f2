import Foundation
import Hummingbird

/// An HTML form's fields (`application/x-www-form-urlencoded`), strictly parsed: a malformed
/// body, a field given twice or a body over the limit is an error a person can act on.
struct Form {
    private(set) var fields: [String: String] = [:]

    /// The largest form body read; a bigger one is refused unread (413).
    static let maxBytes = 64 * 1024

    /// Reads and parses the request's body.
    static func read(_ request: Request, context: some RequestContext) async throws -> Form {
        let type = request.headers[.contentType].map {
            ($0.split(separator: ";", omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard type == "application/x-www-form-urlencoded" else {
            let got = type.map { $0.isEmpty ? "an empty content type" : $0 } ?? "no content type"
            throw PageError(.unsupportedMediaType, "Send the form as application/x-www-form-urlencoded (got \(got)).")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw PageError(.contentTooLarge, "The form is larger than \(maxBytes / 1024) kB.")
        }
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw PageError(.badRequest, "The form is malformed: it is not UTF-8.")
        }
        return try Form(parsing: text)
    }

    init(parsing body: String) throws {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), !name.isEmpty else {
                throw PageError(.badRequest, "The form is malformed: a field has no valid name.")
            }
            guard let value = Self.decode(parts.count > 1 ? parts[1] : "") else {
                throw PageError(.badRequest, "The form is malformed: the value of \u{201C}\(name)\u{201D} is not valid percent-encoded UTF-8.")
            }
            guard fields[name] == nil else {
                throw PageError(.badRequest, "The form gives \u{201C}\(name)\u{201D} more than once.")
            }
            fields[name] = value
        }
    }

    private static func decode(_ raw: Substring) -> String? {
        raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// A required text field: trimmed, in Unicode's composed form (so "Zoë" typed two ways is one
    /// name), between 1 and `max` UTF-16 units (what a browser's `maxlength` counts), with no
    /// control characters and no bidirectional overrides (which could turn the text around it).
    func text(_ name: String, label: String, max: Int) throws -> String {
        guard let raw = fields[name] else {
            throw PageError(.badRequest, "The form has no \u{201C}\(name)\u{201D} field.")
        }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
        guard !value.isEmpty else {
            throw PageError(.unprocessableContent, "The \(label) is empty: write at least one character.")
        }
        guard value.utf16.count <= max else {
            throw PageError(.unprocessableContent, "The \(label) is \(value.utf16.count) characters long; at most \(max) are allowed.")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PageError(.unprocessableContent, "The \(label) contains a control character (a line break or a tab, say); write it on one line.")
        }
        guard !value.unicodeScalars.contains(where: { (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) }) else {
            throw PageError(.unprocessableContent, "The \(label) contains a bidirectional override, which could reverse the text around it; remove it.")
        }
        return value
    }

    /// An optional id field: absent or empty is `nil`.
    func optionalID(_ name: String, label: String) throws -> Int64? {
        guard let raw = fields[name], !raw.isEmpty else { return nil }
        guard let id = Int64(raw), id > 0 else {
            throw PageError(.badRequest, "The \(label) \u{201C}\(raw)\u{201D} is not an id.")
        }
        return id
    }
}
