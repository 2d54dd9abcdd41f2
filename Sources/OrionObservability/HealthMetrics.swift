public import CoreMetrics
public import Orion

/// Records a store's health figures as swift-metrics gauges.
///
/// ```swift
/// let metrics = HealthMetrics()
/// // every 10 s, until the task is cancelled:
/// await metrics.run(every: .seconds(10)) { try store.health() }
/// ```
///
/// Each figure of ``Orion/StoreHealth/gauges`` becomes a `Gauge` of the same label and
/// dimensions (plus the dimensions given here, to tell stores apart): `orion_sqlite_wal_bytes`,
/// `orion_sqlite_cache_hit_rate`, `orion_sqlite_readers{state=busy}`,
/// `orion_sqlite_checkpoints{result=busy}`, `orion_postgres_pool{state=in_use}` and so on.
public struct HealthMetrics: Sendable {
    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]

    /// - Parameters:
    ///   - metricsFactory: The metrics backend. Defaults to the process's bootstrapped
    ///     `MetricsSystem.factory`.
    ///   - dimensions: Added to every gauge, such as `[("store", "main")]`.
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory, dimensions: [(String, String)] = []) {
        factory = metricsFactory
        self.dimensions = dimensions
    }

    /// Records every figure of `health` once.
    public func record(_ health: some StoreHealth) {
        for gauge in health.gauges {
            let dimensions = dimensions + gauge.dimensions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            Gauge(label: gauge.label, dimensions: dimensions, factory: factory).record(gauge.value)
        }
    }

    /// Records `health()` every `interval` until the task is cancelled. A `health()` that throws
    /// (the store closed) ends it.
    public func run<Health: StoreHealth>(every interval: Duration, _ health: @Sendable () throws -> Health) async {
        while !Task.isCancelled {
            guard let figures = try? health() else { return }
            record(figures)
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
