import Dispatch
public import Orion
import OrionPostgres

/// The composition root: the one place that knows which database runs, that the write queue
/// is on, and that every call is instrumented. Features and views see only the scoped stores.
///
/// Handlers enter the store through its lanes, ``read(_:)`` and ``write(_:)``: the synchronous
/// views and SQL functions run on threads the store owns, never on the cooperative pool that
/// serves every request, stream and timer of the process.
public final class Backend: Sendable {
    /// The todos feature's store: fenced to what "todos" may touch.
    public let todos: any Store
    /// The people feature's store: fenced to what "people" may touch.
    public let people: any Store
    /// What the dev query panel shows; `nil` when instrumentation is off.
    public let queryLog: QueryLog?
    public let dialect: Dialect
    /// Runs a view now and after every commit that changed what it shows.
    let observe: @Sendable (@escaping @Sendable () throws -> HTML) -> Observation<HTML>
    /// Returns once every write made before the call is committed (a no-op without a queue).
    let durable: @Sendable () async throws -> Void
    /// The store the lanes belong to (features never see it).
    private let lanes: any Store
    private let closeStore: @Sendable () throws -> Void

    /// SQLite with the write queue: the default.
    public static func sqlite(path: String, querySample: Double) throws -> Backend {
        let store = try SQLiteStore(path: path, writeQueue: WriteQueue())
        do {
            try migrate(store, .sqlite)
        } catch {
            try? store.close()
            throw error
        }
        let log = querySample > 0 ? QueryLog() : nil
        return Backend(
            dialect: .sqlite, queryLog: log,
            todos: instrument(store.scoped(to: Todos.feature), querySample, log),
            people: instrument(store.scoped(to: People.feature), querySample, log),
            // SQLite learns the tables a view reads while it runs.
            observe: { view in store.observe(view) },
            durable: { try await store.durable() },
            lanes: store, close: { try store.close() })
    }

    /// PostgreSQL: the same features, the same views, the migrations in its dialect.
    public static func postgres(url: String, querySample: Double) throws -> Backend {
        let store = try PostgresStore(url: url)
        do {
            try migrate(store, .postgres)
        } catch {
            store.close()
            throw error
        }
        let log = querySample > 0 ? QueryLog() : nil
        return Backend(
            dialect: .postgres, queryLog: log,
            todos: instrument(store.scoped(to: Todos.feature), querySample, log),
            people: instrument(store.scoped(to: People.feature), querySample, log),
            // PostgreSQL does not say which tables a view reads: name them.
            observe: { view in store.observe(tables: ["todos", "people"], view) },
            durable: {},
            lanes: store, close: { store.close() })
    }

    private static func migrate(_ store: some Store, _ dialect: Dialect) throws {
        try store.migrate(People.feature, People.migrations(dialect))
        try store.migrate(Todos.feature, Todos.migrations(dialect))
    }

    private static func instrument(_ store: any Store, _ sample: Double, _ log: QueryLog?) -> any Store {
        guard let log else { return store }
        return InstrumentedStore(store, sample: sample, onQuery: log.record)
    }

    private init(
        dialect: Dialect, queryLog: QueryLog?, todos: any Store, people: any Store,
        observe: @escaping @Sendable (@escaping @Sendable () throws -> HTML) -> Observation<HTML>,
        durable: @escaping @Sendable () async throws -> Void, lanes: any Store, close: @escaping @Sendable () throws -> Void
    ) {
        self.dialect = dialect
        self.queryLog = queryLog
        self.todos = todos
        self.people = people
        self.observe = observe
        self.durable = durable
        self.lanes = lanes
        closeStore = close
    }

    /// Runs a view (reads only) on the store's read lane; the calling task suspends.
    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await lanes.read(body)
    }

    /// Runs `body` as one transaction on the store's write lane: all of it, or none.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await lanes.write(body)
    }

    /// Commits what is queued and closes the store; later calls throw. The commit waits for a
    /// write body still running, so it runs on a thread of its own, not the cooperative pool.
    public func close() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { [closeStore] in continuation.resume(with: Result { try closeStore() }) }
        }
    }
}
