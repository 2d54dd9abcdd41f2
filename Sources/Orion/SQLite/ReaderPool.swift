import Synchronization

/// Reader connections for parallel reads: in WAL mode readers never block the writer or each other.
///
/// A read takes a free slot without a shared lock: each thread starts looking at "its" slot
/// (by a hash of its id) and claims the first free one with a compare-and-swap, so threads
/// reading at once do not meet on a mutex. Connections open lazily, one per slot. A read that
/// finds every slot busy waits on a condition variable until one is returned (reads are short,
/// and a slot is held only for one statement) — unless its own thread holds a slot: a read
/// nested in another (a `Decodable` initializer that reads) then runs on that slot's connection,
/// beside the outer statement, instead of waiting for a slot only its own return could free.
///
/// `@unchecked Sendable`: a slot's connection is touched only by the thread that holds the slot
/// (it won `busy` with a compare-and-swap and gives it back with a release store); `waiting`
/// and the condition are used only under `lock`.
final class ReaderPool: @unchecked Sendable {
    private final class Slot: @unchecked Sendable {
        let busy = Atomic<Bool>(false)
        /// The thread holding the slot (0: none), for reads nested on that thread.
        let holder = Atomic<UInt>(0)
        var connection: SQLiteConnection?
    }

    let capacity: Int
    private let slots: [Slot]
    private let lock = ConditionLock()
    private let waiting = Atomic<Int>(0)
    /// Reads that found every connection busy and waited (the slow path only counts).
    private let waits = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let open: () throws -> SQLiteConnection

    init(capacity: Int, open: @escaping () throws -> SQLiteConnection) {
        precondition(capacity >= 1, "the reader pool needs at least one connection")
        self.capacity = capacity
        self.open = open
        slots = (0..<capacity).map { _ in Slot() }
        cacheTotals = Locked(Array(repeating: CacheCount(), count: capacity))
    }

    /// Runs `body` on a reader connection, waiting for one when all are busy.
    func withConnection<R>(_ body: (SQLiteConnection) throws -> R) throws -> R {
        let (slot, nested) = try acquire()
        if nested { return try body(slot.connection!) }
        slot.holder.store(currentThreadID(), ordering: .relaxed)
        defer {
            slot.holder.store(0, ordering: .relaxed)
            release(slot)
        }
        if slot.connection == nil { slot.connection = try open() }
        return try body(slot.connection!)
    }

    @inline(__always)
    private func claim(startingAt start: Int) -> Slot? {
        for offset in 0..<slots.count {
            let slot = slots[(start + offset) % slots.count]
            if slot.busy.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
                return slot
            }
        }
        return nil
    }

    /// A free slot, or — when every slot is busy and the calling thread holds one — that one,
    /// `nested`.
    private func acquire() throws -> (Slot, nested: Bool) {
        let mixed = (currentThreadID() >> 6) &* 0x9E37_79B9_7F4A_7C15
        let start = Int(truncatingIfNeeded: mixed >> 40) % slots.count
        while true {
            if closed.load(ordering: .relaxed) { throw Self.closedError }
            if let slot = claim(startingAt: start) { return (slot, false) }
            // Every slot is busy: if this thread holds one (a read inside a read), waiting would
            // wait for itself.
            let me = currentThreadID()
            if let mine = slots.first(where: { $0.holder.load(ordering: .relaxed) == me && $0.connection != nil }) {
                return (mine, true)
            }
            let slot: Slot? = lock.withLock {
                waiting.add(1, ordering: .sequentiallyConsistent)
                defer { waiting.subtract(1, ordering: .sequentiallyConsistent) }
                if let slot = claim(startingAt: start) { return slot }
                if closed.load(ordering: .relaxed) { return nil }
                waits.add(1, ordering: .relaxed)
                lock.wait()
                return nil
            }
            if let slot { return (slot, false) }
        }
    }

    private func release(_ slot: Slot) {
        slot.busy.store(false, ordering: .sequentiallyConsistent)
        if waiting.load(ordering: .sequentiallyConsistent) > 0 {
            lock.withLock { lock.broadcast() }
        }
    }

    /// Page-cache lookups of each slot's connection, as `health()` last collected them (only
    /// `figures(collect:)` touches them, under this lock).
    private let cacheTotals: Locked<[CacheCount]>

    /// The pool's figures now, and the page-cache lookups of its connections: `collect` reads
    /// (and resets) the counters of each connection no read holds at the moment; a busy one
    /// counts with what was collected from it before.
    func figures(collect: (SQLiteConnection) -> CacheCount) -> (ReaderPoolFigures, CacheCount) {
        var figures = ReaderPoolFigures(capacity: capacity)
        figures.waits = waits.load(ordering: .relaxed)
        let cache = cacheTotals.withLock { totals in
            for (index, slot) in slots.enumerated() {
                guard slot.busy.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else {
                    figures.open += 1
                    figures.busy += 1
                    continue
                }
                if let connection = slot.connection, !closed.load(ordering: .relaxed) {
                    figures.open += 1
                    totals[index].add(collect(connection))
                }
                release(slot)
            }
            return totals.reduce(into: CacheCount()) { $0.add($1) }
        }
        return (figures, cache)
    }

    /// Closes every connection, waiting for busy ones to come back first. Closing again does nothing.
    func close() {
        guard !closed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        lock.withLock { lock.broadcast() }
        for slot in slots {
            // Claim each slot for good: when a read holds it, wait for the read to finish.
            while !slot.busy.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
                lock.withLock {
                    waiting.add(1, ordering: .sequentiallyConsistent)
                    defer { waiting.subtract(1, ordering: .sequentiallyConsistent) }
                    if slot.busy.load(ordering: .sequentiallyConsistent) { lock.wait() }
                }
            }
            slot.connection = nil
        }
    }

    private static let closedError = StoreError(.closed, "the store is closed; open a new SQLiteStore to use the database again")
}
