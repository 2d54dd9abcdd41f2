/// The synchronous store seam: five methods over plain SQL.
///
/// A view is a pure function of the store, called with no `await`. Queries are named functions
/// that live inside the feature that owns the table; they take `some Store` so the same code
/// runs on ``SQLiteStore``, a scoped store, an ``InstrumentedStore`` or a Postgres adapter.
///
/// ```swift
/// struct Todo: Decodable, Sendable { let id: Int; let title: String; let done: Bool }
/// enum Todos {
///     static func all(_ store: some Store) throws -> [Todo] {
///         try store.query("select id, title, done from todos order by id")
///     }
///     @discardableResult
///     static func insert(_ store: some Store, _ title: String) throws -> ExecResult {
///         try store.exec("insert into todos (title) values (?)", title)
///     }
/// }
/// ```
///
/// Features call the variadic forms (`store.query(sql, a, b)`, where `nil` binds NULL). An
/// adapter implements the five requirements that take `[SQLValue]`; the variadic forms reach it
/// through ``query(_:bindables:)``, ``one(_:bindables:)`` and ``exec(_:bindables:)``, whose
/// default implementations build that array, and which an adapter may implement to bind the
/// values as passed (``SQLiteStore`` does: it saves an array per call on the hottest path).
///
/// ## Implementation requirements
/// An adapter must:
/// - be safe to call from any thread or task, and return synchronously;
/// - take exactly one statement in `query`, `one` and `exec`, with positional `?` parameters only,
///   and throw ``StoreError`` when the number of parameters differs from the number of `?`;
/// - decode rows by column name into any `Decodable`, and one-column rows into scalars;
/// - return from `one` `nil` for no row and for a one-column row holding NULL;
/// - report in ``ExecResult`` the rows this statement changed and the rowid it inserted (0 if none);
/// - run `tx` as one transaction, nested `tx` as savepoints, rolling back exactly the level whose
///   body threw, and run reads made inside the body on the transaction's connection;
/// - refuse transaction control (`begin`, `commit`, `rollback`, `savepoint`, `release`) in
///   feature SQL, pointing to `tx`;
/// - apply migrations forward-only, once each, recorded per feature, with the ownership fence;
/// - never put a bound value into an error's description.
public protocol Store: Sendable {
    /// Runs one read statement and decodes every row into `T`.
    ///
    /// - Parameters:
    ///   - sql: One statement with positional `?` parameters.
    ///   - params: One value per `?`, in order.
    /// - Returns: The rows, decoded by column name (or, for a one-column result, as a scalar).
    /// - Throws: ``StoreError`` for SQL errors, a parameter-count mismatch, or a row that does not
    ///   decode into `T`.
    func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T]

    /// Runs one read statement and decodes its first row into `T`.
    ///
    /// - Returns: The first row, or `nil` when there is none or when a one-column row holds NULL.
    /// - Throws: ``StoreError`` as ``query(_:_:)-(String,[SQLValue])`` does.
    func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T?

    /// Runs one write (or DDL) statement.
    ///
    /// - Returns: The rows this statement inserted, updated or deleted, and the rowid it inserted.
    /// - Throws: ``StoreError`` for SQL errors, constraint violations and a parameter-count mismatch.
    @discardableResult
    func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult

    /// Runs `body` in a transaction; nested calls become savepoints.
    ///
    /// A body that throws rolls back exactly its own level, and the error is rethrown.
    ///
    /// A statement that fails inside the body and whose error the body catches: on SQLite the
    /// statement undoes itself and the transaction goes on (unless SQLite ended the whole
    /// transaction — an `OR ROLLBACK` conflict, an interrupted write, a full disk — then every
    /// later call throws, and so does `tx`); on PostgreSQL a statement that failed on the
    /// server (prepared or run) aborts the transaction: later statements throw, and `tx`
    /// throws and commits nothing. Statements the store refuses before sending them and
    /// decoding errors leave the transaction as it was on both. Code that must run on both
    /// puts a statement that may fail in a nested `tx` of its own: its failure then rolls back
    /// that level alone (save when SQLite ends the whole transaction).
    ///
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw, or ``StoreError`` when the transaction cannot begin or commit.
    @discardableResult
    func tx<T>(_ body: () throws -> T) throws -> T

    /// Applies a feature's new migration entries, each in its own transaction.
    ///
    /// - Parameters:
    ///   - feature: The feature that owns the entries and the tables they create.
    ///   - migrations: The append-only list of SQL entries; entries already applied are skipped.
    /// - Throws: ``StoreError`` naming the feature and entry index when an entry fails, was edited,
    ///   went missing, or touches a table that another feature owns.
    func migrate(_ feature: String, _ migrations: [String]) throws

    /// What the variadic `query(sql, a, b)` calls.
    ///
    /// The default implementation turns `params` into values with ``SQLValue/list(_:)`` and
    /// calls ``query(_:_:)-(String,[SQLValue])``. An adapter may bind the parameters as they
    /// are instead, without building that array; the results and errors must be the same.
    func query<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> [T]

    /// What the variadic `one(sql, a, b)` calls; see
    /// ``query(_:bindables:)``.
    func one<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> T?

    /// What the variadic `exec(sql, a, b)` calls; see
    /// ``query(_:bindables:)``.
    @discardableResult
    func exec(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> ExecResult

    /// Waits until every write made before the call is committed and seen by every reader.
    ///
    /// For a handler that holds only its feature's scoped store and must acknowledge a write
    /// after it is durable. On a ``SQLiteStore`` with a write queue (and its scoped stores), it
    /// waits for the batch; where every write is committed when its call returns (no write
    /// queue, PostgreSQL), it returns at once. The default implementation returns at once.
    ///
    /// - Throws: ``StoreError`` when those writes were lost (the write queue stopped) or the
    ///   store is closed.
    func durable() async throws

    /// Runs a synchronous `body` that reads, on a thread the store owns, and returns its
    /// result: how async code (a request handler, a stream) enters the store.
    ///
    /// ```swift
    /// router.get("/") { _, _ in
    ///     Response.html(try await store.read { try Board.page(todos: todos, people: people) })
    /// }
    /// ```
    ///
    /// The body stays a synchronous pure function of the store, called with no `await`; the
    /// calling task suspends until it is done, so whatever the body waits for blocks a thread
    /// of the store's, never one of Swift's cooperative pool. Bodies run in parallel, up to the
    /// store's readers (SQLite) or its read share of the pool (PostgreSQL), and see committed
    /// data. A write inside the body (`exec`, `tx`, `migrate`, a statement that writes) throws
    /// ``StoreError`` (``StoreError/Code-swift.struct/misuse``) before it reaches the database:
    /// every write the body makes on its own thread, to any store. (Work the body hands to
    /// another thread is that thread's, and not refused: don't.)
    ///
    /// A task cancelled while it waits for a thread leaves at once with `CancellationError`,
    /// and its body never runs; a body that has started runs to its end.
    ///
    /// The default implementation, for adapters that do not provide their own, runs `body` on
    /// a small pool of threads that Orion shares between such stores.
    ///
    /// - Parameter body: The reads, synchronous.
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw; `CancellationError`; ``StoreError`` with
    ///   ``StoreError/Code-swift.struct/closed`` after the store closed.
    func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T

    /// Runs a synchronous `body` as one `tx` on the store's write lane, on a thread the store
    /// owns, and returns its result.
    ///
    /// ```swift
    /// let id = try await store.write { try Todos.insert(todos, title).lastId }
    /// ```
    ///
    /// All or nothing, as `tx` is (a nested `tx` inside is a savepoint). Writes wait for the
    /// lane as suspended tasks, never as threads, so reads go on at full speed behind a stuck
    /// writer. Each write waits at most the busy timeout from its own call (for the lane, the
    /// writer, another process's lock or a server's lock) and then throws
    /// ``StoreError/Code-swift.struct/busy`` without having run. Under a write queue it
    /// returns when the write is acknowledged, as `tx` does; ``durable()`` waits for its commit.
    ///
    /// A task cancelled while it waits for the lane leaves at once with `CancellationError`,
    /// and its body never runs. Once the lane has taken the write, it runs to its end: its
    /// waits for the writer or a lock are no longer cancelled (they end at the busy timeout).
    ///
    /// The default implementation, for adapters that do not provide their own, runs
    /// `tx(body)` on a small pool of threads that Orion shares between such stores (8), waiting
    /// at most 5 s for one; the body's own waits are the adapter's. Implement `read` and
    /// `write` in an adapter that can do better, and forward them in a wrapper (as
    /// ``InstrumentedStore`` does): a wrapper that does not, runs its base's bodies on the
    /// shared threads, without the base's lanes.
    ///
    /// - Parameter body: The writes, synchronous; the calls of the store inside it join the
    ///   transaction.
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw (nothing of it is committed); `CancellationError`;
    ///   ``StoreError`` with ``StoreError/Code-swift.struct/busy`` or
    ///   ``StoreError/Code-swift.struct/closed``.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T
}

extension Store {
    /// Runs `body` on Orion's shared read threads (see ``Store/read(_:)``).
    public func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Lane.sharedReads.run(body)
    }

    /// Runs `tx(body)` on Orion's shared write threads (see ``Store/write(_:)``); a write waits
    /// for a thread at most 5 s, then throws ``StoreError/Code-swift.struct/busy``.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Lane.sharedWrites.run(timeout: Lane.sharedWriteTimeout) { try self.tx(body) }
    }
}

extension Store {
    /// Returns at once: a store whose writes are committed when their call returns.
    public func durable() async throws {}

    /// Converts the parameters with ``SQLValue/list(_:)`` and calls ``query(_:_:)-(String,[SQLValue])``.
    @inlinable
    public func query<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> [T] {
        try query(sql, try SQLValue.list(params, sql: sql))
    }

    /// Converts the parameters with ``SQLValue/list(_:)`` and calls ``one(_:_:)-(String,[SQLValue])``.
    @inlinable
    public func one<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> T? {
        try one(sql, try SQLValue.list(params, sql: sql))
    }

    /// Converts the parameters with ``SQLValue/list(_:)`` and calls ``exec(_:_:)-(String,[SQLValue])``.
    @inlinable
    @discardableResult
    public func exec(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> ExecResult {
        try exec(sql, try SQLValue.list(params, sql: sql))
    }
}

extension Store {
    /// Runs one read statement and decodes every row into `T`.
    ///
    /// ```swift
    /// let open: [Todo] = try store.query("select id, title, done from todos where done = ?", false)
    /// ```
    ///
    /// - Parameters:
    ///   - sql: One statement with positional `?` parameters.
    ///   - params: One value per `?`; `nil` binds NULL.
    /// - Returns: The decoded rows.
    /// - Throws: ``StoreError``.
    @inlinable
    public func query<T: Decodable>(_ sql: String, _ params: (any SQLBindable)?...) throws -> [T] {
        try query(sql, bindables: params)
    }

    /// Runs one read statement and decodes its first row into `T`.
    ///
    /// ```swift
    /// let count: Int? = try store.one("select count(*) from todos")
    /// ```
    ///
    /// - Returns: The first row, or `nil` when there is none or when a one-column row holds NULL.
    /// - Throws: ``StoreError``.
    @inlinable
    public func one<T: Decodable>(_ sql: String, _ params: (any SQLBindable)?...) throws -> T? {
        try one(sql, bindables: params)
    }

    /// Runs one write (or DDL) statement.
    ///
    /// ```swift
    /// try store.exec("update todos set title = ? where id = ?", "milk", 3)
    /// ```
    ///
    /// - Returns: The rows this statement changed and the rowid it inserted.
    /// - Throws: ``StoreError``.
    @inlinable
    @discardableResult
    public func exec(_ sql: String, _ params: (any SQLBindable)?...) throws -> ExecResult {
        try exec(sql, bindables: params)
    }
}
