import Dispatch
import Synchronization

/// Change notifications and live views; see <doc:LiveViews>.
extension SQLiteStore {
    /// Every commit of the store, as it happens: one ``Change`` per commit (a write, a top-level
    /// `tx`, a whole write-queue batch, a migration entry), after its COMMIT succeeded.
    ///
    /// ```swift
    /// for await change in store.changes() {
    ///     print("committed:", change.tables.sorted())
    /// }
    /// ```
    ///
    /// The subscription is live when this returns. Work that was rolled back is never announced
    /// (a savepoint rolled back takes its tables out of its commit). `tables` names every table
    /// the commit wrote, also through triggers and foreign-key cascades. A subscriber that falls
    /// behind receives the commits it missed merged into one `Change`. Commits of other
    /// connections on the same file (another store, another process) are noticed within
    /// ``otherWritersInterval``. The sequence ends when its task is cancelled or the store closes.
    public func changes() -> Changes {
        Changes(changeHub.subscribe(tables: nil))
    }

    /// The commits that wrote one of `tables` (compared as SQLite compares names: ASCII letters
    /// in either case); see ``changes()``.
    ///
    /// ```swift
    /// for await _ in store.changes(to: ["todos"]) { await board.refresh() }
    /// ```
    public func changes(to tables: Set<String>) -> Changes {
        Changes(changeHub.subscribe(tables: tables))
    }

    /// Runs `view` at once, and again after every commit that changed a table it read.
    ///
    /// ```swift
    /// for try await html in store.observe({ try Board.page(todos, accounts) }) {
    ///     send(html)
    /// }
    /// ```
    ///
    /// The view is synchronous, a pure function of the store: the tables it reads are learned
    /// while it runs (from the statements it runs — through scoped stores, SQL views and joins),
    /// and learned again at every run. Its reads are reads like any other (fenced, instrumented).
    /// Evaluations never overlap; a consumer slower than the commits gets the newest value, never
    /// a backlog. An error the view throws ends the sequence with that error.
    public func observe<Value: Sendable>(_ view: @escaping @Sendable () throws -> Value) -> Observation<Value> {
        let inbox = changeHub.subscribe(tables: nil)
        return Observation(hub: changeHub, inbox: inbox, lane: readLane) {
            // Every commit reaches the observer while the view runs; afterwards only those
            // touching what it read.
            inbox.refilter(nil)
            let (value, tables) = try ReadRecorder.recording(view)
            inbox.refilter(tables)
            return (value, tables)
        }
    }

    /// Runs `view` at once, and again after every commit that changed one of `tables`.
    ///
    /// ```swift
    /// let stream = store.observe(tables: ["todos"]) { try Todos.all(todos) }
    /// ```
    public func observe<Value: Sendable>(tables: Set<String>, _ view: @escaping @Sendable () throws -> Value) -> Observation<Value> {
        Observation(hub: changeHub, inbox: changeHub.subscribe(tables: tables), lane: readLane) { (try view(), tables) }
    }

    /// How often, while anyone subscribes, the store looks for commits made by other
    /// connections on the same file (`pragma data_version` on its writer connection).
    public static let otherWritersInterval: Duration = .milliseconds(50)

    /// Looks for commits other connections made since the last look, and announces them.
    func lookForOtherWriters(since last: Int64?) -> Int64? {
        guard !isClosed else { return last }
        return try? withWriter { writer -> Int64? in
            let connection = writer.connection
            let version: Int64? = try connection.first("pragma data_version", [], access: .internal)
            if let last, let version, version != last {
                changeHub.publishExternal(all: (try? Self.userTables(on: connection)) ?? [])
            }
            return version
        }
    }

    /// Every table of the database but SQLite's own and the store's.
    private static func userTables(on connection: SQLiteConnection) throws -> Set<String> {
        let names: [String] = try connection.all(
            "select name from sqlite_schema where type = 'table'", [], access: .internal)
        return Set(names.filter { !SQLName($0).hasPrefix("sqlite_") && !SQLName($0).hasPrefix(FenceRefusal.reservedPrefix) })
    }
}

/// Watches for commits of other connections (other stores, other processes) on the store's file
/// while anyone subscribes: a timer every ``SQLiteStore/otherWritersInterval``, none otherwise.
///
/// `@unchecked Sendable`: `store` is set once, right after the store is made, before anyone can
/// subscribe; the rest is behind `state`'s mutex.
final class OtherWriters: @unchecked Sendable {
    weak var store: SQLiteStore?
    private let enabled: Bool
    /// A dispatch timer (not `Sendable` itself): made, resumed and cancelled only through this
    /// box, whose methods are thread-safe as DispatchSource's are.
    private final class Timer: @unchecked Sendable {
        let source: any DispatchSourceTimer
        init(_ source: any DispatchSourceTimer) { self.source = source }
    }

    private struct State {
        var timer: Timer?
        var lastVersion: Int64?
    }
    private let state = Locked(State())

    /// - Parameter enabled: `false` for a private in-memory database, which no one else sees.
    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// The writer connection's `data_version` when the store opened.
    func setBaseline(_ version: Int64?) {
        state.withLock { $0.lastVersion = version }
    }

    func setWanted(_ wanted: Bool) {
        guard enabled else { return }
        if wanted { start() } else { stop() }
    }

    private func start() {
        let source = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        let interval = SQLiteStore.otherWritersInterval.components
        let nanoseconds = Int(interval.seconds) * 1_000_000_000 + Int(interval.attoseconds / 1_000_000_000)
        source.schedule(deadline: .now(), repeating: .nanoseconds(nanoseconds), leeway: .milliseconds(5))
        source.setEventHandler { [weak self] in self?.tick() }
        let timer = Timer(source)
        // The version seen last is kept from the store's opening on: a commit made elsewhere
        // just before a subscription is announced at the first look, never taken for the baseline.
        let replaced: Timer? = state.withLock { state in
            defer { state.timer = timer }
            return state.timer
        }
        replaced?.source.cancel()
        timer.source.resume()
    }

    func stop() {
        let timer: Timer? = state.withLock { state in
            defer { state.timer = nil }
            return state.timer
        }
        timer?.source.cancel()
    }

    private func tick() {
        guard let store else { return }
        let last = state.withLock { $0.lastVersion }
        guard let now = store.lookForOtherWriters(since: last) else { return }
        state.withLock { $0.lastVersion = now }
    }
}
