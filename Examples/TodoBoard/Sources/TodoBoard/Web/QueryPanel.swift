import Foundation
import Orion

/// The dev query panel: what `QueryLog` holds, as a page. SQL text only — the log never
/// records a parameter's value, so none can appear here.
enum QueryPanel {
    static func page(_ log: QueryLog?, sample: Double) -> HTML {
        Layout.page(
            title: "Queries",
            body: """
                <header><h1>Queries</h1><span id="live" class="live">live</span></header>
                <main id="panel">\(fragment(log, sample: sample))</main>
                <footer><a href="/">board</a></footer>
                \(Layout.liveScript(stream: "/_orion/queries/events", event: "panel", target: "panel"))
                """,
            wide: true)
    }

    static func fragment(_ log: QueryLog?, sample: Double) -> HTML {
        guard let log else {
            return "<p class=\"empty\">Instrumentation is off (ORION_QUERY_SAMPLE=0): no query is recorded.</p>"
        }
        let snapshot = log.snapshot()
        let statements: [HTML] = snapshot.statements.prefix(50).map { s in
            """
            <tr><td><code>\(oneLine(s.sql))</code></td><td class="n">\(s.count)</td>\
            <td class="n">\(ms(s.total))</td><td class="n">\(µs(s.mean))</td><td class="n">\(µs(s.p50))</td>\
            <td class="n">\(µs(s.p95))</td><td class="n">\(µs(s.p99))</td><td class="n">\(µs(s.max))</td>\
            <td class="n">\(s.rows)</td><td class="n">\(s.errors)</td></tr>
            """
        }
        let recent: [HTML] = snapshot.recent.suffix(30).reversed().map { e in
            """
            <tr><td class="n">\(time(e.start))</td><td>\(e.feature ?? "—")</td><td>\(e.kind.rawValue)</td>\
            <td><code>\(oneLine(e.sql))</code></td><td class="n">\(e.paramCount)</td><td class="n">\(µs(e.duration))</td>\
            <td class="n">\(e.rows)</td><td>\(e.error ?? "")</td></tr>
            """
        }
        let rate = sample >= 1 ? "every call" : String(format: "about %.4g%% of calls", sample * 100)
        return """
            <p class="summary">\(snapshot.recorded) calls recorded (\(rate), failures always).</p>
            <h2>Statements, by total time</h2>
            <table><thead><tr><th>SQL</th><th>count</th><th>total ms</th><th>mean µs</th><th>p50 µs</th><th>p95 µs</th>\
            <th>p99 µs</th><th>max µs</th><th>rows</th><th>errors</th></tr></thead><tbody>\(statements)</tbody></table>
            <h2>Most recent</h2>
            <table><thead><tr><th>at</th><th>feature</th><th>kind</th><th>SQL</th><th>params</th><th>µs</th><th>rows</th>\
            <th>error</th></tr></thead><tbody>\(recent)</tbody></table>
            """
    }

    private static func oneLine(_ sql: String) -> String {
        sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private static func ms(_ d: Duration) -> String { String(format: "%.1f", seconds(d) * 1e3) }
    private static func µs(_ d: Duration) -> String { String(format: "%.0f", seconds(d) * 1e6) }

    /// The time of day in UTC, to the millisecond.
    private static func time(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) % 86_400_000
        return String(format: "%02lld:%02lld:%02lld.%03lld", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    }
}
