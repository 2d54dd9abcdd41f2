import Foundation
import Orion

/// A fixed-size pool of connections, opened as they are first needed.
///
/// `@unchecked Sendable`: every field is read and written only under `lock`.
final class ConnectionPool: @unchecked Sendable {
    private let lock = ConditionLock()
    private var idle: [PostgresConnection] = []
    /// Connections that exist or are being opened.
    private var count = 0
    private var closed = false
    private var waiting = 0
    /// Calls that found no connection free and waited, and those that gave up (timed out).
    private var waits = 0
    private var timeouts = 0
    let size: Int
    let timeout: Duration
    private let open: () throws -> PostgresConnection

    init(size: Int, timeout: Duration, first: PostgresConnection, open: @escaping () throws -> PostgresConnection) {
        self.size = size
        self.timeout = timeout
        self.open = open
        idle = [first]
        count = 1
    }

    static let closedError = StoreError(.closed, "the store is closed; open a new PostgresStore to use the database again")

    /// A connection for the caller alone, until ``release(_:)``. Opens one when none is idle and
    /// the pool has room; otherwise waits up to ``timeout`` for one to come back (and no later
    /// than `until`, a lane write's deadline in monotonic nanoseconds, when given).
    ///
    /// - Parameter readOnly: The session state the caller needs (see
    ///   ``PostgresConnection/use(readOnly:)``): an idle connection already in it is preferred,
    ///   and the one handed out is in it.
    func acquire(readOnly: Bool = false, until laneDeadline: UInt64 = 0, busyTimeout: UInt64 = 0) throws -> PostgresConnection {
        var connection = try take(readOnly: readOnly, until: laneDeadline, busyTimeout: busyTimeout)
        // An idle connection the server ended (a restart) is dropped before anything is sent on
        // it, and the call takes another, or a new one: a restart costs no caller an error.
        while !connection.isAlive {
            release(connection)
            connection = try take(readOnly: readOnly, until: laneDeadline, busyTimeout: busyTimeout)
        }
        do {
            try connection.use(readOnly: readOnly)
        } catch {
            release(connection)
            throw error
        }
        connection.startCall()
        return connection
    }

    private func take(readOnly: Bool, until laneDeadline: UInt64, busyTimeout: UInt64) throws -> PostgresConnection {
        enum Next {
            case use(PostgresConnection)
            case open
        }
        let next: Next = try lock.withLock {
            var deadline: timespec?
            var byLane = false
            while true {
                if closed { throw Self.closedError }
                if let index = idle.lastIndex(where: { $0.readOnly == readOnly }) {
                    return .use(idle.remove(at: index))
                }
                if let connection = idle.popLast() { return .use(connection) }
                if count < size {
                    count += 1
                    return .open
                }
                if deadline == nil {
                    var wait = timeout
                    if laneDeadline != 0 {
                        let now = monotonicNanoseconds()
                        let left = Duration.nanoseconds(laneDeadline > now ? Int64(laneDeadline - now) : 0)
                        if left < wait {
                            wait = left
                            byLane = true
                        }
                    }
                    deadline = Self.deadline(after: wait)
                    waits += 1
                }
                waiting += 1
                let signalled = lock.wait(until: deadline!)
                waiting -= 1
                if !signalled, idle.isEmpty, count >= size, !closed {
                    timeouts += 1
                    if byLane {
                        throw StoreError.laneBusy(waited: busyTimeout, for: "for one of the pool's connections, which all stayed busy")
                    }
                    throw StoreError(
                        .busy,
                        "all \(size) connections of the PostgresStore pool stayed busy for \(timeout); raise poolSize, keep tx bodies short, or look for a tx that never returns")
                }
            }
        }
        switch next {
        case .use(let connection):
            return connection
        case .open:
            do {
                return try open()
            } catch {
                lock.withLock {
                    count -= 1
                    lock.signal()
                }
                throw error
            }
        }
    }

    /// Gives a connection back; a broken one is closed and its place freed for a new one.
    func release(_ connection: PostgresConnection) {
        connection.endCall()
        lock.withLock {
            if connection.isBroken || closed {
                count -= 1
            } else {
                idle.append(connection)
            }
            if waiting > 0 { lock.signal() }
        }
    }

    /// Closes idle connections now and the others as they come back; later calls throw.
    func close() {
        // The idle connections close (PQfinish) when `dropped` goes away, outside the lock.
        let dropped: [PostgresConnection] = lock.withLock {
            closed = true
            let dropped = idle
            idle = []
            count -= dropped.count
            lock.broadcast()
            return dropped
        }
        _ = dropped
    }

    var isClosed: Bool { lock.withLock { closed } }

    /// The pool's figures now.
    var figures: PostgresPoolFigures {
        lock.withLock {
            PostgresPoolFigures(size: size, open: count, idle: idle.count, waiting: waiting, waits: waits, timeouts: timeouts)
        }
    }

    private static func deadline(after duration: Duration) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let (seconds, attoseconds) = duration.components
        var sec = now.tv_sec + Int(seconds)
        var nsec = now.tv_nsec + Int(attoseconds / 1_000_000_000)
        if nsec >= 1_000_000_000 {
            sec += 1
            nsec -= 1_000_000_000
        }
        return timespec(tv_sec: sec, tv_nsec: nsec)
    }
}
