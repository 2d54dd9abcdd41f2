public import CoreMetrics
public import Logging
public import Orion
public import Tracing

import struct Foundation.Date

/// Sends Orion's query events to the observability packages a Swift server already runs:
/// swift-log, swift-metrics and swift-distributed-tracing.
///
/// ```swift
/// let observer = QueryObserver(logger: Logger(label: "db"), system: .sqlite)
/// let store = InstrumentedStore(base, sample: 0.01, onQuery: observer.record)
/// ```
///
/// - Logging: one entry per event at `logLevel` (failures at `.warning`), with metadata `sql`,
///   `params` (the count), `rows`, `duration_us`, `kind`, `feature` and `error`. Never a value.
/// - Metrics: a timer `orion_query_duration` with a `kind` dimension (read, write), and a counter
///   `orion_query_errors` with `kind` and `code`.
/// - Write queue: ``recordBatch(_:)`` logs and measures each batch, and logs a lost batch as an error.
/// - Tracing: a client span per event, timed as the call was, following OpenTelemetry's database
///   conventions: `db.system.name`, `db.query.text` (parameterized), `db.operation.name`,
///   `db.response.returned_rows`, and `error.type` on failure.
public struct QueryObserver: Sendable {
    /// The database system named in spans.
    public struct System: Sendable, Hashable {
        /// The `db.system.name` value.
        public let name: String
        /// SQLite.
        public static let sqlite = System(name: "sqlite")
        /// PostgreSQL.
        public static let postgresql = System(name: "postgresql")
        /// Another system, by its OpenTelemetry name.
        public init(name: String) { self.name = name }
    }

    private let logger: Logger?
    private let logLevel: Logger.Level
    private let system: System
    private let tracer: (any Tracer)?
    private let readTimer: Timer?
    private let writeTimer: Timer?
    private let metricsFactory: (any MetricsFactory)?

    /// Creates an observer.
    ///
    /// - Parameters:
    ///   - logger: Where to log each event; `nil` logs nothing.
    ///   - logLevel: The level of successful events (failures log at `.warning`).
    ///   - metricsFactory: The metrics backend; `nil` records no metrics. Defaults to the
    ///     process's bootstrapped `MetricsSystem.factory`.
    ///   - tracer: The tracer for spans; `nil` records no spans. Defaults to the process's
    ///     bootstrapped `InstrumentationSystem.tracer`.
    ///   - system: `.sqlite` or `.postgresql`, for `db.system.name`.
    public init(
        logger: Logger? = nil, logLevel: Logger.Level = .debug,
        metricsFactory: (any MetricsFactory)? = MetricsSystem.factory,
        tracer: (any Tracer)? = InstrumentationSystem.tracer,
        system: System = .sqlite
    ) {
        self.logger = logger
        self.logLevel = logLevel
        self.system = system
        self.tracer = tracer
        self.metricsFactory = metricsFactory
        if let metricsFactory {
            readTimer = Timer(label: "orion_query_duration", dimensions: [("kind", "read")], factory: metricsFactory)
            writeTimer = Timer(label: "orion_query_duration", dimensions: [("kind", "write")], factory: metricsFactory)
        } else {
            readTimer = nil
            writeTimer = nil
        }
    }

    /// Records one event; pass it as `onQuery`.
    @Sendable
    public func record(_ event: QueryEvent) {
        log(event)
        measure(event)
        trace(event)
    }

    private func log(_ event: QueryEvent) {
        guard let logger else { return }
        var metadata: Logger.Metadata = [
            "sql": "\(event.sql)",
            "params": "\(event.paramCount)",
            "rows": "\(event.rows)",
            "duration_us": "\(Self.microseconds(event.duration))",
            "kind": "\(event.kind.rawValue)",
        ]
        if let feature = event.feature { metadata["feature"] = "\(feature)" }
        if let error = event.error {
            metadata["error"] = "\(error)"
            logger.log(level: max(logLevel, .warning), "query failed", metadata: metadata)
        } else {
            logger.log(level: logLevel, "query", metadata: metadata)
        }
    }

    private func measure(_ event: QueryEvent) {
        let timer = event.kind == .read ? readTimer : writeTimer
        timer?.recordNanoseconds(Self.nanoseconds(event.duration))
        if let error = event.error, let metricsFactory {
            Counter(label: "orion_query_errors", dimensions: [("kind", event.kind.rawValue), ("code", error)], factory: metricsFactory)
                .increment()
        }
    }

    private func trace(_ event: QueryEvent) {
        guard let tracer else { return }
        let startNanos = UInt64(max(0, event.start.timeIntervalSince1970 * 1e9))
        let start = DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: startNanos)
        let operation = Self.operation(event.sql)
        let span = tracer.startSpan(
            "\(operation) \(system.name)", context: InstrumentationContext.current ?? .topLevel,
            ofKind: .client, at: start)
        span.attributes["db.system.name"] = system.name
        span.attributes["db.query.text"] = event.sql
        span.attributes["db.operation.name"] = operation
        if event.kind == .read { span.attributes["db.response.returned_rows"] = event.rows }
        if let feature = event.feature { span.attributes["orion.feature"] = feature }
        if let error = event.error {
            span.attributes["error.type"] = error
            span.setStatus(SpanStatus(code: .error))
        }
        let end = DefaultTracerClock.Timestamp(
            nanosecondsSinceEpoch: startNanos + UInt64(max(0, Self.nanoseconds(event.duration))))
        span.end(at: end)
    }

    /// Records one batch of the write queue; pass it as `WriteQueue(onBatch:)`.
    ///
    /// A committed batch records its size (`orion_batch_size`) and commit time
    /// (`orion_batch_commit`) and logs at `logLevel`; a lost batch logs at `.error` with the
    /// cause and how many acknowledged writes it lost, and counts `orion_batches_lost`.
    @Sendable
    public func recordBatch(_ event: BatchEvent) {
        if let metricsFactory {
            if event.failure == nil {
                Recorder(label: "orion_batch_size", factory: metricsFactory).record(event.size)
                Timer(label: "orion_batch_commit", factory: metricsFactory)
                    .recordNanoseconds(Self.nanoseconds(event.commitDuration))
            } else {
                Counter(label: "orion_batches_lost", factory: metricsFactory).increment()
            }
        }
        guard let logger else { return }
        var metadata: Logger.Metadata = [
            "size": "\(event.size)",
            "commit_us": "\(Self.microseconds(event.commitDuration))",
            "waiters": "\(event.waiters)",
        ]
        if let failure = event.failure {
            metadata["error"] = "\(failure.message)"
            logger.error("write queue batch lost", metadata: metadata)
        } else {
            logger.log(level: logLevel, "write queue batch committed", metadata: metadata)
        }
    }

    /// The statement's first keyword, upper-cased (`SELECT`, `INSERT`, `WITH` …).
    static func operation(_ sql: String) -> String {
        let word = sql.drop { $0.isWhitespace }.prefix { $0.isLetter }
        return word.isEmpty ? "SQL" : word.uppercased()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private static func microseconds(_ duration: Duration) -> Int64 {
        nanoseconds(duration) / 1000
    }
}
