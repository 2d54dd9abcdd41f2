import Synchronization

/// A view re-run after every commit that changed what it read: see ``SQLiteStore/observe(_:)``.
///
/// The first value is the view's result when iteration starts; each later one is its result
/// after a commit that touched one of its tables. Evaluations never overlap, and a consumer that
/// is slower than the commits gets the newest value, never a backlog (commits that arrive while
/// it is busy are merged into one re-run). An error the view throws ends the sequence with it.
/// The subscription is live as soon as the sequence is made.
///
/// The view runs on the store's read lane (see ``Store/read(_:)``), never on the iterating
/// task's thread: a slow view blocks a thread of the store's, not Swift's cooperative pool, and
/// a write inside it is refused as in any `read` body. The sequence ends quietly (`nil`) when
/// the store closes, also while a view runs, and when the iterating task is cancelled.
public struct Observation<Value: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Value
    public typealias Failure = any Error

    private let inbox: ChangeInbox
    private let published: @Sendable () -> UInt64
    private let lane: Lane
    private let evaluate: @Sendable () throws -> (Value, Set<String>?)

    /// An observation of `evaluate`, which returns the view's value and the tables it read
    /// (`nil`: re-run on every change), with its subscription already live in `inbox` of `hub`;
    /// each evaluation runs on `lane`.
    package init(hub: ChangeHub, inbox: ChangeInbox, lane: Lane, evaluate: @escaping @Sendable () throws -> (Value, Set<String>?)) {
        self.inbox = inbox
        self.published = { [weak hub] in hub?.lastPublished ?? .max }
        self.lane = lane
        self.evaluate = evaluate
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(inbox: inbox, published: published, lane: lane, evaluate: evaluate)
    }

    /// Runs the view when asked: at once the first time, then after each relevant commit.
    public struct Iterator: AsyncIteratorProtocol {
        let inbox: ChangeInbox
        let published: @Sendable () -> UInt64
        let lane: Lane
        let evaluate: @Sendable () throws -> (Value, Set<String>?)
        private var started = false
        private var done = false
        /// The number of the last commit published before the last run began: that run saw it.
        private var seen: UInt64 = 0
        /// The tables the last evaluation read, folded; `nil` for every table.
        private var reads: Set<SQLName>?

        init(
            inbox: ChangeInbox, published: @escaping @Sendable () -> UInt64, lane: Lane,
            evaluate: @escaping @Sendable () throws -> (Value, Set<String>?)
        ) {
            self.inbox = inbox
            self.published = published
            self.lane = lane
            self.evaluate = evaluate
        }

        public mutating func next() async throws -> Value? {
            guard !done else { return nil }
            if started {
                while true {
                    // After the store closed there is nothing to run the view on.
                    guard let (change, sequence) = await inbox.nextNumbered(), !inbox.isFinished else {
                        done = true
                        return nil
                    }
                    // A commit the last run already saw needs no run.
                    if sequence > seen, concerns(change) { break }
                }
            }
            started = true
            // The run sees every commit published before it: a change of those, delivered now or
            // later, is answered by it.
            seen = published()
            _ = inbox.takePending()
            do {
                let (value, tables) = try await lane.run(evaluate)
                reads = tables.map { Set($0.map(SQLName.init)) }
                return value
            } catch {
                done = true
                inbox.finish(keepingPending: false)
                // The store closed (before or while the view ran), or the task was cancelled:
                // the sequence ends, as `changes()` does.
                if error is CancellationError || (error as? StoreError)?.code == .closed { return nil }
                throw error
            }
        }

        private func concerns(_ change: Change) -> Bool {
            guard let reads else { return true }
            if change.isExternal { return true }
            return change.tables.contains { reads.contains(SQLName($0)) }
        }
    }
}

/// How many evaluations record their reads now, in any task: the statement path asks for the
/// task-local recorder only when this is above zero.
let readRecording = Atomic<Int>(0)

/// The tables read while a view runs, gathered from the statements it runs (each statement
/// knows, from its compile, the tables it reads): how ``SQLiteStore/observe(_:)`` learns what to
/// watch without being told.
final class ReadRecorder: Sendable {
    /// The recorder of the evaluation running in this task, if any.
    @TaskLocal static var current: ReadRecorder?

    private let tables = Locked<Set<String>>([])

    func record(_ read: [String]) {
        tables.withLock { $0.formUnion(read) }
    }

    var recorded: Set<String> { tables.withLock { $0 } }

    /// Runs `body`, recording the tables its statements read.
    static func recording<T>(_ body: () throws -> T) rethrows -> (T, Set<String>) {
        let recorder = ReadRecorder()
        readRecording.add(1, ordering: .relaxed)
        defer { readRecording.subtract(1, ordering: .relaxed) }
        let value = try $current.withValue(recorder) { try body() }
        return (value, recorder.recorded)
    }
}
