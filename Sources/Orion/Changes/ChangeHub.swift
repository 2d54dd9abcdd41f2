import Dispatch
import Synchronization

/// The subscribers of one store's changes, and the fan-out of each commit to those it concerns.
///
/// An adapter publishes every commit (the tables it wrote) once it succeeded. Publishing only
/// queues it, with the subscribers it concerns decided then: those subscribed when it was
/// published (a subscription made after a commit returned is never told of it). A delivery
/// queue of the hub's own hands it, in commit order, to each of them whose tables it touches
/// (found through an index by table) and resumes the waiting consumers. So the committing
/// thread — which may hold the writer — pays the same small cost however many subscribers there
/// are. Each subscriber keeps at most one undelivered ``Change`` (later ones merge into it).
///
/// The queue is bounded: a commit published while the one before it still waits for delivery,
/// for the same subscribers, merges into it when it wrote the same tables — and, once
/// ``mergeAbove`` commits wait, whatever tables it wrote (a queue longer than that holds one
/// commit per subscription made meanwhile, at most). So a writer faster than the delivery
/// costs the hub no memory and each delivery round no more work than its subscribers: the
/// subscribers of a merged commit receive one ``Change`` naming every table of the commits in
/// it, as a subscriber that falls behind does.
///
/// The hub holds its subscribers weakly: a subscription ends when nothing holds its sequence
/// any more (a loop that broke out, a sequence never iterated), as well as on cancellation and
/// when the store closes.
package final class ChangeHub: Sendable {
    /// A subscriber, held weakly.
    private struct Entry {
        let id: Int
        weak var inbox: ChangeInbox?
    }

    private struct State {
        var nextID = 0
        var subscribers: [Int: Entry] = [:]
        /// Folded table name → the subscribers filtering on it.
        var byTable: [SQLName: [Entry]] = [:]
        /// Subscribers of every table.
        var everything: [Entry] = []
        var finished = false

        /// A bit per subscribed table name (by its digest), all bits when anyone subscribes to
        /// every table: what the publishing thread checks before it queues anything.
        var interest: UInt64 {
            if !everything.isEmpty { return .max }
            return byTable.keys.reduce(0) { $0 | SQLName.bit($1) }
        }

        /// Whether names compare as SQLite compares them (ASCII letters in either case), or as
        /// written (PostgreSQL).
        let folds: Bool

        func key(_ name: String) -> SQLName { SQLName(name, folding: folds) }

        mutating func index(_ entry: Entry, tables: Set<String>?) {
            if let tables {
                for table in Set(tables.map(key)) { byTable[table, default: []].append(entry) }
            } else {
                everything.append(entry)
            }
        }

        mutating func unindex(_ id: Int, tables: Set<String>?) {
            if let tables {
                for table in Set(tables.map(key)) {
                    byTable[table]?.removeAll { $0.id == id }
                    if byTable[table]?.isEmpty == true { byTable[table] = nil }
                }
            } else {
                everything.removeAll { $0.id == id }
            }
        }
    }

    private let state: Locked<State>
    /// Whether table names compare as SQLite compares them, or as written.
    private let folds: Bool
    private let count = Atomic<Int>(0)
    /// The id the next subscriber gets: a commit concerns only subscribers below it when it is
    /// published (readable without the lock).
    private let nextID = Atomic<Int>(0)
    /// The number of the last commit published: a view that starts after reading it has seen
    /// every commit up to it.
    private let published = Atomic<UInt64>(0)
    /// ``State/interest``, readable without the lock.
    private let interest = Atomic<UInt64>(0)

    /// Commits published and not yet handed out, and whether a delivery is under way.
    private struct Outbox {
        var commits: [Commit] = []
        var delivering = false
        /// The buffer the delivery swaps in, so that queueing reuses storage.
        var spare: [Commit] = []
    }

    private struct Commit {
        var change: Change
        var keys: [SQLName]
        var sequence: UInt64
        /// The subscribers it concerns have ids below this.
        var subscribersBefore: Int
    }

    /// How many commits may wait for delivery before later ones merge into the last whatever
    /// tables they wrote.
    static let mergeAbove = 64
    private let outbox = Locked(Outbox())
    private let deliveries = DispatchQueue(label: "orion.changes")

    /// Called when the first subscriber arrives and when the last one leaves (the adapter starts
    /// and stops what watches other writers), one call at a time, in order, and never `true`
    /// after ``finish()``.
    private let onDemand: @Sendable (_ wanted: Bool) -> Void
    /// What `onDemand` was last told.
    private let demand = Locked(false)

    /// - Parameters:
    ///   - foldsNames: Whether table names compare as SQLite compares them (ASCII letters in
    ///     either case, the default), or as written (PostgreSQL, where `"Users"` is not `users`:
    ///     one feature's table never wakes the subscribers of another's).
    ///   - onDemand: Told when the first subscriber arrives and the last one leaves.
    package init(foldsNames: Bool = true, onDemand: @escaping @Sendable (_ wanted: Bool) -> Void = { _ in }) {
        self.onDemand = onDemand
        folds = foldsNames
        state = Locked(State(folds: foldsNames))
    }

    /// Whether anyone subscribes (cheap: an atomic load).
    package var hasSubscribers: Bool { count.load(ordering: .acquiring) > 0 }

    /// A new subscriber of `tables` (every table when `nil`), live when this returns.
    package func subscribe(tables: Set<String>?) -> ChangeInbox {
        let inbox = ChangeInbox(tables: tables)
        let added: Bool = state.withLock { state in
            guard !state.finished else { return false }
            let id = state.nextID
            state.nextID += 1
            nextID.store(state.nextID, ordering: .releasing)
            inbox.attach(hub: self, id: id)
            let entry = Entry(id: id, inbox: inbox)
            state.subscribers[id] = entry
            state.index(entry, tables: tables)
            interest.store(state.interest, ordering: .releasing)
            count.add(1, ordering: .releasing)
            return true
        }
        if added {
            syncDemand()
        } else {
            inbox.finish(keepingPending: false)
        }
        return inbox
    }

    /// Changes which tables subscriber `id` follows (`nil`: every table).
    func refilter(id: Int, from old: Set<String>?, to new: Set<String>?) {
        state.withLock { state in
            guard let entry = state.subscribers[id] else { return }
            state.unindex(id, tables: old)
            state.index(entry, tables: new)
            interest.store(state.interest, ordering: .releasing)
        }
    }

    /// Unsubscribes `id` soon, on the delivery queue: for an inbox's `deinit`, which may run
    /// wherever its last reference goes, even under the hub's lock.
    func unsubscribeLater(_ id: Int, tables: Set<String>?) {
        deliveries.async { [weak self] in self?.unsubscribe(id, tables: tables) }
    }

    func unsubscribe(_ id: Int, tables: Set<String>?) {
        let removed: Bool = state.withLock { state in
            guard state.subscribers.removeValue(forKey: id) != nil else { return false }
            state.unindex(id, tables: tables)
            interest.store(state.interest, ordering: .releasing)
            count.subtract(1, ordering: .releasing)
            return true
        }
        if removed { syncDemand() }
    }

    /// Tells `onDemand` whether anyone subscribes now, when that changed: serialized, so that a
    /// last unsubscribe and a first subscribe cannot reach it out of order.
    private func syncDemand() {
        demand.withLock { signalled in
            let wanted = hasSubscribers && !state.withLock { $0.finished }
            guard wanted != signalled else { return }
            signalled = wanted
            onDemand(wanted)
        }
    }

    /// Hands a commit that wrote `tables` to the subscribers it concerns.
    package func publish(_ tables: Set<String>) {
        guard !tables.isEmpty, hasSubscribers else { return }
        enqueue(Change(tables: tables), keys: tables.map { SQLName($0, folding: folds) })
    }

    /// The same for one statement's commit, whose `Change` and folded table names the statement
    /// keeps: the writer's path, which allocates nothing.
    func publish(_ change: Change, keys: [SQLName]) {
        let interest = interest.load(ordering: .acquiring)
        guard interest != 0, keys.contains(where: { SQLName.bit($0) & interest != 0 }) else { return }
        enqueue(change, keys: keys)
    }

    /// The number of the last commit published (see ``ChangeInbox/nextNumbered()``).
    package var lastPublished: UInt64 { published.load(ordering: .acquiring) }

    private func enqueue(_ change: Change, keys: [SQLName]) {
        let start: Bool = outbox.withLock { outbox in
            let sequence = published.add(1, ordering: .acquiringAndReleasing).newValue
            let before = nextID.load(ordering: .acquiring)
            // Only into a commit for the same subscribers: a merge never tells a subscriber of a
            // commit made before it subscribed. (Subscriptions are few: the queue stays short.)
            if var last = outbox.commits.last, last.subscribersBefore == before,
                last.change.tables == change.tables || outbox.commits.count >= Self.mergeAbove
            {
                // Waiting behind the one before: one delivery for both.
                if last.change.tables != change.tables {
                    last.change = last.change.merged(with: change)
                    last.keys = Array(Set(last.keys).union(keys))
                }
                last.sequence = sequence
                outbox.commits[outbox.commits.count - 1] = last
            } else {
                outbox.commits.append(Commit(change: change, keys: keys, sequence: sequence, subscribersBefore: before))
            }
            guard !outbox.delivering else { return false }
            outbox.delivering = true
            return true
        }
        if start { deliveries.async { [weak self] in self?.deliver() } }
    }

    /// Hands out what was published, in order, until nothing is left.
    private func deliver() {
        while true {
            var commits: [Commit] = outbox.withLock { outbox in
                if outbox.commits.isEmpty {
                    outbox.delivering = false
                    return []
                }
                swap(&outbox.commits, &outbox.spare)
                defer { outbox.spare = [] }
                return outbox.spare
            }
            if commits.isEmpty { return }
            for commit in commits {
                for inbox in targets(of: commit.keys, before: commit.subscribersBefore) {
                    inbox.deliver(commit.change, sequence: commit.sequence)
                }
            }
            commits.removeAll(keepingCapacity: true)
            outbox.withLock { outbox in
                if outbox.spare.isEmpty { outbox.spare = commits }
            }
        }
    }

    /// The subscribers a commit that wrote `keys` concerns, among those with ids below `before`.
    private func targets(of keys: [SQLName], before: Int) -> [ChangeInbox] {
        state.withLock { state in
            var found = state.everything.compactMap { $0.id < before ? $0.inbox : nil }
            var sources = found.isEmpty ? 0 : 1
            for key in keys {
                guard let filtered = state.byTable[key] else { continue }
                found.append(contentsOf: filtered.compactMap { $0.id < before ? $0.inbox : nil })
                sources += 1
            }
            guard sources > 1 else { return found }
            // A subscriber reached through two tables (or also of every table) hears it once.
            var seen: Set<ObjectIdentifier> = []
            return found.filter { seen.insert(ObjectIdentifier($0)).inserted }
        }
    }

    /// Holds the delivery queue until the returned function is called (for tests of what is
    /// decided when a commit is published).
    package func holdDeliveriesForTests() -> @Sendable () -> Void {
        let held = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        deliveries.async {
            holding.signal()
            held.wait()
        }
        holding.wait()
        return { held.signal() }
    }

    /// Tells every subscriber that commits were made elsewhere: each receives its own tables
    /// (`all` for subscribers of every table), marked external.
    package func publishExternal(all: @autoclosure () -> Set<String>) {
        guard hasSubscribers else { return }
        let targets = state.withLock { $0.subscribers.values.compactMap(\.inbox) }
        guard !targets.isEmpty else { return }
        let everything = targets.contains { $0.filter == nil } ? all() : []
        let sequence = published.add(1, ordering: .acquiringAndReleasing).newValue
        for inbox in targets {
            inbox.deliver(Change(tables: inbox.filter ?? everything, isExternal: true), sequence: sequence)
        }
    }

    /// Ends every subscription (the store closed): what was committed before is still handed
    /// out, then each sequence ends; later subscriptions end at once.
    package func finish() {
        // Commits queued before the close reach their subscribers first.
        deliveries.sync { deliver() }
        let inboxes: [ChangeInbox] = state.withLock { state in
            state.finished = true
            defer {
                state.subscribers = [:]
                state.byTable = [:]
                state.everything = []
            }
            return state.subscribers.values.compactMap(\.inbox)
        }
        interest.store(0, ordering: .releasing)
        count.store(0, ordering: .releasing)
        for inbox in inboxes { inbox.finish(keepingPending: true) }
        syncDemand()
    }
}

/// One subscriber's mailbox: at most one undelivered ``Change`` (later commits merge into it)
/// and at most one waiting consumer.
///
/// `@unchecked Sendable`: `hub` and `id` are set once, under the hub's lock, before the inbox is
/// shared; everything else is behind the mutexes.
package final class ChangeInbox: @unchecked Sendable {
    private struct State {
        var pending: Change?
        /// The number of the newest commit merged into `pending`.
        var pendingSequence: UInt64 = 0
        var waiter: CheckedContinuation<(Change, UInt64)?, Never>?
        /// No more changes arrive (the store closed, or the consumer was cancelled); a pending
        /// one may still be taken.
        var finished = false
    }

    private weak var hub: ChangeHub?
    private var id = -1
    private let state = Locked(State())
    /// The tables it subscribes to; `nil` for every table.
    private let tables: Locked<Set<String>?>

    init(tables: Set<String>?) {
        self.tables = Locked(tables)
    }

    fileprivate func attach(hub: ChangeHub, id: Int) {
        self.hub = hub
        self.id = id
    }

    deinit {
        hub?.unsubscribeLater(id, tables: tables.withLock { $0 })
    }

    /// The tables it subscribes to; `nil` for every table.
    package var filter: Set<String>? { tables.withLock { $0 } }

    /// Subscribes to `new` instead (`nil`: every table).
    package func refilter(_ new: Set<String>?) {
        let old = tables.withLock { tables in
            defer { tables = new }
            return tables
        }
        hub?.refilter(id: id, from: old, to: new)
    }

    /// Hands over `change`, or merges it into the one waiting to be taken.
    func deliver(_ change: Change, sequence: UInt64) {
        let waiter: CheckedContinuation<(Change, UInt64)?, Never>? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pendingSequence = max(state.pendingSequence, sequence)
            if let pending = state.pending {
                // Most commits repeat the tables of the ones before: then there is nothing to add.
                if pending != change && (!change.tables.isSubset(of: pending.tables) || change.isExternal && !pending.isExternal) {
                    state.pending = pending.merged(with: change)
                }
            } else {
                state.pending = change
            }
            return nil
        }
        waiter?.resume(returning: (change, sequence))
    }

    /// Ends the subscription: a waiting consumer gets `nil`; a later one gets the pending change
    /// first when `keepingPending`, then `nil`.
    package func finish(keepingPending: Bool) {
        let waiter: CheckedContinuation<(Change, UInt64)?, Never>? = state.withLock { state in
            state.finished = true
            if !keepingPending { state.pending = nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
        hub?.unsubscribe(id, tables: tables.withLock { $0 })
    }

    /// The next change: the one waiting, or the next to arrive; `nil` once the subscription
    /// ended (the store closed, or the calling task was cancelled).
    package func next() async -> Change? {
        await nextNumbered()?.change
    }

    /// The next change with the number of the newest commit in it (see
    /// ``ChangeHub/lastPublished``).
    package func nextNumbered() async -> (change: Change, sequence: UInt64)? {
        if let ready = takePendingNumbered() { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<(Change, UInt64)?, Never>) in
                let (immediate, replaced): ((Change, UInt64)??, CheckedContinuation<(Change, UInt64)?, Never>?) = state.withLock { state in
                    if let pending = state.pending {
                        state.pending = nil
                        return (.some((pending, state.pendingSequence)), nil)
                    }
                    if state.finished || Task.isCancelled { return (.some(nil), nil) }
                    // One consumer at a time: a second one takes over, and the first one's
                    // iteration ends.
                    defer { state.waiter = continuation }
                    return (.none, state.waiter)
                }
                replaced?.resume(returning: nil)
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            finish(keepingPending: false)
        }
    }

    private func takePendingNumbered() -> (Change, UInt64)? {
        state.withLock { state in
            guard let pending = state.pending else { return nil }
            state.pending = nil
            return (pending, state.pendingSequence)
        }
    }

    /// Whether the subscription ended.
    package var isFinished: Bool { state.withLock { $0.finished } }

    /// The change waiting to be taken, if any, left in place.
    func peekPending() -> Change? {
        state.withLock { $0.pending }
    }

    /// The change waiting to be taken, if any, without waiting.
    package func takePending() -> Change? {
        state.withLock { state in
            defer { state.pending = nil }
            return state.pending
        }
    }
}
