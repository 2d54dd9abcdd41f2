internal import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fair turns at the write lock between processes that share a database file.
///
/// SQLite's write lock is not a queue: a connection that finds it taken sleeps and tries again
/// (up to 100 ms apart with `sqlite3_busy_timeout`), while the process that holds it releases
/// and retakes it within microseconds for its next transaction. Two processes writing steadily
/// starve a third until its busy timeout ends in `SQLITE_BUSY` (measured: with four processes ×
/// two threads, one process got no transaction through in 30 s).
///
/// So each store's writer marks in a small file beside the database, `<db>-orion-turns` (16
/// bytes, read and written with `pread` and `pwrite`), that it is waiting, refreshing the mark
/// while it waits; and when a store finishes a write with no transaction left open, if it sees
/// another's mark it stands aside — still holding its own writer lock, so none of its threads
/// starts the next transaction — until the waiter has had its turn (at most
/// ``longestStandAside``). Waiters poll every 200 µs for the first 10 ms, then every
/// millisecond; a writer looks at the file at most every ``lookInterval``. The mark is a hint,
/// never a lock: a process killed while waiting leaves a mark that expires within
/// ``markLifetime`` (one written by another clock, before a reboot, is taken down at once); a
/// torn or garbled mark costs at most one such wait; programs that do not use Orion (the
/// `sqlite3` shell) ignore it and are waited for as SQLite always does; and when the file cannot
/// be made (a read-only folder), or is not a plain file of its own (a symbolic link, or a hard
/// link to another file: another name for a file that is not the turns file), the store writes
/// without it.
///
/// The file is never mapped: a mapping of a file that someone cuts short kills the process that
/// touches it (SIGBUS) — SQLite's `-shm` has that weakness; this file need not.
final class WriterTurns: @unchecked Sendable {
    // `@unchecked Sendable`: every field but the descriptor belongs to the writer connection's
    // thread of the moment (it is used under the store's writer lock only); the file is read and
    // written whole, with single system calls.

    /// The open turns file: word 0, the token of the writer that waits (0: none); word 1, until
    /// when (monotonic nanoseconds, the same clock in every process of the machine).
    private let fd: Int32
    private let token: UInt64
    private let timeout: UInt64
    @exclusivity(unchecked) private var waitStarted: UInt64 = 0
    @exclusivity(unchecked) private var waited = false
    /// When ``othersWait`` last read the file, and what it found.
    @exclusivity(unchecked) private var lookedAt: UInt64 = 0
    @exclusivity(unchecked) private var sawOthers = false
    /// The write lane of the store whose writer this is (see ``LaneThread``).
    var writeLaneID: ObjectIdentifier?

    static let markLifetime: UInt64 = 3_000_000
    static let longestStandAside: UInt64 = 20_000_000
    /// How long a writer trusts what it last read of the file before reading it again.
    static let lookInterval: UInt64 = 100_000

    /// The turns file beside `database`, or nil when it cannot be made, or is not a file of its
    /// own.
    ///
    /// Made as SQLite makes its `-wal` and `-shm` files: never through a symbolic link, with the
    /// database file's permissions (and, when root makes it, the database's owner), so that
    /// every user who may write the database may take turns. A file with more than one name (a
    /// hard link planted there) is left alone: nothing is written to it, its permissions and
    /// owner are not changed.
    init?(database: String, timeoutNanoseconds: UInt64) {
        var databaseStatus = stat()
        guard stat(database, &databaseStatus) == 0 else { return nil }
        // Never blocks, never becomes a controlling terminal: whatever was planted at the name is
        // looked at (fstat) before it is used.
        let fd = open(
            database + "-orion-turns", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, databaseStatus.st_mode & 0o777)
        guard fd >= 0 else { return nil }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_nlink == 1 else {
            close(fd)
            return nil
        }
        if status.st_size < 16 {
            // Just made (or cut short): the database's permissions and owner, then real bytes.
            _ = fchmod(fd, databaseStatus.st_mode & 0o777)
            if geteuid() == 0 { _ = fchown(fd, databaseStatus.st_uid, databaseStatus.st_gid) }
            let zeros = [UInt8](repeating: 0, count: 16)
            guard pwrite(fd, zeros, 16, 0) == 16 else {
                close(fd)
                return nil
            }
        }
        self.fd = fd
        var token: UInt64 = 0
        while token == 0 { token = UInt64.random(in: .min ... .max) }
        self.token = token
        timeout = timeoutNanoseconds
        clearIfStale(now: monotonicNanoseconds())
    }

    deinit {
        clear(ifWaiter: token)
        close(fd)
    }

    /// The mark: who waits (0: none) and until when. A file cut short reads as no mark.
    private func mark() -> (waiter: UInt64, until: UInt64) {
        var words: (UInt64, UInt64) = (0, 0)
        let read = withUnsafeMutableBytes(of: &words) { pread(fd, $0.baseAddress, 16, 0) }
        return read == 16 ? words : (0, 0)
    }

    private func setMark(_ waiter: UInt64, until: UInt64) {
        var words = (waiter, until)
        _ = withUnsafeBytes(of: &words) { pwrite(fd, $0.baseAddress, 16, 0) }
    }

    /// Takes the mark down if it is `waiter`'s (a hint: a mark written in between may be lost,
    /// and its writer writes it again at its next poll).
    private func clear(ifWaiter waiter: UInt64) {
        if mark().waiter == waiter { setMark(0, until: 0) }
    }

    /// A mark whose expiry lies further ahead than a mark can live was written by a clock
    /// other than this one (before a reboot, in another time namespace, on another machine):
    /// no waiter refreshes it, so it is taken down.
    private func clearIfStale(now: UInt64) {
        let (waiter, until) = mark()
        guard waiter != 0, until > now &+ Self.markLifetime else { return }
        clear(ifWaiter: waiter)
    }

    /// Installs the busy handler that marks this writer as waiting, on `handle` (the writer's).
    func install(on handle: OpaquePointer) {
        sqlite3_busy_handler(handle, writerTurnsBusy, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called by SQLite while the write lock (or another lock) is taken: waits a little and
    /// says whether to try again, until the busy timeout or the deadline of the lane's write
    /// running on this thread (``LaneThread``).
    fileprivate func busy(_ count: Int32) -> Int32 {
        let now = monotonicNanoseconds()
        if count == 0 { waitStarted = now }
        let waiting = now &- waitStarted
        guard waiting < timeout else { return 0 }
        let deadline = LaneThread.deadline(inLaneWithID: writeLaneID)
        guard deadline == 0 || now < deadline else { return 0 }
        waited = true
        setMark(token, until: now &+ Self.markLifetime)
        usleep(waiting < 10_000_000 ? 200 : 1000)
        return 1
    }

    /// Whether another writer is marked as waiting: what the store asks after each write. The
    /// file is read at most every ``lookInterval``; in between the last answer holds (a waiter
    /// polls for longer than that anyway).
    @inline(__always)
    var othersWait: Bool {
        let now = monotonicNanoseconds()
        if now &- lookedAt < Self.lookInterval { return sawOthers }
        lookedAt = now
        let waiter = mark().waiter
        sawOthers = waiter != 0 && waiter != token
        return sawOthers
    }

    /// When this writer finished a write, still holding the store's writer lock, and
    /// ``othersWait``: if `connection` has no transaction open (a batch of the write queue stays
    /// open), stand aside until the waiter has had its turn (its mark cleared or expired), at
    /// most ``longestStandAside``.
    func standAside(before connection: SQLiteConnection) {
        guard connection.isAutocommit else { return }
        let start = monotonicNanoseconds()
        clearIfStale(now: start)
        while true {
            let (waiter, until) = mark()
            guard waiter != 0, waiter != token else {
                sawOthers = false
                return
            }
            let now = monotonicNanoseconds()
            guard now < until else {
                // Expired: its writer got the lock, gave up or died. Taken down, so that the
                // next write pays one look again, not this path.
                clear(ifWaiter: waiter)
                sawOthers = false
                return
            }
            guard now &- start < Self.longestStandAside else { return }
            usleep(100)
        }
    }

    /// After a write that waited: takes this writer's mark down (unless another has marked
    /// since), so that the writer it stood in front of need not wait for the mark to expire.
    @inline(__always)
    func doneWaiting() {
        guard waited else { return }
        waited = false
        clear(ifWaiter: token)
    }
}

private let writerTurnsBusy: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    guard let context else { return 0 }
    return Unmanaged<WriterTurns>.fromOpaque(context).takeUnretainedValue().busy(count)
}
