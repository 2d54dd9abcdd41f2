internal import CSQLite
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Threads of a store's own that run synchronous bodies for async callers: what `read { }` and
/// `write { }` stand on (see <doc:GettingStarted>, *Lanes*).
///
/// An async caller hands its body over and suspends; the body runs on one of the lane's
/// threads, and the caller resumes with its result. Whatever the body waits for (a reader
/// connection, the writer, another process's lock, a server's answer) blocks only a lane
/// thread, never a thread of Swift's cooperative pool.
///
/// - Callers wait in a FIFO queue as suspended tasks, not as threads: there are at most
///   ``width`` threads, started when the first bodies arrive and parked on a condition
///   variable when there is nothing to run, so an idle lane costs no CPU.
/// - A caller cancelled while it waits leaves the queue at once with `CancellationError`, and
///   its body never runs; a body that has started runs to its end.
/// - A job with a timeout (a write) that is still queued when its time is up leaves the queue
///   with the lane's busy error; one that is running is told its deadline through
///   ``LaneThread``, and the store's waits honour it.
/// - ``close()`` fails every queued caller with the store's closed error; the threads end once
///   their running body returns.
///
/// `@unchecked Sendable`: every mutable field is read and written only under `lock`; a job's
/// body and continuation belong to whoever moved its state out of `.queued` under that lock.
package final class Lane: @unchecked Sendable {
    /// What the lane's bodies may do.
    package enum Kind: Sendable {
        /// Reads only: a write inside the body is refused (``StoreError/writeInRead(sql:)``).
        case read
        /// A write body (one `tx`), with a deadline for the locks it waits on.
        case write
    }

    package let kind: Kind
    /// The threads' name (at most 15 bytes show in `top` and debuggers).
    package let name: String
    /// The most threads the lane runs at once.
    package let width: Int
    private let closedError: StoreError
    /// What a queued write whose time ran out gets.
    private let expiredError: @Sendable (_ timeout: UInt64) -> StoreError

    private let lock = ConditionLock()
    // Under `lock`:
    /// Queued jobs from `head` on; a slot is `nil` once its job left (ran, cancelled, expired).
    private var queue: [LaneJob?] = []
    private var head = 0
    /// How many slots were dropped from the front of `queue`: a job's `slot` minus this is its
    /// index, so a cancelled or expired job leaves its slot at once (its closure with it).
    private var dropped = 0
    private var threads = 0
    /// Threads parked on the condition, not yet handed a wake-up.
    private var sleeping = 0
    /// Wake-ups handed to parked threads and not yet taken.
    private var wakeTokens = 0
    private var closed = false
    /// The deadline the expiry timer is set for (0: none set).
    private var timerFor: UInt64 = 0
    private var figures = LaneFigures()
    /// Whether a thread of the lane spins for the next job instead of parking.
    private var spinning = false
    /// Advances with every job queued: what the spinning thread watches, without the lock.
    private let submitted = Atomic<UInt64>(0)

    /// How long a thread that ran out of jobs looks for the next one before it parks: a caller
    /// that awaits reads one after another is back within this (its task resumed, its next call
    /// made), and then finds the thread awake — no wake-up on either side. One thread of a lane
    /// spins at a time, yielding the processor as it does; an idle lane spins not at all.
    static let spinNanoseconds: UInt64 = 100_000

    /// - Parameters:
    ///   - kind: Whether bodies read only, or write.
    ///   - name: The threads' name.
    ///   - width: The most threads, at least 1.
    ///   - closedError: What callers get once the lane is closed.
    ///   - expiredError: What a queued caller whose timeout passed gets.
    package init(
        kind: Kind, name: String, width: Int, closedError: StoreError,
        expiredError: @escaping @Sendable (_ timeout: UInt64) -> StoreError = { StoreError.laneBusy(waited: $0, for: "for its turn") }
    ) {
        precondition(width >= 1, "a lane needs at least one thread, got \(width)")
        self.kind = kind
        self.name = name
        self.width = width
        self.closedError = closedError
        self.expiredError = expiredError
    }

    deinit {
        close()
    }

    /// Runs `body` on one of the lane's threads and returns its result; the caller's task
    /// suspends meanwhile.
    ///
    /// - Parameters:
    ///   - timeout: Nanoseconds from now that the caller may wait, queued and then in the
    ///     store's waits for locks (0: no limit).
    ///   - body: The synchronous work.
    /// - Throws: What `body` threw; `CancellationError` when the task was cancelled before the
    ///   body started; the lane's busy error when `timeout` passed before it started; the
    ///   closed error after ``close()``.
    package func run<T: Sendable>(timeout: UInt64 = 0, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        if Task.isCancelled { throw CancellationError() }
        let job = BodyJob(body, deadline: timeout == 0 ? 0 : monotonicNanoseconds() &+ timeout, timeout: timeout)
        return try await withTaskCancellationHandler {
            // A checked continuation: its resume is the runtime's, which ThreadSanitizer does not
            // instrument. An unsafe one's is inlined here, and a resume that beats the caller's
            // suspension (a spinning lane thread is that fast) is reported as a race on the
            // task's context, whose ordering the runtime's own atomics provide.
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                job.continuation = continuation
                submit(job)
            }
        } onCancel: {
            cancel(job)
        }
    }

    /// Queues `job` and makes sure a thread will take it.
    private func submit(_ job: LaneJob) {
        enum Next {
            case refuse(any Error)
            case wake
            case spawn
            case arm(UInt64)
            case wait
        }
        let next: Next = lock.withLock {
            if job.cancelled {
                job.state = .done
                return .refuse(CancellationError())
            }
            if closed {
                job.state = .done
                return .refuse(closedError)
            }
            job.state = .queued
            job.slot = dropped + queue.count
            queue.append(job)
            figures.calls += 1
            submitted.add(1, ordering: .releasing)
            // A spinning thread takes it without a wake-up; more jobs wake more threads.
            if spinning && queue.count - head <= 1 { return .wait }
            if sleeping > 0 {
                sleeping -= 1
                wakeTokens += 1
                lock.signal()
                return .wake
            }
            if threads < width {
                threads += 1
                return .spawn
            }
            figures.waited += 1
            if job.deadline != 0, timerFor == 0 || job.deadline < timerFor {
                timerFor = job.deadline
                return .arm(job.deadline)
            }
            return .wait
        }
        switch next {
        case .refuse(let error): job.fail(error)
        case .spawn: startThread()
        case .arm(let deadline): armTimer(at: deadline)
        case .wake, .wait: break
        }
    }

    /// A cancelled caller: out of the queue at once, if its body has not started.
    private func cancel(_ job: LaneJob) {
        let leaves: Bool = lock.withLock {
            job.cancelled = true
            guard job.state == .queued else { return false }
            job.state = .done
            emptySlot(of: job)
            figures.cancelled += 1
            return true
        }
        if leaves { job.fail(CancellationError()) }
    }

    /// Closes the lane: every queued caller gets the closed error, later calls too; the threads
    /// end once their running body returns. Closing again does nothing.
    package func close() {
        let dropped: [LaneJob] = lock.withLock {
            guard !closed else { return [] }
            closed = true
            var dropped: [LaneJob] = []
            for index in head..<queue.count {
                if let job = queue[index], job.state == .queued {
                    job.state = .done
                    dropped.append(job)
                }
            }
            dropAll()
            lock.broadcast()
            return dropped
        }
        for job in dropped { job.fail(closedError) }
    }

    /// The lane's figures now.
    package var snapshot: LaneFigures {
        lock.withLock {
            var figures = self.figures
            figures.threads = threads
            figures.queued = queue[head...].reduce(0) { $0 + ($1?.state == .queued ? 1 : 0) }
            return figures
        }
    }

    // MARK: Threads

    /// The loop of each of the lane's threads: take the oldest queued job, run it, and park
    /// when there is none.
    fileprivate func work(on thread: LaneThread) {
        /// Whether this thread spins next: the jobs queued so far when it began.
        var spin: UInt64?
        /// Whether it may spin: after a job, not after a spin that found none.
        var maySpin = false
        while true {
            if let seen = spin {
                // Look for the next job, yielding the processor, for a short while.
                let until = monotonicNanoseconds() &+ Self.spinNanoseconds
                while submitted.load(ordering: .acquiring) == seen && monotonicNanoseconds() < until {
                    sched_yield()
                }
            }
            let job: LaneJob? = lock.withLock {
                if spin != nil {
                    spinning = false
                    spin = nil
                    maySpin = false
                }
                while true {
                    if let job = popQueued() {
                        job.state = .running
                        return job
                    }
                    if closed {
                        threads -= 1
                        return nil
                    }
                    if maySpin && !spinning {
                        // Out of work after a job: spin before parking (one thread at a time).
                        spinning = true
                        spin = submitted.load(ordering: .relaxed)
                        return nil
                    }
                    sleeping += 1
                    while wakeTokens == 0 && !closed { lock.wait() }
                    if wakeTokens > 0 { wakeTokens -= 1 } else { sleeping -= 1 }
                }
            }
            guard let job else {
                if spin != nil { continue }
                return
            }
            maySpin = true
            thread.deadline = job.deadline
            thread.timeout = job.timeout
            job.run()
            thread.deadline = 0
        }
    }

    /// The oldest job still queued, its slot emptied. Lock held.
    private func popQueued() -> LaneJob? {
        while head < queue.count {
            let job = queue[head]
            queue[head] = nil
            head += 1
            if let job, job.state == .queued {
                if head == queue.count {
                    dropAll()
                } else if head >= 64 && head * 2 >= queue.count {
                    queue.removeFirst(head)
                    dropped += head
                    head = 0
                }
                return job
            }
        }
        dropAll()
        return nil
    }

    /// Empties the queue's slots (every job has left it). Lock held.
    private func dropAll() {
        dropped += queue.count
        queue.removeAll(keepingCapacity: true)
        head = 0
    }

    /// Takes a job that leaves the queue early (cancelled, expired) out of its slot. Lock held.
    private func emptySlot(of job: LaneJob) {
        let index = job.slot - dropped
        if index >= head && index < queue.count && queue[index] === job { queue[index] = nil }
    }

    private func startThread() {
        let start = Unmanaged.passRetained(LaneStart(lane: self)).toOpaque()
        #if canImport(Darwin)
            var thread: pthread_t?
            if pthread_create(&thread, nil, laneThreadMain, start) == 0, let thread {
                pthread_detach(thread)
                return
            }
        #else
            var thread = pthread_t()
            if pthread_create(&thread, nil, laneThreadMain, start) == 0 {
                pthread_detach(thread)
                return
            }
        #endif
        // No thread (the process is out of threads or memory): the queued callers hear why,
        // unless another thread of the lane is still there to take them.
        Unmanaged<LaneStart>.fromOpaque(start).release()
        let stranded: [LaneJob] = lock.withLock {
            threads -= 1
            guard threads == 0 else { return [] }
            var stranded: [LaneJob] = []
            for index in head..<queue.count {
                if let job = queue[index], job.state == .queued {
                    job.state = .done
                    stranded.append(job)
                }
            }
            dropAll()
            return stranded
        }
        let error = StoreError(.io, "the store could not start a thread for its \(name) lane (the process is out of threads or memory); try again")
        for job in stranded { job.fail(error) }
    }

    // MARK: Timeouts

    /// Where the deadlines' timers fire: a queue of the lanes' own, which always gets a thread
    /// (code that blocks every thread of the global queues cannot hold a deadline back).
    private static let timers = DispatchQueue(label: "orion.lane-deadlines")

    private func armTimer(at deadline: UInt64) {
        let now = monotonicNanoseconds()
        let delay = deadline > now ? deadline - now : 0
        Self.timers.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: delay))) { [weak self] in
            self?.expire(armedFor: deadline)
        }
    }

    /// Fails the queued callers whose deadline passed, and sets the timer for the next one.
    ///
    /// - Parameter armedFor: The deadline this timer was set for: once it fires, no timer is
    ///   set for that deadline any more, even if it fired a little early by this clock.
    private func expire(armedFor: UInt64) {
        var expired: [LaneJob] = []
        let next: UInt64 = lock.withLock {
            let now = monotonicNanoseconds()
            if timerFor == armedFor || timerFor <= now { timerFor = 0 }
            var next: UInt64 = 0
            for index in head..<queue.count {
                guard let job = queue[index], job.state == .queued, job.deadline != 0 else { continue }
                if job.deadline <= now {
                    job.state = .done
                    queue[index] = nil
                    expired.append(job)
                } else if next == 0 || job.deadline < next {
                    next = job.deadline
                }
            }
            figures.expired += expired.count
            guard next != 0, timerFor == 0 || next < timerFor else { return 0 }
            timerFor = next
            return next
        }
        if next != 0 { armTimer(at: next) }
        for job in expired { job.fail(expiredError(job.timeout)) }
    }
}

/// A lane's figures: for `health()` and tests.
package struct LaneFigures: Sendable, Hashable {
    /// Threads running now (working or parked).
    package var threads = 0
    /// Callers queued now.
    package var queued = 0
    /// Callers since the lane was made.
    package var calls = 0
    /// Callers that found every thread busy and waited in the queue.
    package var waited = 0
    /// Callers cancelled while they waited.
    package var cancelled = 0
    /// Callers whose timeout passed while they waited.
    package var expired = 0
}

/// One caller's body, waiting for or running on a lane. Its `state` moves under the lane's
/// lock: whoever moves it from `.queued` resumes the caller, exactly once.
///
/// `@unchecked Sendable`: `state` and `cancelled` are touched only under the lane's lock; the
/// subclass's continuation is written before the job is queued and used only by whoever took
/// the job out of the queue.
class LaneJob: @unchecked Sendable {
    enum State {
        case new, queued, running, done
    }
    final let deadline: UInt64
    final let timeout: UInt64
    final var state = State.new
    final var cancelled = false
    /// Where it was queued (see `Lane.dropped`).
    final var slot = 0

    init(deadline: UInt64, timeout: UInt64) {
        self.deadline = deadline
        self.timeout = timeout
    }

    /// Runs the body and resumes the caller with its outcome.
    func run() { fatalError("LaneJob.run is implemented by its subclass") }
    /// Resumes the caller with `error`; the body never runs.
    func fail(_ error: any Error) { fatalError("LaneJob.fail is implemented by its subclass") }
}

private final class BodyJob<T: Sendable>: LaneJob, @unchecked Sendable {
    private let body: @Sendable () throws -> T
    var continuation: CheckedContinuation<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T, deadline: UInt64, timeout: UInt64) {
        self.body = body
        super.init(deadline: deadline, timeout: timeout)
    }

    override func run() {
        let outcome = Result { try body() }
        continuation.unsafelyUnwrapped.resume(with: outcome)
    }

    override func fail(_ error: any Error) {
        continuation.unsafelyUnwrapped.resume(throwing: error)
    }
}

/// What a new lane thread starts with.
private final class LaneStart {
    let lane: Lane
    init(lane: Lane) { self.lane = lane }
}

#if canImport(Darwin)
    private let laneThreadMain: @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? = { raw in
        runLaneThread(raw)
        return nil
    }
#else
    private let laneThreadMain: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
        if let raw { runLaneThread(raw) }
        return nil
    }
#endif

private func runLaneThread(_ raw: UnsafeMutableRawPointer) {
    let lane = Unmanaged<LaneStart>.fromOpaque(raw).takeRetainedValue().lane
    orion_name_thread(String(lane.name.utf8.prefix(15))!)
    let thread = LaneThread(kind: lane.kind, lane: ObjectIdentifier(lane))
    thread.install()
    lane.work(on: thread)
}

extension Lane {
    private static let sharedClosed = StoreError(.closed, "Orion's shared lane threads are closed")

    /// The read threads of stores that do not run lanes of their own (``Store/read(_:)``'s
    /// default implementation).
    package static let sharedReads = Lane(kind: .read, name: "orion-read", width: 8, closedError: sharedClosed)
    /// The write threads of stores that do not run lanes of their own.
    package static let sharedWrites = Lane(kind: .write, name: "orion-write", width: 8, closedError: sharedClosed)
    /// How long a write waits for one of the shared write threads, in nanoseconds (5 s; tests
    /// shorten it).
    package static var sharedWriteTimeout: UInt64 {
        get { sharedWriteTimeoutValue.load(ordering: .relaxed) }
        set { sharedWriteTimeoutValue.store(newValue, ordering: .relaxed) }
    }
    private static let sharedWriteTimeoutValue = Atomic<UInt64>(5_000_000_000)
}
