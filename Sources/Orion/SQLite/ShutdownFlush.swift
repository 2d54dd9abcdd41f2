import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores with a write queue, flushed when the process exits normally (`exit()`, returning from
/// `main`). SIGTERM handling belongs to the app: call `close()` (or `flush()`) from it.
enum ShutdownFlush {
    private final class WeakStore: @unchecked Sendable {
        // `@unchecked Sendable`: written once at creation; the reference is weak and only read.
        weak var store: SQLiteStore?
        init(_ store: SQLiteStore) { self.store = store }
    }

    private static let stores = Locked<[ObjectIdentifier: WeakStore]>([:])
    private static let installed = Atomic<Bool>(false)

    static func register(_ store: SQLiteStore) {
        stores.withLock { $0[ObjectIdentifier(store)] = WeakStore(store) }
        if !installed.exchange(true, ordering: .relaxed) {
            atexit { ShutdownFlush.flushAll() }
        }
    }

    static func unregister(_ store: SQLiteStore) {
        stores.withLock { $0[ObjectIdentifier(store)] = nil }
    }

    static func flushAll() {
        let live = stores.withLock { $0.values.compactMap(\.store) }
        for store in live { store.commitAtExit() }
    }
}
