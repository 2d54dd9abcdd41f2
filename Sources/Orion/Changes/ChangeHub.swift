import Synchronization

/// The subscribers of one store's changes, and the fan-out of each commit to those it concerns.
///
/// An adapter publishes every commit (the tables it wrote) once it succeeded; the hub hands it to
/// each subscriber whose tables it touches, found through an index by table, so a commit costs
/// nothing for subscribers of other tables. Each subscriber keeps at most one undelivered
/// ``Change`` (later ones merge into it). Publishing resumes waiting consumers; it runs no
/// consumer code, so an adapter may publish while it holds its own locks.
package final class ChangeHub: Sendable {
    private struct State {
        var nextID = 0
        var subscribers: [Int: ChangeInbox] = [:]
        /// Folded table name → the subscribers filtering on it.
        var byTable: [SQLName: Set<Int>] = [:]
        /// Subscribers of every table.
        var everything: Set<Int> = []
        var finished = false
    }

    private let state = Mutex(State())
    private let count = Atomic<Int>(0)
    /// Called when the first subscriber arrives and when the last one leaves (the adapter starts
    /// and stops what watches other writers).
    private let onDemand: @Sendable (_ wanted: Bool) -> Void

    package init(onDemand: @escaping @Sendable (_ wanted: Bool) -> Void = { _ in }) {
        self.onDemand = onDemand
    }

    /// Whether anyone subscribes (cheap: an atomic load).
    package var hasSubscribers: Bool { count.load(ordering: .acquiring) > 0 }

    /// A new subscriber of `tables` (every table when `nil`), live when this returns.
    package func subscribe(tables: Set<String>?) -> ChangeInbox {
        let inbox = ChangeInbox(tables: tables)
        let (added, first): (Bool, Bool) = state.withLock { state in
            guard !state.finished else { return (false, false) }
            let id = state.nextID
            state.nextID += 1
            inbox.attach(hub: self, id: id)
            state.subscribers[id] = inbox
            if let tables {
                for table in tables { state.byTable[SQLName(table), default: []].insert(id) }
            } else {
                state.everything.insert(id)
            }
            return (true, count.add(1, ordering: .releasing).newValue == 1)
        }
        if !added { inbox.finish() }
        if first { onDemand(true) }
        return inbox
    }

    /// Changes which tables `inbox` subscribes to (`nil`: every table).
    func refilter(_ inbox: ChangeInbox, id: Int, from old: Set<String>?, to new: Set<String>?) {
        state.withLock { state in
            guard state.subscribers[id] != nil else { return }
            if let old {
                for table in old {
                    let key = SQLName(table)
                    state.byTable[key]?.remove(id)
                    if state.byTable[key]?.isEmpty == true { state.byTable[key] = nil }
                }
            } else {
                state.everything.remove(id)
            }
            if let new {
                for table in new { state.byTable[SQLName(table), default: []].insert(id) }
            } else {
                state.everything.insert(id)
            }
        }
    }

    func unsubscribe(_ id: Int) {
        let last: Bool = state.withLock { state in
            guard let inbox = state.subscribers.removeValue(forKey: id) else { return false }
            if let tables = inbox.filter {
                for table in tables {
                    let key = SQLName(table)
                    state.byTable[key]?.remove(id)
                    if state.byTable[key]?.isEmpty == true { state.byTable[key] = nil }
                }
            } else {
                state.everything.remove(id)
            }
            return count.subtract(1, ordering: .releasing).newValue == 0
        }
        if last { onDemand(false) }
    }

    /// Hands a commit that wrote `tables` to the subscribers it concerns.
    package func publish(_ tables: Set<String>) {
        guard !tables.isEmpty, hasSubscribers else { return }
        let change = Change(tables: tables)
        let targets: [ChangeInbox] = state.withLock { state in
            var ids = state.everything
            for table in tables {
                if let filtered = state.byTable[SQLName(table)] { ids.formUnion(filtered) }
            }
            return ids.compactMap { state.subscribers[$0] }
        }
        for inbox in targets { inbox.deliver(change) }
    }

    /// Tells every subscriber that commits were made elsewhere: each receives its own tables
    /// (`all` for subscribers of every table), marked external.
    package func publishExternal(all: @autoclosure () -> Set<String>) {
        guard hasSubscribers else { return }
        let targets = state.withLock { Array($0.subscribers.values) }
        guard !targets.isEmpty else { return }
        let everything = targets.contains { $0.filter == nil } ? all() : []
        for inbox in targets {
            inbox.deliver(Change(tables: inbox.filter ?? everything, isExternal: true))
        }
    }

    /// Ends every subscription (the store closed); later subscriptions end at once.
    package func finish() {
        let inboxes: [ChangeInbox] = state.withLock { state in
            state.finished = true
            defer {
                state.subscribers = [:]
                state.byTable = [:]
                state.everything = []
            }
            return Array(state.subscribers.values)
        }
        let wasWatching = count.exchange(0, ordering: .acquiringAndReleasing) > 0
        for inbox in inboxes { inbox.finish() }
        if wasWatching { onDemand(false) }
    }
}

/// One subscriber's mailbox: at most one undelivered ``Change`` (later commits merge into it)
/// and at most one waiting consumer.
///
/// `@unchecked Sendable`: `hub` and `id` are set once, under the hub's lock, before the inbox is
/// shared; everything else is behind `state`'s mutex.
package final class ChangeInbox: @unchecked Sendable {
    private struct State {
        var pending: Change?
        var waiter: CheckedContinuation<Change?, Never>?
        var finished = false
    }

    private weak var hub: ChangeHub?
    private var id = -1
    private let state = Mutex(State())
    /// The tables it subscribes to; `nil` for every table. Changed only under the hub's lock
    /// and this mutex.
    private let tables: Mutex<Set<String>?>

    init(tables: Set<String>?) {
        self.tables = Mutex(tables)
    }

    /// The tables it subscribes to; `nil` for every table.
    package var filter: Set<String>? { tables.withLock { $0 } }

    /// Subscribes to `new` instead (`nil`: every table).
    package func refilter(_ new: Set<String>?) {
        let old = tables.withLock { tables in
            defer { tables = new }
            return tables
        }
        hub?.refilter(self, id: id, from: old, to: new)
    }

    fileprivate func attach(hub: ChangeHub, id: Int) {
        self.hub = hub
        self.id = id
    }

    deinit {
        hub?.unsubscribe(id)
    }

    /// Hands over `change`, or merges it into the one waiting to be taken.
    func deliver(_ change: Change) {
        let waiter: CheckedContinuation<Change?, Never>? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = state.pending.map { $0.merged(with: change) } ?? change
            return nil
        }
        waiter?.resume(returning: change)
    }

    /// Ends the subscription: a waiting consumer gets `nil`, and so does every later one.
    package func finish() {
        let waiter: CheckedContinuation<Change?, Never>? = state.withLock { state in
            state.finished = true
            state.pending = nil
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
        hub?.unsubscribe(id)
    }

    /// The next change: the one waiting, or the next to arrive; `nil` once the subscription
    /// ended (the store closed, or the calling task was cancelled).
    package func next() async -> Change? {
        if let ready = takePending() { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Change?, Never>) in
                let immediate: Change?? = state.withLock { state in
                    if state.finished || Task.isCancelled { return .some(nil) }
                    if let pending = state.pending {
                        state.pending = nil
                        return .some(pending)
                    }
                    state.waiter = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            finish()
        }
    }

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
