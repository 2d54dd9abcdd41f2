public import Orion

/// A ``PostgresStore``'s connection pool, now (see ``PostgresStore/health()``).
public struct PostgresPoolFigures: Sendable, Hashable, Codable {
    /// The most connections (`poolSize`).
    public var size: Int
    /// Connections open (or opening).
    public var open: Int
    /// Open connections no call holds.
    public var idle: Int
    /// Calls waiting for a connection at this moment.
    public var waiting: Int
    /// Calls that found every connection busy and waited, since the store opened.
    public var waits: Int
    /// Calls that waited `poolTimeout` and gave up (`StoreError.Code.busy`).
    public var timeouts: Int
    /// Connections a call holds.
    public var inUse: Int { open - idle }
}

/// What a running ``PostgresStore`` looks like from outside.
public struct PostgresHealth: Sendable, Hashable, Codable {
    /// The connection pool.
    public var pool: PostgresPoolFigures
    /// Whether the store's listening connection is up (someone subscribes to its changes, and
    /// the connection is not being re-established).
    public var listening: Bool
}

extension PostgresStore {
    /// The store's figures now: the pool's use, and whether it listens for changes. Waits for
    /// nothing and asks the server nothing.
    public func health() -> PostgresHealth {
        PostgresHealth(pool: pool.figures, listening: listener.isListening)
    }
}

extension PostgresHealth: StoreHealth {
    /// The figures as gauges named `orion_postgres_*`.
    public var gauges: [HealthGauge] {
        [
            HealthGauge("orion_postgres_pool", Double(pool.size), dimensions: ["state": "size"]),
            HealthGauge("orion_postgres_pool", Double(pool.open), dimensions: ["state": "open"]),
            HealthGauge("orion_postgres_pool", Double(pool.inUse), dimensions: ["state": "in_use"]),
            HealthGauge("orion_postgres_pool", Double(pool.waiting), dimensions: ["state": "waiting"]),
            HealthGauge("orion_postgres_pool_waits", Double(pool.waits)),
            HealthGauge("orion_postgres_pool_timeouts", Double(pool.timeouts)),
            HealthGauge("orion_postgres_listening", listening ? 1 : 0),
        ]
    }
}
