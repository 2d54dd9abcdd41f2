/// A store's health figures as named numbers, for a metrics backend
/// (`OrionObservability.HealthMetrics` records them as gauges).
public protocol StoreHealth: Sendable {
    /// Every figure: a metric name (`orion_sqlite_wal_bytes`), its dimensions, and its value now.
    var gauges: [HealthGauge] { get }
}

/// One figure of a ``StoreHealth``.
public struct HealthGauge: Sendable, Hashable {
    /// The metric's name, such as `orion_sqlite_wal_bytes`.
    public let label: String
    /// Dimensions that tell apart figures of one name (`result` of a checkpoint, say).
    public let dimensions: [String: String]
    /// The value now.
    public let value: Double

    public init(_ label: String, _ value: Double, dimensions: [String: String] = [:]) {
        self.label = label
        self.value = value
        self.dimensions = dimensions
    }
}
