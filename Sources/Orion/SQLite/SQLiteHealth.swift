internal import CSQLite
import Foundation

/// The reader pool's figures (see ``SQLiteHealth``).
public struct ReaderPoolFigures: Sendable, Hashable, Codable {
    /// The most reader connections.
    public var capacity: Int
    /// Connections opened so far (they open on first use).
    public var open = 0
    /// Connections running a read at the moment.
    public var busy = 0
    /// Reads that found every connection busy and waited for one, since the store opened.
    public var waits = 0

    public init(capacity: Int) {
        self.capacity = capacity
    }
}

/// What a running ``SQLiteStore`` looks like from outside: for a health endpoint, a dashboard,
/// or metrics (`OrionObservability.HealthMetrics`). See <doc:OperatingAStore>.
///
/// ```swift
/// let health = try store.health()
/// if health.walBytes > 256 << 20 { logger.warning("WAL at \(health.walBytes) bytes") }
/// ```
public struct SQLiteHealth: Sendable, Hashable, Codable {
    /// The size of the database file, in bytes.
    public var databaseBytes = 0
    /// The size of its write-ahead log (the `-wal` file), in bytes.
    public var walBytes = 0
    /// Pages in the database.
    public var pageCount = 0
    /// The size of a page, in bytes.
    public var pageSize = 0
    /// Free pages: reused before the file grows; ``SQLiteStore/vacuumInto(_:replacing:)`` writes
    /// a copy without them.
    public var freePages = 0
    /// Page-cache hits of the store's connections since they opened (SQLite's
    /// `SQLITE_DBSTATUS_CACHE_HIT`, collected from each connection when it is free and kept in
    /// 64-bit totals, so they never wrap).
    public var cacheHits = 0
    /// Page-cache misses, counted as ``cacheHits`` are.
    public var cacheMisses = 0
    /// `cacheHits` as a share of all lookups, 0…1 (1 when there were none).
    public var cacheHitRate: Double {
        cacheHits + cacheMisses == 0 ? 1 : Double(cacheHits) / Double(cacheHits + cacheMisses)
    }
    /// The reader pool (`nil` for `":memory:"`, which has none).
    public var readers: ReaderPoolFigures?
    /// Write units in the write queue's open batch, waiting for its COMMIT (0 without a queue).
    public var pendingWrites = 0
    /// The write queue's totals (`nil` without a queue).
    public var writeQueue: WriteQueueFigures?
    /// Whether the write queue stopped after a lost batch (the store refuses writes until reopened).
    public var writeQueueStopped = false
    /// The checkpoints the store ran (see ``Checkpointing``).
    public var checkpoints = CheckpointFigures()
    /// `false` when the writer stayed busy (a long `tx`) for the whole of `health()`'s wait:
    /// the page figures, the writer's cache figures and `pendingWrites` were not read then.
    public var writerAnswered = true

    public init() {}
}

/// The write queue's totals, as ``SQLiteHealth`` reports them.
public struct WriteQueueFigures: Sendable, Hashable, Codable {
    /// Batches committed.
    public var batches = 0
    /// Write units in them.
    public var writes = 0
    /// The largest batch, in write units.
    public var largestBatch = 0
    /// Write units per batch, on average.
    public var meanBatchSize: Double = 0
    /// Time spent in COMMIT.
    public var commitTime: Duration = .zero
}

extension SQLiteStore {
    /// The store's figures now: file sizes, pages, the page cache, the reader pool, the write
    /// queue and the checkpoints.
    ///
    /// Cheap enough for a health endpoint: it reads a few counters, and waits at most 50 ms for
    /// the writer (when a long `tx` holds it, the writer's figures are left out and
    /// ``SQLiteHealth/writerAnswered`` is `false`). Reads in progress are not waited for.
    ///
    /// - Throws: ``StoreError`` when the store is closed.
    public func health() throws -> SQLiteHealth {
        if isClosed { throw StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again") }
        var health = SQLiteHealth()
        if path != ":memory:" {
            health.databaseBytes = Self.fileSize(path)
            health.walBytes = Self.fileSize(path + "-wal")
        }
        /// Reads a connection's page-cache counters and resets them (SQLite keeps them in 31 bits).
        func collect(_ connection: SQLiteConnection) -> CacheCount {
            CacheCount(hits: Self.status(connection, SQLITE_DBSTATUS_CACHE_HIT), misses: Self.status(connection, SQLITE_DBSTATUS_CACHE_MISS))
        }
        var writerCache = CacheCount()
        health.writerAnswered = withWriterIfFree { writer in
            let connection = writer.connection
            health.pageCount = (try? connection.first("pragma page_count", [], access: .internal)) ?? 0
            health.pageSize = (try? connection.first("pragma page_size", [], access: .internal)) ?? 0
            health.freePages = (try? connection.first("pragma freelist_count", [], access: .internal)) ?? 0
            health.pendingWrites = group?.isOpen == true ? group?.units ?? 0 : 0
            writerCache = collect(connection)
        }
        let cache = writerCacheTotal.withLock { total in
            total.add(writerCache)
            return total
        }
        health.cacheHits = cache.hits
        health.cacheMisses = cache.misses
        if let (readers, readerCache) = readerPoolFigures(collect: collect) {
            health.readers = readers
            health.cacheHits += readerCache.hits
            health.cacheMisses += readerCache.misses
        }
        if let group {
            let metrics = group.metrics
            health.writeQueue = WriteQueueFigures(
                batches: metrics.batches, writes: metrics.writes, largestBatch: metrics.largestBatch,
                meanBatchSize: metrics.meanBatchSize, commitTime: metrics.commitTime)
            health.writeQueueStopped = group.stoppedError != nil
        }
        health.checkpoints = checkpointer.current
        return health
    }

    private static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    private static func status(_ connection: SQLiteConnection, _ operation: Int32) -> Int {
        var current: Int32 = 0
        var highest: Int32 = 0
        sqlite3_db_status(connection.handle, operation, &current, &highest, 1)
        return Int(current)
    }
}

/// Page-cache lookups of a connection.
struct CacheCount: Sendable {
    var hits = 0
    var misses = 0

    mutating func add(_ other: CacheCount) {
        hits += other.hits
        misses += other.misses
    }
}

extension SQLiteHealth: StoreHealth {
    /// The figures as gauges named `orion_sqlite_*`; counts since the store opened are gauges too
    /// (their value is the running total).
    public var gauges: [HealthGauge] {
        var gauges = [
            HealthGauge("orion_sqlite_database_bytes", Double(databaseBytes)),
            HealthGauge("orion_sqlite_wal_bytes", Double(walBytes)),
            HealthGauge("orion_sqlite_cache_hit_rate", cacheHitRate),
            HealthGauge("orion_sqlite_pending_writes", Double(pendingWrites)),
            HealthGauge("orion_sqlite_write_queue_stopped", writeQueueStopped ? 1 : 0),
            HealthGauge("orion_sqlite_checkpoints", Double(checkpoints.passive), dimensions: ["result": "passive"]),
            HealthGauge("orion_sqlite_checkpoints", Double(checkpoints.truncated), dimensions: ["result": "truncated"]),
            HealthGauge("orion_sqlite_checkpoints", Double(checkpoints.busy), dimensions: ["result": "busy"]),
            HealthGauge("orion_sqlite_checkpoints", Double(checkpoints.failed), dimensions: ["result": "failed"]),
        ]
        if writerAnswered {
            gauges += [
                HealthGauge("orion_sqlite_pages", Double(pageCount)),
                HealthGauge("orion_sqlite_free_pages", Double(freePages)),
            ]
        }
        if let readers {
            gauges += [
                HealthGauge("orion_sqlite_readers", Double(readers.capacity), dimensions: ["state": "capacity"]),
                HealthGauge("orion_sqlite_readers", Double(readers.open), dimensions: ["state": "open"]),
                HealthGauge("orion_sqlite_readers", Double(readers.busy), dimensions: ["state": "busy"]),
                HealthGauge("orion_sqlite_reader_waits", Double(readers.waits)),
            ]
        }
        if let writeQueue {
            gauges += [
                HealthGauge("orion_sqlite_batches", Double(writeQueue.batches)),
                HealthGauge("orion_sqlite_batch_writes", Double(writeQueue.writes)),
                HealthGauge("orion_sqlite_batch_size_mean", writeQueue.meanBatchSize),
                HealthGauge("orion_sqlite_batch_size_largest", Double(writeQueue.largestBatch)),
            ]
        }
        return gauges
    }
}
