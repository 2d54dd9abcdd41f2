import Logging
import Orion
public import ServiceLifecycle

/// Keeps the live pages fresh while anyone watches them: the board re-rendered after every
/// commit that changed what it shows (one `observe`, whatever the number of viewers), the query
/// panel twice a second when the log has grown, and a heartbeat for quiet streams.
///
/// A service of the application: it starts with the server and, on graceful shutdown, ends
/// every open stream.
public final class LivePages: Service, Sendable {
    let board = Broadcast(event: "board")
    let panel = Broadcast(event: "panel")
    let backend: Backend
    let querySample: Double
    let heartbeat: Duration
    let logger: Logger

    init(backend: Backend, settings: Settings, logger: Logger) {
        self.backend = backend
        querySample = settings.querySample
        heartbeat = settings.heartbeat
        self.logger = logger
    }

    public func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.followBoard() }
                group.addTask { await self.followPanel() }
                group.addTask { await self.beat() }
            }
        }
        board.end()
        panel.end()
    }

    /// One observation of the board while it has viewers; stopped after the last one leaves.
    private func followBoard() async {
        let todos = backend.todos
        let people = backend.people
        while !Task.isCancelled {
            // After a failed view, try again at once while anyone still watches.
            if board.viewerCount == 0 {
                guard await board.waitForViewers() else { return }
            }
            do {
                var stopped = false
                for try await html in backend.observe({ try Board.fragment(todos: todos, people: people) }) {
                    board.publish(html)
                    if board.viewerCount == 0 {
                        stopped = true
                        break
                    }
                }
                // The sequence ended by itself: the store closed.
                guard stopped else { return }
            } catch is CancellationError {
                return
            } catch {
                // A view that fails (the database went away): say so, and try again shortly.
                logger.error("the board's view failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
            board.forget()
            if Task.isCancelled { return }
        }
    }

    private func followPanel() async {
        var shown = -1
        while await panel.waitForViewers() {
            while panel.viewerCount > 0, !Task.isCancelled {
                let recorded = backend.queryLog?.snapshot().recorded ?? 0
                if recorded != shown {
                    panel.publish(QueryPanel.fragment(backend.queryLog, sample: querySample))
                    shown = recorded
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
            panel.forget()
            shown = -1
            if Task.isCancelled { return }
        }
    }

    private func beat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: heartbeat / 2)
            board.ring()
            panel.ring()
        }
    }
}
