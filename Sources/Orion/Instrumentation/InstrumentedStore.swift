import Foundation
import Synchronization

/// A store that reports every `query`, `one` and `exec` it passes to the store it wraps.
///
/// ```swift
/// let log = QueryLog()
/// let store: any Store = sample > 0
///     ? InstrumentedStore(base, sample: sample, onQuery: log.record)
///     : base
/// ```
///
/// `sample` is the probability that a successful call is reported: 1 reports every call, 0.01
/// about one in a hundred. A failing call is always reported (when `sample` is above 0). At
/// `sample: 0` nothing is reported at all — and the composition root should skip the wrapper
/// entirely, as above, so production pays nothing.
///
/// `tx` and `migrate` pass through; calls made inside a `tx` body are reported when they go
/// through this store. Wrapping a scoped store keeps its fence. The handler runs on the calling
/// thread, after the call, outside every lock of the store: keep it short and non-blocking.
public struct InstrumentedStore: Store {
    /// The wrapped store.
    public let base: any Store
    /// The probability, in 0…1, that a successful call is reported.
    public let sample: Double
    private let onQuery: @Sendable (QueryEvent) -> Void
    private let feature: String?
    private let threshold: UInt64

    /// Wraps `base`.
    ///
    /// - Parameters:
    ///   - base: Any store: a ``SQLiteStore``, a scoped store, another wrapper, a Postgres store.
    ///   - sample: The probability in 0…1 that a successful call is reported.
    ///   - onQuery: Receives each reported ``QueryEvent``.
    public init(_ base: any Store, sample: Double, onQuery: @escaping @Sendable (QueryEvent) -> Void) {
        precondition(
            sample >= 0 && sample <= 1,
            "InstrumentedStore(sample:) is a probability and must be within 0...1, got \(sample)")
        self.base = base
        self.sample = sample
        self.onQuery = onQuery
        feature = (base as? any FeatureScoped)?.scopeFeature
        threshold = sample >= 1 ? .max : UInt64(sample * Double(UInt64.max))
    }

    /// Runs `query` on the base store and reports it.
    public func query<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> [T] {
        try measure(sql, params.count, .read, { $0.count }) { try base.query(sql, params) }
    }

    /// Runs `one` on the base store and reports it.
    public func one<T: Decodable>(_ sql: String, _ params: [SQLValue]) throws -> T? {
        try measure(sql, params.count, .read, { $0 == nil ? 0 : 1 }) { try base.one(sql, params) as T? }
    }

    /// Runs `exec` on the base store and reports it.
    @discardableResult
    public func exec(_ sql: String, _ params: [SQLValue]) throws -> ExecResult {
        try measure(sql, params.count, .write, { $0.changes }) { try base.exec(sql, params) }
    }

    /// Runs the variadic `query` on the base store and reports it.
    public func query<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> [T] {
        try measure(sql, params.count, .read, { $0.count }) { try base.query(sql, bindables: params) }
    }

    /// Runs the variadic `one` on the base store and reports it.
    public func one<T: Decodable>(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> T? {
        try measure(sql, params.count, .read, { $0 == nil ? 0 : 1 }) { try base.one(sql, bindables: params) as T? }
    }

    /// Runs the variadic `exec` on the base store and reports it.
    @discardableResult
    public func exec(_ sql: String, bindables params: [(any SQLBindable)?]) throws -> ExecResult {
        try measure(sql, params.count, .write, { $0.changes }) { try base.exec(sql, bindables: params) }
    }

    /// Passes through: the body's calls through this store are reported one by one.
    @discardableResult
    public func tx<T>(_ body: () throws -> T) throws -> T {
        try base.tx(body)
    }

    /// Waits for `base`'s writes to be durable (see ``Store/durable()``).
    public func durable() async throws {
        try await base.durable()
    }

    /// Runs `body` on `base`'s read lane (see ``Store/read(_:)``); the calls the body makes
    /// through this store are reported one by one.
    public func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await base.read(body)
    }

    /// Runs `body` on `base`'s write lane, as one `tx` (see ``Store/write(_:)``); the calls
    /// the body makes through this store are reported one by one.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await base.write(body)
    }

    /// Passes through, unreported.
    public func migrate(_ feature: String, _ migrations: [String]) throws {
        try base.migrate(feature, migrations)
    }

    private func measure<R>(
        _ sql: String, _ paramCount: Int, _ kind: QueryEvent.Kind, _ rows: (R) -> Int,
        _ call: () throws -> R
    ) throws -> R {
        guard sample > 0 else { return try call() }
        let wall = Date()
        let start = ContinuousClock.now
        do {
            let result = try call()
            if Sampler.shared.admits(threshold) {
                onQuery(
                    QueryEvent(
                        sql: sql, paramCount: paramCount, rows: rows(result), duration: ContinuousClock.now - start,
                        kind: kind, start: wall, feature: feature))
            }
            return result
        } catch {
            let code = (error as? StoreError)?.code.description ?? String(describing: type(of: error))
            onQuery(
                QueryEvent(
                    sql: sql, paramCount: paramCount, rows: 0, duration: ContinuousClock.now - start,
                    kind: kind, start: wall, error: code, feature: feature))
            throw error
        }
    }
}

/// A store that knows the feature it is scoped to (for ``QueryEvent/feature``).
package protocol FeatureScoped {
    var scopeFeature: String { get }
}

extension ScopedSQLiteStore: FeatureScoped {
    var scopeFeature: String { scope.feature }
}

/// A cheap, thread-safe source of sampling decisions: a shared counter run through SplitMix64
/// (one atomic add and a few multiplications; no system call, no lock).
final class Sampler: Sendable {
    static let shared = Sampler()
    private let state = Atomic<UInt64>(UInt64(truncatingIfNeeded: ContinuousClock.now.hashValue) | 1)

    /// True with probability `threshold / UInt64.max`.
    @inline(__always)
    func admits(_ threshold: UInt64) -> Bool {
        if threshold == .max { return true }
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return z < threshold
    }
}
