import Foundation
import Synchronization

/// The data of a dev query panel: the most recent events, and per-statement aggregates.
///
/// ```swift
/// let log = QueryLog()
/// let store = InstrumentedStore(base, sample: 1, onQuery: log.record)
/// …
/// print(log.table())                                  // slowest statements first
/// let json = try JSONEncoder().encode(log.snapshot()) // for a panel
/// ```
///
/// Thread-safe, and bounded however many events or distinct SQL texts arrive: it keeps the last
/// `capacity` events, aggregates at most `maxStatements` distinct statements (later new texts
/// are counted in ``Snapshot/overflow``), and computes percentiles over each statement's most
/// recent `window` durations.
public final class QueryLog: Sendable {
    /// Aggregates of one SQL text.
    public struct Statement: Sendable, Hashable, Codable {
        /// The parameterized SQL.
        public let sql: String
        /// Calls recorded.
        public var count: Int
        /// Their total duration.
        public var total: Duration
        /// The longest call.
        public var max: Duration
        /// Rows returned or changed, summed.
        public var rows: Int
        /// Calls that failed.
        public var errors: Int
        /// The median over the most recent `window` calls.
        public var p50: Duration
        /// The 95th percentile over the most recent `window` calls.
        public var p95: Duration
        /// The 99th percentile over the most recent `window` calls.
        public var p99: Duration

        /// The mean duration.
        public var mean: Duration { count == 0 ? .zero : total / count }
    }

    /// Everything the log holds, at one moment.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// The most recent events, oldest first.
        public let recent: [QueryEvent]
        /// Per-statement aggregates, by total time, largest first.
        public let statements: [Statement]
        /// Events whose SQL was not aggregated because `maxStatements` texts were tracked already.
        public let overflow: Int
        /// Events recorded since the log was made or reset.
        public let recorded: Int
    }

    private struct Aggregate {
        var stats: Statement
        var durations: [Duration] = []
        var next = 0

        mutating func add(_ event: QueryEvent, window: Int) {
            stats.count += 1
            stats.total += event.duration
            stats.max = Swift.max(stats.max, event.duration)
            stats.rows += event.rows
            if event.failed { stats.errors += 1 }
            if durations.count < window {
                durations.append(event.duration)
            } else {
                durations[next] = event.duration
                next = (next + 1) % window
            }
        }

        func withPercentiles() -> QueryLog.Statement {
            var stats = stats
            let sorted = durations.sorted()
            func percentile(_ p: Double) -> Duration {
                guard !sorted.isEmpty else { return .zero }
                let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
                return sorted[Swift.min(Swift.max(rank, 0), sorted.count - 1)]
            }
            stats.p50 = percentile(0.50)
            stats.p95 = percentile(0.95)
            stats.p99 = percentile(0.99)
            return stats
        }
    }

    private struct State {
        var recent: [QueryEvent] = []
        var nextRecent = 0
        var statements: [String: Aggregate] = [:]
        var overflow = 0
        var recorded = 0
    }

    /// How many recent events are kept.
    public let capacity: Int
    /// How many distinct SQL texts are aggregated.
    public let maxStatements: Int
    /// How many recent durations per statement the percentiles cover.
    public let window: Int
    private let state = Locked(State())

    /// Creates an empty log.
    ///
    /// - Parameters:
    ///   - capacity: Recent events kept (at least 1).
    ///   - maxStatements: Distinct SQL texts aggregated (at least 1).
    ///   - window: Recent durations per statement for percentiles (at least 1).
    public init(capacity: Int = 500, maxStatements: Int = 1000, window: Int = 512) {
        precondition(capacity >= 1, "QueryLog(capacity:) must be at least 1, got \(capacity)")
        precondition(maxStatements >= 1, "QueryLog(maxStatements:) must be at least 1, got \(maxStatements)")
        precondition(window >= 1, "QueryLog(window:) must be at least 1, got \(window)")
        self.capacity = capacity
        self.maxStatements = maxStatements
        self.window = window
    }

    /// Records one event; pass it as `onQuery`.
    @Sendable
    public func record(_ event: QueryEvent) {
        state.withLock { state in
            state.recorded += 1
            if state.recent.count < capacity {
                state.recent.append(event)
            } else {
                state.recent[state.nextRecent] = event
                state.nextRecent = (state.nextRecent + 1) % capacity
            }
            if state.statements[event.sql] == nil {
                guard state.statements.count < maxStatements else {
                    state.overflow += 1
                    return
                }
                state.statements[event.sql] = Aggregate(
                    stats: Statement(
                        sql: event.sql, count: 0, total: .zero, max: .zero, rows: 0, errors: 0,
                        p50: .zero, p95: .zero, p99: .zero))
            }
            state.statements[event.sql]!.add(event, window: window)
        }
    }

    /// Forgets everything recorded.
    public func reset() {
        state.withLock { $0 = State() }
    }

    /// The recent events, oldest first.
    public var recent: [QueryEvent] {
        state.withLock { Self.ordered($0) }
    }

    /// Per-statement aggregates, by total time, largest first.
    public var statements: [Statement] {
        snapshot().statements
    }

    /// Everything the log holds now; `Codable`, for a panel.
    public func snapshot() -> Snapshot {
        state.withLock { state in
            let statements = state.statements.values.map { $0.withPercentiles() }
                .sorted { $0.total > $1.total || ($0.total == $1.total && $0.sql < $1.sql) }
            return Snapshot(
                recent: Self.ordered(state), statements: statements, overflow: state.overflow,
                recorded: state.recorded)
        }
    }

    /// The aggregates as an aligned text table, slowest total first.
    public func table(limit: Int = 20) -> String {
        let snapshot = snapshot()
        let header = ["total ms", "count", "mean µs", "p50 µs", "p95 µs", "p99 µs", "max µs", "rows", "errors", "sql"]
        var lines: [[String]] = [header]
        for s in snapshot.statements.prefix(limit) {
            var line: [String] = [Self.format(s.total, scale: 1e3), String(s.count)]
            for d in [s.mean, s.p50, s.p95, s.p99, s.max] { line.append(Self.format(d, scale: 1e6)) }
            line += [String(s.rows), String(s.errors), Self.oneLine(s.sql)]
            lines.append(line)
        }
        let numeric = header.count - 1
        var widths = [Int](repeating: 0, count: numeric)
        for line in lines {
            for column in 0..<numeric { widths[column] = max(widths[column], line[column].count) }
        }
        var rendered: [String] = []
        for line in lines {
            var cells: [String] = []
            for column in 0..<numeric {
                cells.append(String(repeating: " ", count: widths[column] - line[column].count) + line[column])
            }
            rendered.append(cells.joined(separator: "  ") + "  " + line[numeric])
        }
        var text = rendered.joined(separator: "\n")
        if snapshot.overflow > 0 {
            text += "\n(\(snapshot.overflow) events of statements beyond the \(maxStatements) tracked)"
        }
        return text
    }

    private static func ordered(_ state: State) -> [QueryEvent] {
        Array(state.recent[state.nextRecent...] + state.recent[..<state.nextRecent])
    }

    private static func format(_ duration: Duration, scale: Double) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1f", seconds * scale)
    }

    private static func oneLine(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return flat.count > 100 ? String(flat.prefix(99)) + "…" : flat
    }
}
