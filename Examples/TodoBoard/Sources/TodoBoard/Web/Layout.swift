/// The page around every view, the error pages, and the few lines of script that keep a page live.
enum Layout {
    /// A page; `wide` for tables (the query panel).
    static func page(title: String, body: HTML, wide: Bool = false) -> HTML {
        let bodyTag: HTML = wide ? "<body class=\"wide\">" : "<body>"
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <style>\(style)</style>
            </head>
            \(bodyTag)
            \(body)
            </body>
            </html>

            """
    }

    /// A 4xx or 5xx answer a person can read: what went wrong and the way back.
    static func error(status: Int, reason: String, message: String) -> HTML {
        page(
            title: "\(status) \(reason)",
            body: """
                <header><h1>\(status) \(reason)</h1></header>
                <main><p class="error">\(message)</p><p><a href="/">Back to the board</a></p></main>
                """)
    }

    /// Opens the event stream and swaps each event's markup into the element `target` — but
    /// never under the user's cursor: while something in it has focus (a half-typed title), the
    /// newest markup waits and goes in when the focus leaves.
    ///
    /// The arguments are the program's own constants: inside `<script>`, HTML escaping would
    /// not apply, so nothing from a request may reach them.
    static func liveScript(stream: StaticString, event: StaticString, target: StaticString) -> HTML {
        let stream = HTML(trusted: "\(stream)")
        let event = HTML(trusted: "\(event)")
        let target = HTML(trusted: "\(target)")
        return """
            <script>
            (() => {
              const target = document.getElementById("\(target)");
              const status = document.getElementById("live");
              let pending = null;
              const apply = () => {
                if (pending === null || target.contains(document.activeElement)) return;
                target.innerHTML = pending;
                pending = null;
              };
              const events = new EventSource("\(stream)");
              events.addEventListener("\(event)", (e) => { pending = e.data; apply(); });
              events.onopen = () => { if (status) { status.textContent = "live"; status.className = "live"; } };
              events.onerror = () => { if (status) { status.textContent = "reconnecting"; status.className = "stale"; } };
              target.addEventListener("focusout", () => setTimeout(apply, 0));
            })();
            </script>
            """
    }

    static let style: HTML = """
        body { font: 16px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
        body.wide { max-width: 76rem; }
        header { display: flex; align-items: baseline; gap: 1rem; }
        h1 { font-size: 1.6rem; margin: 0 0 1rem; }
        h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
        .live, .stale { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; }
        .live { background: #e3f6e8; color: #17692f; }
        .stale { background: #fdecea; color: #a1261b; }
        form { display: inline; margin: 0; }
        form.add { display: flex; gap: .5rem; margin: .5rem 0 1rem; }
        form.add input { flex: 1; }
        input, select, button { font: inherit; padding: .3rem .5rem; }
        ul.todos { list-style: none; padding: 0; margin: 0; }
        ul.todos li { display: flex; align-items: center; gap: .5rem; padding: .35rem 0; border-bottom: 1px solid #eee; }
        ul.todos li.done input { text-decoration: line-through; color: #888; }
        form.rename { display: flex; gap: .5rem; flex: 1; }
        form.rename input { flex: 1; border: 1px solid transparent; background: transparent; }
        form.rename input:focus, form.rename input:hover { border-color: #ccc; background: #fff; }
        button.check, button.delete { border: none; background: none; font-size: 1.2rem; cursor: pointer; }
        .owner { font-size: .85rem; background: #eef2ff; color: #3730a3; padding: .1rem .5rem; border-radius: 1rem; }
        .summary, .empty { color: #555; }
        .error { background: #fdecea; color: #a1261b; padding: .75rem 1rem; border-radius: .5rem; }
        table { border-collapse: collapse; width: 100%; font-size: .85rem; }
        th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        code { font-size: .85rem; }
        footer { margin-top: 2rem; font-size: .85rem; }
        """
}
