#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a lane's thread is running now, for the store calls its body makes: whether the body
/// is a `read` (which may not write) and, for a `write`, until when it may wait for locks.
///
/// One per thread of a lane, set when the thread starts and read through a thread-local key
/// (`pthread_getspecific`: a load, no lock). Threads that are not a lane's have none: their
/// calls wait as they always did.
///
/// `@unchecked Sendable`: its fields are written only by the thread it belongs to, between the
/// jobs it runs, and read only by that thread.
package final class LaneThread: @unchecked Sendable {
    /// The kind of the lane this thread belongs to.
    package let kind: Lane.Kind
    /// The lane it belongs to: a deadline holds only for that lane's store.
    package let lane: ObjectIdentifier
    /// Until when (monotonic nanoseconds) the running body may wait for the writer, another
    /// process's lock or a server's lock; 0: no limit.
    @exclusivity(unchecked) package var deadline: UInt64 = 0
    /// The busy timeout the deadline came from, in nanoseconds, for the error that says so.
    @exclusivity(unchecked) package var timeout: UInt64 = 0

    init(kind: Lane.Kind, lane: ObjectIdentifier) {
        self.kind = kind
        self.lane = lane
    }

    /// The calling thread's lane state, or `nil` when it is not a lane's thread.
    @inline(__always)
    package static var current: LaneThread? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<LaneThread>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Whether the calling thread runs a `read` body now: a write there is refused.
    @inline(__always)
    package static var inReadBody: Bool {
        guard let raw = pthread_getspecific(key) else { return false }
        return Unmanaged<LaneThread>.fromOpaque(raw).takeUnretainedValue().kind == .read
    }

    /// The deadline of the write body `lane` runs on the calling thread, or 0: none, or the
    /// thread is not that lane's (another store's body calling this store waits as any caller).
    @inline(__always)
    package static func deadline(in lane: Lane) -> UInt64 {
        guard let raw = pthread_getspecific(key) else { return 0 }
        let thread = Unmanaged<LaneThread>.fromOpaque(raw).takeUnretainedValue()
        return thread.lane == ObjectIdentifier(lane) ? thread.deadline : 0
    }

    /// The deadline of the write body running on the calling thread, if it belongs to the lane
    /// identified by `lane` (a connection knows its store's write lane by identity only).
    @inline(__always)
    package static func deadline(inLaneWithID lane: ObjectIdentifier?) -> UInt64 {
        guard let lane, let raw = pthread_getspecific(key) else { return 0 }
        let thread = Unmanaged<LaneThread>.fromOpaque(raw).takeUnretainedValue()
        return thread.lane == lane ? thread.deadline : 0
    }

    /// Makes `self` the calling thread's state, for the thread's life (the thread keeps the
    /// reference; it is released when the thread ends).
    func install() {
        pthread_setspecific(Self.key, Unmanaged.passRetained(self).toOpaque())
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            #if canImport(Darwin)
                Unmanaged<LaneThread>.fromOpaque(raw).release()
            #else
                if let raw { Unmanaged<LaneThread>.fromOpaque(raw).release() }
            #endif
        }
        return key
    }()
}

extension StoreError {
    /// A write inside a `read { }` body: `what` is the call (`exec`, `tx`, `migrate`) or "a
    /// statement that writes".
    package static func writeInRead(_ what: String, sql: String? = nil) -> StoreError {
        StoreError(
            .misuse,
            "\(what) inside read { } is refused: read bodies only read (in parallel, on committed data); do the write in write { } instead",
            sql: sql)
    }

    /// A call that waited for its lane, the writer or a lock until its busy timeout passed.
    package static func laneBusy(waited timeout: UInt64, for what: String) -> StoreError {
        let milliseconds = timeout / 1_000_000
        let shown = milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
        return StoreError(
            .busy,
            "the call waited \(shown), its busy timeout, \(what); nothing of it was committed. Find what holds the lock that long (a long tx, another process), or try again")
    }
}
