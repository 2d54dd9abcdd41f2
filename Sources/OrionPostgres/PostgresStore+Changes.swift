public import Orion

/// Change notifications and live views on PostgreSQL: LISTEN/NOTIFY, fed by a trigger that
/// `migrate` puts on every table a feature creates.
extension PostgresStore {
    /// Every commit that wrote a feature's table — this store's, another store's or another
    /// program's — as it happens: one `Change` per commit, after it succeeded, never for work
    /// rolled back (a savepoint rolled back takes its notifications with it).
    ///
    /// ```swift
    /// for await change in store.changes() { print(change.tables) }
    /// ```
    ///
    /// One connection of the store listens (`LISTEN`), waiting on its socket, while anyone
    /// subscribes. After it reconnects, every subscriber receives one external `Change`: commits
    /// may have been missed. A subscriber that falls behind gets the commits it missed merged.
    /// The sequence ends when its task is cancelled or the store closes.
    public func changes() -> Changes {
        Changes(changeHub.subscribe(tables: nil))
    }

    /// The commits that wrote one of `tables`; see ``changes()``.
    public func changes(to tables: Set<String>) -> Changes {
        Changes(changeHub.subscribe(tables: tables))
    }

    /// Runs `view` at once, and again after every commit that changed one of `tables`.
    ///
    /// ```swift
    /// let stream = store.observe(tables: ["todos"]) { try Todos.all(todos) }
    /// ```
    public func observe<Value: Sendable>(tables: Set<String>, _ view: @escaping @Sendable () throws -> Value) -> Observation<Value> {
        Observation(hub: changeHub, inbox: changeHub.subscribe(tables: tables), lane: readLane) { (try view(), tables) }
    }

    /// Runs `view` at once, and again after every commit: PostgreSQL does not tell the store
    /// which tables a view reads, so name them with ``observe(tables:_:)`` where you can.
    public func observe<Value: Sendable>(_ view: @escaping @Sendable () throws -> Value) -> Observation<Value> {
        Observation(hub: changeHub, inbox: changeHub.subscribe(tables: nil), lane: readLane) { (try view(), nil) }
    }
}
