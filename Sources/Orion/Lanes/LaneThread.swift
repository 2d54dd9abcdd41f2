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
    /// Until when (monotonic nanoseconds) the running body may wait for the writer, another
    /// process's lock or a server's lock; 0: no limit.
    @exclusivity(unchecked) package var deadline: UInt64 = 0
    /// The busy timeout the deadline came from, in nanoseconds, for the error that says so.
    @exclusivity(unchecked) package var timeout: UInt64 = 0

    init(kind: Lane.Kind) {
        self.kind = kind
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

    /// The running write body's deadline, or 0 (none, or not a lane's thread).
    @inline(__always)
    package static var currentDeadline: UInt64 {
        guard let raw = pthread_getspecific(key) else { return 0 }
        return Unmanaged<LaneThread>.fromOpaque(raw).takeUnretainedValue().deadline
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
            "the call waited \(shown) (the busy timeout) \(what), and did not run; find what holds it that long (a long tx, another process), or try again")
    }
}
