/// Group commit for ``SQLiteStore``: a burst of writes shares one transaction and one COMMIT.
///
/// ```swift
/// let store = try SQLiteStore(path: "app.db", writeQueue: WriteQueue())
/// try store.exec("insert into events (kind) values (?)", "signup")   // returns at once, real results
/// try await store.durable()                                          // committed, as `synchronous` makes it
/// ```
///
/// The first write opens the batch's transaction and runs at once; later writes from any thread
/// join it, each as its own savepoint. The batch commits when the writer is free (with `maxDelay`
/// zero) or `maxDelay` after it opened, when `maxBatch` writes have joined, or on ``SQLiteStore/flush()``,
/// ``SQLiteStore/close()`` and `migrate`. Until then a crash loses the batch whole (never part of
/// it, never corrupting the file): await ``SQLiteStore/durable()`` before acknowledging a write to
/// the outside world. See the article "The write queue".
public struct WriteQueue: Sendable {
    /// The most write units (an `exec` outside `tx`, or a whole top-level `tx`) one batch holds.
    public var maxBatch: Int
    /// How long a batch stays open to gather writes; zero commits as soon as the writer is free.
    public var maxDelay: Duration
    /// Called after every batch commits or is lost, outside the store's locks; keep it short.
    /// Without it, a lost batch is reported on standard error.
    public var onBatch: (@Sendable (BatchEvent) -> Void)?

    /// The default `maxBatch`: large enough that 64 concurrent writers share a commit, small
    /// enough that one batch holds the write lock for well under a millisecond of statements.
    public static let defaultMaxBatch = 256

    /// With `maxDelay` zero, how long a batch may stay open while the writer never goes idle
    /// (a steady stream of writes below `maxBatch`, or of reads on the writer): then the thread
    /// leaving the writer commits it. With a `maxDelay`, that delay is the bound.
    public static let busyWriterCeiling: Duration = .milliseconds(10)

    /// Creates a write-queue configuration.
    ///
    /// - Parameters:
    ///   - maxBatch: The most write units per batch; at least 1.
    ///   - maxDelay: How long a batch gathers writes before it commits; zero or more.
    ///   - onBatch: Called after each batch commits or is lost.
    public init(
        maxBatch: Int = WriteQueue.defaultMaxBatch, maxDelay: Duration = .zero,
        onBatch: (@Sendable (BatchEvent) -> Void)? = nil
    ) {
        precondition(maxBatch >= 1, "WriteQueue(maxBatch:) must be at least 1, got \(maxBatch)")
        precondition(maxDelay >= .zero, "WriteQueue(maxDelay:) must not be negative, got \(maxDelay)")
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.onBatch = onBatch
    }
}

/// One batch of the write queue, committed or lost.
public struct BatchEvent: Sendable {
    /// The write units the batch held.
    public let size: Int
    /// How long the COMMIT took.
    public let commitDuration: Duration
    /// How many `durable()` calls the commit answered.
    public let waiters: Int
    /// Why the batch was lost, when it was; `nil` for a committed batch.
    public let failure: StoreError?
}

/// Totals of the write queue since the store opened.
public struct WriteQueueMetrics: Sendable, Hashable {
    /// Batches committed.
    public var batches = 0
    /// Write units committed in them.
    public var writes = 0
    /// The largest batch.
    public var largestBatch = 0
    /// Time spent in COMMIT.
    public var commitTime: Duration = .zero
    /// `durable()` calls answered by commits.
    public var waitersResumed = 0

    /// Write units per batch, on average.
    public var meanBatchSize: Double { batches == 0 ? 0 : Double(writes) / Double(batches) }
}
