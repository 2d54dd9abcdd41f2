public import Orion

/// The board: pure functions of the stores they are given, called with no `await`.
///
/// The todos feature reads its own table on its own store, and the people it shows through the
/// people feature's functions on the people feature's store — never `people` directly.
public enum Board {
    /// The whole page.
    public static func page(todos: some Store, people: some Store) throws -> HTML {
        Layout.page(
            title: "Todo board",
            body: """
                <header><h1>Todo board</h1><span id="live" class="live">live</span></header>
                <main id="board">\(try fragment(todos: todos, people: people))</main>
                <footer><a href="/_orion/queries">queries</a></footer>
                \(Layout.liveScript(stream: "/events", event: "board", target: "board"))
                """)
    }

    /// What every open board swaps in when the todos or the people change.
    public static func fragment(todos: some Store, people: some Store) throws -> HTML {
        let items = try Todos.all(todos)
        let everyone = try People.all(people)
        var names: [Int64: String] = [:]
        for person in everyone { names[person.id] = person.name }
        let done = items.filter(\.done).count
        let list: HTML =
            items.isEmpty
            ? "<p class=\"empty\">Nothing to do.</p>"
            : "<ul class=\"todos\">\(items.map { item($0, owner: $0.owner.flatMap { names[$0] }) })</ul>"
        let roster: HTML = everyone.isEmpty ? "<p>Nobody yet.</p>" : "<ul class=\"names\">\(everyone.map(listed))</ul>"
        return """
            <p class="summary">\(done) of \(items.count) done</p>
            <form method="post" action="/todos" class="add">\
            <input name="title" maxlength="\(Todos.maxTitle)" required placeholder="What needs doing?" aria-label="New todo">\
            <select name="owner" aria-label="Owner"><option value="">nobody</option>\(everyone.map(option))</select>\
            <button>Add</button></form>
            \(list)
            <section class="people"><h2>People</h2>\
            \(roster)\
            <form method="post" action="/people" class="add">\
            <input name="name" maxlength="\(People.maxName)" required placeholder="Name" aria-label="New person">\
            <button>Add person</button></form></section>
            """
    }

    static func item(_ todo: Todo, owner: String?) -> HTML {
        let check: HTML = todo.done ? "&#x2611;" : "&#x2610;"
        let label = todo.done ? "Mark as not done" : "Mark as done"
        let who: HTML = owner.map { "<span class=\"owner\">\($0)</span>" } ?? ""
        return """
            <li class="\(todo.done ? "done" : "open")">\
            <form method="post" action="/todos/\(todo.id)/toggle"><button class="check" title="\(label)" aria-label="\(label)">\(check)</button></form>\
            <form method="post" action="/todos/\(todo.id)/rename" class="rename">\
            <input name="title" value="\(todo.title)" maxlength="\(Todos.maxTitle)" required aria-label="Title">\
            <button>Rename</button></form>\(who)\
            <form method="post" action="/todos/\(todo.id)/delete"><button class="delete" title="Delete" aria-label="Delete">&#x2715;</button></form>\
            </li>
            """
    }

    static func listed(_ person: Person) -> HTML {
        "<li>\(person.name)</li>"
    }

    static func option(_ person: Person) -> HTML {
        "<option value=\"\(person.id)\">\(person.name)</option>"
    }
}
