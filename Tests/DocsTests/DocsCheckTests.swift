import Foundation
import Testing

/// Every ```swift block of the README and of the DocC articles is code this target compiles and
/// runs: each paragraph of a block (lines between blank lines; `import` lines aside, which are
/// each file's own) must appear, line for line and in order, in one of this folder's files.
/// Indentation and runs of spaces are ignored, so a block may sit inside a function or a type.
@Suite("Docs that run: every example is compiled and run here")
struct DocsCheckTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func lines(_ text: some StringProtocol) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(normalized)
    }

    /// A line without its indentation, runs of spaces as one (so aligned comments match).
    static func normalized(_ line: some StringProtocol) -> String {
        line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// The documents whose examples must run.
    static func documents() throws -> [URL] {
        var documents = [root.appendingPathComponent("README.md")]
        for module in ["Orion", "OrionPostgres"] {
            let catalog = root.appendingPathComponent("Sources/\(module)/\(module).docc")
            for name in try FileManager.default.contentsOfDirectory(atPath: catalog.path).sorted() where name.hasSuffix(".md") {
                documents.append(catalog.appendingPathComponent(name))
            }
        }
        return documents
    }

    /// The ```swift blocks of `text`, each split into its paragraphs.
    static func paragraphs(of text: String) -> [[String]] {
        var result: [[String]] = []
        var current: [String]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = normalized(line)
            if current == nil {
                if trimmed == "```swift" { current = [] }
                continue
            }
            if trimmed == "```" {
                result.append(contentsOf: split(current!))
                current = nil
                continue
            }
            current!.append(trimmed)
        }
        return result
    }

    static func split(_ block: [String]) -> [[String]] {
        var paragraphs: [[String]] = [[]]
        for line in block {
            if line.isEmpty {
                paragraphs.append([])
            } else if !line.hasPrefix("import ") {
                paragraphs[paragraphs.count - 1].append(line)
            }
        }
        return paragraphs.filter { !$0.isEmpty }
    }

    static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    @Test("every paragraph of every swift block in the README and the articles is in this target's sources")
    func everyExampleIsHere() throws {
        let folder = Self.root.appendingPathComponent("Tests/DocsTests")
        let sources = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }.map {
            Self.lines(try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8))
        }
        var checked = 0
        for document in try Self.documents() {
            let text = try String(contentsOf: document, encoding: .utf8)
            for paragraph in Self.paragraphs(of: text) {
                checked += 1
                #expect(
                    sources.contains { Self.contains($0, paragraph) },
                    "\(document.lastPathComponent): this example is not compiled and run by Tests/DocsTests:\n\(paragraph.joined(separator: "\n"))")
            }
        }
        #expect(checked > 30, "the examples were found: \(checked)")
    }
}
