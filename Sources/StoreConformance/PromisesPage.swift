import Foundation
import Orion
package import Testing

/// The article *What the store promises*, read by the adapters' tests so that its tables stay
/// true (not part of the conformance suite's API).
package struct PromisesPage {
    /// A row of the wrong-input table.
    package struct WrongInput: Sendable {
        package let id: String
        package let adapter: String
        package let code: String
        package let error: String

        /// Whether `printed` reads as this row's error, with `<path>` standing for `path`; a
        /// row ending in `…` gives the start of the error only.
        package func matches(_ printed: String, path: String = "") -> Bool {
            let expected = error.replacingOccurrences(of: "<path>", with: path)
            if expected.hasSuffix("…") { return printed.hasPrefix(String(expected.dropLast())) }
            return printed == expected
        }
    }

    package let text: String

    /// The page, found from this source file's place in the repository.
    package init(file: String = #filePath) throws {
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        text = try String(contentsOf: root.appendingPathComponent("Sources/Orion/Orion.docc/WhatTheStorePromises.md"), encoding: .utf8)
    }

    /// The rows of the wrong-input table for `adapter` ("SQLite" or "PostgreSQL"; "both" rows
    /// count for each).
    package func wrongInputs(for adapter: String) -> [WrongInput] {
        text.split(separator: "\n").compactMap { line -> WrongInput? in
            guard line.hasPrefix("| `") else { return nil }
            let cells = line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
            guard cells.count == 5 else { return nil }
            func unquoted(_ cell: String) -> String {
                cell.hasPrefix("`") && cell.hasSuffix("`") ? String(cell.dropFirst().dropLast()) : cell
            }
            let row = WrongInput(id: unquoted(cells[0]), adapter: cells[1], code: unquoted(cells[3]), error: unquoted(cells[4]))
            return row.adapter == adapter || row.adapter == "both" ? row : nil
        }
    }

    /// Runs each of `adapter`'s rows (but `elsewhere`) through its case in `cases`, and records
    /// an issue for a row without a case, a case without a row, and an error whose code or
    /// words differ from the row's; `<path>` stands for `path`.
    package func check(
        _ adapter: String, cases: [String: () throws -> Void], elsewhere: Set<String> = [], path: String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let rows = wrongInputs(for: adapter)
        for row in rows where !elsewhere.contains(row.id) {
            guard let run = cases[row.id] else {
                Issue.record("no case for the article's row \(row.id)", sourceLocation: sourceLocation)
                continue
            }
            do {
                try run()
                Issue.record("\(row.id): no error was thrown", sourceLocation: sourceLocation)
            } catch let error as StoreError {
                let printed = "\(error)"
                #expect(error.code.description == row.code, "\(row.id): code \(error.code), the article says \(row.code)", sourceLocation: sourceLocation)
                #expect(row.matches(printed, path: path), "\(row.id): the error reads\n\(printed)\nthe article says\n\(row.error)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("\(row.id): not a StoreError: \(error)", sourceLocation: sourceLocation)
            }
        }
        for id in cases.keys {
            #expect(rows.contains { $0.id == id }, "a case the article's table no longer has: \(id)", sourceLocation: sourceLocation)
        }
    }

    /// The test titles the guarantee tables name (each in double quotes).
    package var provingTests: [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| `") }.flatMap { line -> [String] in
            guard let proved = line.components(separatedBy: " | ").last else { return [] }
            return proved.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        }
    }

    /// Every `@Test("…")` title in the repository's test sources.
    package static func testTitles(file: String = #filePath) throws -> Set<String> {
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let tests = root.appendingPathComponent("Tests")
        var titles = Set<String>()
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift", let source = try? String(contentsOf: url, encoding: .utf8) else { continue }
            for part in source.components(separatedBy: "@Test(\n").joined(separator: "@Test(").components(separatedBy: "@Test(").dropFirst() {
                let trimmed = part.drop { $0 == " " }
                guard trimmed.hasPrefix("\"") else { continue }
                if let end = trimmed.dropFirst().firstIndex(of: "\"") { titles.insert(String(trimmed[trimmed.index(after: trimmed.startIndex)..<end])) }
            }
        }
        return titles
    }
}
