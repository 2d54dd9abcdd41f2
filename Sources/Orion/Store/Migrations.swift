/// The rules every adapter's `migrate` keeps, whatever the database: valid feature names,
/// append-only entries checked by their SHA-256, and new entries applied in order.
package enum Migrations {
    static let maxFeatureLength = 64

    /// What is wrong with a feature name, or `nil` when it is fine: 1 to 64 characters, starting
    /// with a letter, then letters, digits, `_`, `-` or `.`.
    package static func problem(withFeature feature: String) -> String? {
        guard let first = feature.unicodeScalars.first else { return "the feature name is empty" }
        guard feature.unicodeScalars.count <= maxFeatureLength else {
            return "the feature name is longer than \(maxFeatureLength) characters"
        }
        func isLetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard isLetter(first) else { return "feature name '\(feature)' must start with a letter (a-z, A-Z)" }
        for c in feature.unicodeScalars where !(isLetter(c) || ("0"..."9").contains(c) || c == "_" || c == "-" || c == ".") {
            return "feature name '\(feature)' may hold only letters, digits, '_', '-' and '.'"
        }
        return nil
    }

    /// Throws ``StoreError/Code/migration`` for an invalid feature name.
    package static func validate(feature: String) throws {
        if let problem = problem(withFeature: feature) { throw StoreError(.migration, problem) }
    }

    /// An entry recorded as applied: its index in the feature's list and the SHA-256 of its text.
    package struct Applied: Sendable {
        package let index: Int
        package let sha256: String

        package init(index: Int, sha256: String) {
            self.index = index
            self.sha256 = sha256
        }
    }

    /// Checks that every applied entry is still in `entries`, unchanged, then calls `apply` for
    /// each entry not applied yet, in order.
    ///
    /// - Parameters:
    ///   - applied: The entries the database records for `feature`.
    ///   - apply: Applies entry `index` with the SHA-256 of its text; it receives every entry's
    ///     fingerprint too, to re-check an entry another process recorded meanwhile.
    package static func run(
        feature: String, entries: [String], applied: [Applied],
        apply: (_ index: Int, _ fingerprint: String, _ fingerprints: [String]) throws -> Void
    ) throws {
        let fingerprints = entries.map(SHA256.hex)
        var done = Set<Int>()
        for entry in applied {
            try checkUnchanged(feature: feature, index: entry.index, recorded: entry.sha256, fingerprints: fingerprints)
            done.insert(entry.index)
        }
        for index in entries.indices where !done.contains(index) {
            try apply(index, fingerprints[index], fingerprints)
        }
    }

    /// Throws when the entry recorded at `index` is missing from the list or was edited.
    package static func checkUnchanged(feature: String, index: Int, recorded: String, fingerprints: [String]) throws {
        guard index < fingerprints.count else {
            throw StoreError(
                .migration,
                "migration \(feature)[\(index)] was applied but is missing from the list (it has \(fingerprints.count) entr\(fingerprints.count == 1 ? "y" : "ies")); the list is append-only: restore the entry")
        }
        guard fingerprints[index] == recorded else {
            throw StoreError(
                .migration,
                "migration \(feature)[\(index)] was edited after it was applied; entries are append-only: restore its applied text and append a new entry with the change")
        }
    }
}
