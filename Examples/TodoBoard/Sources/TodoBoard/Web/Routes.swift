import Hummingbird
import Orion

/// Every route of the app. Pages are rendered synchronously from the scoped stores, on the
/// store's read lane; forms write in one transaction on its write lane, wait until the write is
/// committed, and send the browser back to the board (so the board it loads next shows the
/// change). No handler calls the store on the cooperative pool.
struct Routes: Sendable {
    let backend: Backend
    let live: LivePages
    let heartbeat: Duration
    let querySample: Double

    func add(to router: Router<some RequestContext>) {
        router.get("/") { _, _ in
            let (todos, people) = (backend.todos, backend.people)
            return Response.html(try await backend.read { try Board.page(todos: todos, people: people) })
        }
        router.get("/events") { request, _ in
            live.board.response(to: request, heartbeat: heartbeat)
        }
        router.post("/todos") { request, context in
            let form = try await Form.read(request, context: context)
            let title = try form.text("title", label: "title", max: Todos.maxTitle)
            let owner = try form.optionalID("owner", label: "owner")
            let (todos, people) = (backend.todos, backend.people)
            try await backend.write {
                if let owner, try !People.exists(people, owner) {
                    throw PageError(.unprocessableContent, "There is no person \(owner) to own the todo; pick someone from the list.")
                }
                try Todos.insert(todos, title, owner: owner)
            }
            return try await committed()
        }
        router.post("/todos/{id}/toggle") { request, context in
            let id = try todo(context)
            _ = try await Form.read(request, context: context)
            let todos = backend.todos
            try existing(await backend.write { try Todos.toggle(todos, id) }, id)
            return try await committed()
        }
        router.post("/todos/{id}/rename") { request, context in
            let id = try todo(context)
            let form = try await Form.read(request, context: context)
            let title = try form.text("title", label: "title", max: Todos.maxTitle)
            let todos = backend.todos
            try existing(await backend.write { try Todos.rename(todos, id, to: title) }, id)
            return try await committed()
        }
        router.post("/todos/{id}/delete") { request, context in
            let id = try todo(context)
            _ = try await Form.read(request, context: context)
            let todos = backend.todos
            try existing(await backend.write { try Todos.delete(todos, id) }, id)
            return try await committed()
        }
        router.post("/people") { request, context in
            let form = try await Form.read(request, context: context)
            let name = try form.text("name", label: "name", max: People.maxName)
            let people = backend.people
            let taken = PageError(.conflict, "There is already someone called \u{201C}\(name)\u{201D}; give a name nobody has.")
            do {
                try await backend.write {
                    if try People.named(people, name) != nil { throw taken }
                    try People.add(people, name)
                }
            } catch let error as StoreError where error.code == .constraint {
                // Added by someone else between the check and the insert (PostgreSQL, whose
                // writes run side by side).
                throw taken
            }
            return try await committed()
        }
        router.get("/_orion/queries") { _, _ in
            Response.html(QueryPanel.page(backend.queryLog, sample: querySample))
        }
        router.get("/_orion/queries/events") { request, _ in
            live.panel.response(to: request, heartbeat: heartbeat)
        }
        // A path that exists, asked with a method it does not take: 405, saying which it takes.
        for (path, allowed) in [
            ("/", "GET"), ("/events", "GET"), ("/_orion/queries", "GET"), ("/_orion/queries/events", "GET"),
            ("/todos", "POST"), ("/todos/{id}/toggle", "POST"), ("/todos/{id}/rename", "POST"),
            ("/todos/{id}/delete", "POST"), ("/people", "POST"),
        ] {
            let allow = allowed == "GET" ? "GET, HEAD" : allowed
            for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete] where !allow.contains(method.rawValue) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw PageError(.methodNotAllowed, "\(request.method.rawValue) is not how \(request.uri.path) is used; it takes \(allowed).", allow: allow)
                }
            }
            router.on(RouterPath(path), method: .options) { _, _ in
                Response(status: .noContent, headers: [.allow: "\(allow), OPTIONS"])
            }
        }
    }

    /// The todo id in the path: a positive integer.
    private func todo(_ context: some RequestContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw PageError(.badRequest, "\u{201C}\(raw)\u{201D} is not a todo id; ids are positive whole numbers.")
        }
        return id
    }

    /// A write that changed no row named a todo that does not exist.
    private func existing(_ result: ExecResult, _ id: Int64) throws {
        guard result.changes > 0 else {
            throw PageError(.notFound, "There is no todo \(id); it may have been deleted. The board shows the ones there are.")
        }
    }

    /// Waits until the write is committed, then sends the browser to the board.
    private func committed() async throws -> Response {
        try await backend.durable()
        return .seeOther("/")
    }
}
