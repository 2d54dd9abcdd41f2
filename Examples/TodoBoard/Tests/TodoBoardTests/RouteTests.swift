import Foundation
import Hummingbird
import HummingbirdTesting
import Orion
import Testing

@testable import TodoBoard

@Suite("Routes: every page, form and error answer")
struct RouteTests {
    @Test("the board renders the todos with their owners, read through the people feature")
    func boardShowsTodos() async throws {
        let harness = try Harness()
        try People.add(harness.backend.people, "Ann")
        try Todos.insert(harness.backend.todos, "buy milk", owner: 1)
        try Todos.insert(harness.backend.todos, "walk the dog", owner: nil)
        try await harness.test(.router) { client async throws in
            let response = try await client.get("/")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.text.contains("value=\"buy milk\""))
            #expect(response.text.contains("<span class=\"owner\">Ann</span>"))
            #expect(response.text.contains("0 of 2 done"))
            #expect(response.text.contains("new EventSource(\"/events\")"))
        }
    }

    @Test("adding a todo writes it, commits it, and sends the browser back to the board")
    func addTodo() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            _ = try await client.post("/people", ["name": "Ann"])
            let response = try await client.post("/todos", ["title": "  buy milk  ", "owner": "1"])
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")
            let todos = try Todos.all(harness.backend.todos)
            #expect(todos == [Todo(id: 1, title: "buy milk", done: false, owner: 1)])
            #expect(try await client.get("/").text.contains("value=\"buy milk\""))
        }
    }

    @Test("toggle, rename and delete change the one todo named")
    func editTodo() async throws {
        let harness = try Harness()
        try Todos.insert(harness.backend.todos, "one", owner: nil)
        try Todos.insert(harness.backend.todos, "two", owner: nil)
        try await harness.test(.router) { client async throws in
            #expect(try await client.post("/todos/1/toggle", [:]).status == .seeOther)
            #expect(try Todos.all(harness.backend.todos).map(\.done) == [true, false])
            #expect(try await client.post("/todos/1/toggle", [:]).status == .seeOther)
            #expect(try Todos.all(harness.backend.todos).map(\.done) == [false, false])
            #expect(try await client.post("/todos/2/rename", ["title": "zwei"]).status == .seeOther)
            #expect(try harness.titles() == ["one", "zwei"])
            #expect(try await client.post("/todos/1/delete", [:]).status == .seeOther)
            #expect(try harness.titles() == ["zwei"])
        }
    }

    @Test("adding a person; a name already taken is a 409 and writes nothing")
    func addPerson() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            #expect(try await client.post("/people", ["name": "Ann"]).status == .seeOther)
            let again = try await client.post("/people", ["name": "Ann"])
            #expect(again.status == .conflict)
            #expect(again.text.contains("There is already someone called “Ann”"))
            #expect(try harness.peopleCount() == 1)
        }
    }

    /// A bad form: its status, a phrase of its page, and nothing written.
    struct BadForm: Sendable, CustomTestStringConvertible {
        let name: String
        let uri: String
        let body: String
        var contentType = "application/x-www-form-urlencoded"
        let status: HTTPResponse.Status
        let says: String
        var testDescription: String { name }
    }

    static let badForms: [BadForm] = [
        BadForm(name: "empty title", uri: "/todos", body: "title=", status: .unprocessableContent, says: "The title is empty"),
        BadForm(name: "blank title", uri: "/todos", body: "title=+++", status: .unprocessableContent, says: "The title is empty"),
        BadForm(
            name: "10 kB title", uri: "/todos", body: "title=" + String(repeating: "x", count: 10_000), status: .unprocessableContent,
            says: "The title is 10000 characters long; at most 200 are allowed."),
        BadForm(name: "a title with a line break", uri: "/todos", body: "title=a%0Ab", status: .unprocessableContent, says: "control character"),
        BadForm(name: "no title field", uri: "/todos", body: "name=x", status: .badRequest, says: "The form has no “title” field."),
        BadForm(name: "a field given twice", uri: "/todos", body: "title=a&title=b", status: .badRequest, says: "The form gives “title” more than once."),
        BadForm(name: "malformed percent-encoding", uri: "/todos", body: "title=%E2%28", status: .badRequest, says: "is not valid percent-encoded UTF-8"),
        BadForm(name: "a field with no name", uri: "/todos", body: "=x", status: .badRequest, says: "a field has no valid name"),
        BadForm(name: "an owner that is not an id", uri: "/todos", body: "title=a&owner=ann", status: .badRequest, says: "The owner “ann” is not an id."),
        BadForm(name: "an owner nobody is", uri: "/todos", body: "title=a&owner=42", status: .unprocessableContent, says: "There is no person 42"),
        BadForm(name: "an empty content type", uri: "/todos", body: "title=a", contentType: "", status: .unsupportedMediaType, says: "(got an empty content type)"),
        BadForm(name: "a content type of only a semicolon", uri: "/todos", body: "title=a", contentType: ";", status: .unsupportedMediaType, says: "(got an empty content type)"),
        BadForm(
            name: "a bidirectional override", uri: "/todos", body: "title=%E2%80%AEevil", status: .unprocessableContent,
            says: "contains a bidirectional override"),
        BadForm(name: "JSON instead of a form", uri: "/todos", body: "{\"title\":\"a\"}", contentType: "application/json", status: .unsupportedMediaType, says: "(got application/json)"),
        BadForm(
            name: "a form over 64 kB", uri: "/todos", body: "title=" + String(repeating: "x", count: 70_000), status: .contentTooLarge,
            says: "The form is larger than 64 kB."),
        BadForm(name: "rename to nothing", uri: "/todos/1/rename", body: "title=", status: .unprocessableContent, says: "The title is empty"),
        BadForm(name: "rename an unknown todo", uri: "/todos/99/rename", body: "title=x", status: .notFound, says: "There is no todo 99"),
        BadForm(name: "toggle an unknown todo", uri: "/todos/99/toggle", body: "", status: .notFound, says: "There is no todo 99"),
        BadForm(name: "delete an unknown todo", uri: "/todos/99/delete", body: "", status: .notFound, says: "There is no todo 99"),
        BadForm(name: "an id that is not a number", uri: "/todos/abc/toggle", body: "", status: .badRequest, says: "“abc” is not a todo id"),
        BadForm(name: "a negative id", uri: "/todos/-1/delete", body: "", status: .badRequest, says: "“-1” is not a todo id"),
        BadForm(name: "an empty name", uri: "/people", body: "name=", status: .unprocessableContent, says: "The name is empty"),
        BadForm(
            name: "a 61-character name", uri: "/people", body: "name=" + String(repeating: "n", count: 61), status: .unprocessableContent,
            says: "The name is 61 characters long; at most 60 are allowed."),
    ]

    @Test("a bad form gets a page that says what to fix, and nothing is written", arguments: badForms)
    func badForm(_ bad: BadForm) async throws {
        let harness = try Harness()
        try Todos.insert(harness.backend.todos, "keep me", owner: nil)
        try await harness.test(.router) { client async throws in
            let response = try await client.execute(
                uri: bad.uri, method: .post, headers: [.contentType: bad.contentType], body: ByteBuffer(string: bad.body))
            #expect(response.status == bad.status)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.text.contains(HTML.escape(bad.says)), "\(response.text)")
            #expect(try harness.titles() == ["keep me"])
            #expect(try Todos.all(harness.backend.todos).map(\.done) == [false])
            #expect(try harness.peopleCount() == 0)
        }
    }

    @Test("a body that is not UTF-8 is a 400, not text with replacement characters")
    func notUTF8() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            let response = try await client.execute(
                uri: "/todos", method: .post, headers: formHeaders, body: ByteBuffer(bytes: Array("title=".utf8) + [0xFF, 0xFE]))
            #expect(response.status == .badRequest)
            #expect(response.text.contains("it is not UTF-8"))
            #expect(try harness.todoCount() == 0)
        }
    }

    @Test("a name typed in composed or decomposed form is one name")
    func composedNames() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            #expect(try await client.post("/people", ["name": "Zoe\u{308}"]).status == .seeOther)
            #expect(try await client.post("/people", ["name": "Zo\u{EB}"]).status == .conflict)
            #expect(try People.all(harness.backend.people).map(\.name) == ["Zo\u{EB}"])
        }
    }

    @Test("HEAD answers like GET; OPTIONS names the methods a path takes")
    func headAndOptions() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            let head = try await client.execute(uri: "/", method: .head)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            let options = try await client.execute(uri: "/todos", method: .options)
            #expect(options.status == .noContent)
            #expect(options.headers[.allow] == "POST, OPTIONS")
            #expect(try await client.execute(uri: "/todos", method: .head).status == .methodNotAllowed)
        }
    }

    @Test("a path asked with a method it does not take is a 405 that names the method it takes")
    func wrongMethod() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            let get = try await client.get("/todos")
            #expect(get.status == .methodNotAllowed)
            #expect(get.headers[.allow] == "POST")
            #expect(get.text.contains("GET is not how /todos is used; it takes POST."))
            let getToggle = try await client.get("/todos/1/toggle")
            #expect(getToggle.status == .methodNotAllowed)
            let post = try await client.execute(uri: "/", method: .post, headers: formHeaders, body: form(["title": "x"]))
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers[.allow] == "GET, HEAD")
            let delete = try await client.execute(uri: "/todos/1/delete", method: .delete)
            #expect(delete.status == .methodNotAllowed)
            #expect(try harness.todoCount() == 0)
        }
    }

    @Test("an unknown path is a 404 page, with the path escaped")
    func unknownPath() async throws {
        let harness = try Harness()
        try await harness.test(.router) { client async throws in
            let response = try await client.get("/nothing/%3Cb%3Ehere")
            #expect(response.status == .notFound)
            #expect(response.text.contains("There is no page at"))
            #expect(!response.text.contains("<b>here"))
        }
    }

    @Test("a write while the database is unavailable is a 503 that says nothing was saved")
    func storeUnavailable() async throws {
        let harness = try Harness()
        try await harness.backend.close()
        try await harness.test(.router) { client async throws in
            let response = try await client.post("/todos", ["title": "lost"])
            #expect(response.status == .serviceUnavailable)
            #expect(response.text.contains("your change was not saved"))
        }
    }
}
