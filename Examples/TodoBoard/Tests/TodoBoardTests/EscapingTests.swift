import Hummingbird
import Orion
import Testing

@testable import TodoBoard

@Suite("HTML: what a user typed renders as text, never as markup")
struct EscapingTests {
    static let hostile = [
        "<script>alert(1)</script>",
        "\" onmouseover=\"x",
        "' onfocus='x' autofocus='",
        "</textarea><img src=x onerror=alert(1)>",
        "&lt;already escaped&gt;",
    ]

    @Test("interpolated text is escaped; interpolated HTML is not", arguments: hostile)
    func interpolation(_ text: String) {
        let html: HTML = "<li title=\"\(text)\">\(text)</li>"
        let escaped = HTML.escape(text)
        #expect(html.rendered == "<li title=\"" + escaped + "\">" + escaped + "</li>")
        #expect(!escaped.contains(where: { "<>\"'".contains($0) }), "nothing that opens a tag or ends an attribute")
        let bold: HTML = "<b>\(text)</b>"
        let nested: HTML = "<p>\(bold)</p>"
        #expect(nested.rendered == "<p>" + bold.rendered + "</p>")
    }

    @Test("a hostile title and owner render inert on the board, in text and in attributes", arguments: hostile)
    func board(_ text: String) throws {
        let store = try SQLiteStore(path: ":memory:")
        try store.migrate(People.feature, People.migrations(.sqlite))
        try store.migrate(Todos.feature, Todos.migrations(.sqlite))
        let todos = store.scoped(to: Todos.feature)
        let people = store.scoped(to: People.feature)
        try People.add(people, text)
        try Todos.insert(todos, text, owner: 1)
        let page = try Board.page(todos: todos, people: people).rendered
        #expect(!page.contains(text) || !text.contains(where: { "<>\"'&".contains($0) }))
        #expect(page.contains("value=\"\(HTML.escape(text))\""))
        #expect(page.contains("<span class=\"owner\">\(HTML.escape(text))</span>"))
        #expect(!page.contains("<script>alert"))
        #expect(!page.contains("onmouseover=\"x"))
        #expect(!page.contains("onfocus='x'"))
        #expect(!page.contains("<img"))
    }

    @Test("the escaper maps the five characters and leaves the rest")
    func escaper() {
        #expect(HTML.escape("a&b<c>d\"e'f — ✓") == "a&amp;b&lt;c&gt;d&quot;e&#39;f — ✓")
    }

    @Test("a page's markup reaches a server-sent event line by line, whatever its line breaks")
    func eventEncoding() {
        let html: HTML = "<p>one</p>\n<p>two</p>\r\n<p>three</p>\r<p>four</p>"
        let event = String(buffer: Broadcast.encode(event: "board", html))
        #expect(event == "event: board\ndata: <p>one</p>\ndata: <p>two</p>\ndata: <p>three</p>\ndata: <p>four</p>\n\n")
    }
}
