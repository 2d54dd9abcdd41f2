internal import CSQLite
import Foundation
import Synchronization

/// How a store keeps its write-ahead log (the `-wal` file) from growing.
///
/// SQLite's own automatic checkpoint (PASSIVE, after a commit leaves 1000 pages in the WAL)
/// copies pages back into the database but never waits for readers. The WAL starts over from
/// its beginning only once every page is copied and no reader still reads an older snapshot:
/// under a steady stream of overlapping readers and writers that moment never comes, and the
/// file grows without bound (GRDB#1251 and others). See <doc:OperatingAStore>.
public enum Checkpointing: Sendable, Hashable {
    /// The store keeps the WAL under `walLimit` bytes: a PASSIVE checkpoint after commits that
    /// leave 1000 pages or more (as SQLite does), and once the WAL holds a quarter of
    /// `walLimit`, a TRUNCATE checkpoint that waits at most ``SQLiteStore/truncateWait`` for the
    /// reads in progress to finish (the store's writes wait with it) and starts the WAL over.
    /// When those reads take longer it gives up, and tries again after a later commit: 25 ms
    /// later at the soonest, twice as long after each attempt that gives up (up to 1 s), and
    /// never sooner than four times what the attempt made the writer wait. Once the WAL holds
    /// half of `walLimit`, an attempt may wait five times as long (the first 100 ms after the
    /// last such attempt, then doubling). So the WAL stays under the limit while no read takes
    /// longer than that; a read that does (a long report, or a tool that holds a read
    /// transaction open) keeps the WAL from starting over until it ends, and costs the writer at
    /// most a fifth of its time meanwhile. On a machine so slow that reads outlast that wait
    /// (under a sanitizer, 5 to 15 times slower; a heavily loaded one), the WAL starts over only
    /// in the gaps between reads and can pass the limit: by 7 % in the tests' load under
    /// ThreadSanitizer, and they allow half the limit more. The store's own backups never make it wait: while one
    /// runs, only PASSIVE checkpoints do. Checkpoints run after a commit's `durable()` waiters are
    /// answered, before the store's next write. `journal_size_limit` is `walLimit`. The default
    /// limit is 64 MiB.
    case bounded(walLimit: Int = 64 << 20)
    /// SQLite's automatic PASSIVE checkpoints only: what a plain connection does.
    case sqliteDefault
    /// No checkpoints from this store (`wal_autocheckpoint = 0`): another program runs them,
    /// such as Litestream, which replicates the WAL and checkpoints itself.
    case external
}

/// The checkpoint figures of a store (see ``SQLiteStore/health()``).
public struct CheckpointFigures: Sendable, Hashable, Codable {
    /// PASSIVE checkpoints the store ran.
    public var passive = 0
    /// TRUNCATE checkpoints that started the WAL over.
    public var truncated = 0
    /// TRUNCATE checkpoints that found reads still in progress when their wait ran out, and gave up.
    public var busy = 0
    /// Checkpoints that failed with an error (an I/O error, say).
    public var failed = 0
    /// Pages in the WAL after the last checkpoint.
    public var lastLogPages = 0
    /// How many of them the last checkpoint had copied back into the database.
    public var lastCheckpointedPages = 0
    /// The longest a checkpoint took (the writer waited as long).
    public var longest: Duration = .zero
}

extension SQLiteStore {
    /// How long a TRUNCATE checkpoint waits for the reads in progress (the store's writes wait
    /// with it): 20 ms.
    public static let truncateWait: Duration = .milliseconds(20)
}

/// Runs a store's checkpoints on its writer connection. SQLite's WAL hook only notes how many
/// pages a commit left in the WAL; the checkpoint runs when the store is about to release its
/// writer lock (``runPending(on:)``): after the commit's `durable()` waiters were resumed, with no
/// statement active on the connection, and before another write of the store can start.
///
/// `@unchecked Sendable`: `figures` is behind its lock and `snapshots` is atomic; the rest is
/// set once, or touched only by the WAL hook and `runPending`, both under the store's writer lock.
final class Checkpointer: @unchecked Sendable {
    let policy: Checkpointing
    private let figures = Locked(CheckpointFigures())
    /// Read transactions the store holds for its own backups: no TRUNCATE waits for them.
    let snapshots = Atomic<Int>(0)
    private var passiveFrames: Int32 = 1000
    private var truncateFrames: Int32 = .max
    private var urgentFrames: Int32 = .max
    /// Pages the last commit left in the WAL, until a checkpoint runs.
    private var pendingFrames: Int32 = 0
    private var nextAttempt: UInt64 = 0
    private var nextUrgentAttempt: UInt64 = 0
    /// Nanoseconds to wait after the next attempt that gives up; each doubles up to 1 s.
    private var backoff: UInt64 = Checkpointer.firstBackoff
    private var urgentBackoff: UInt64 = Checkpointer.firstUrgentBackoff
    private static let firstBackoff: UInt64 = 25_000_000
    private static let firstUrgentBackoff: UInt64 = 100_000_000
    private static let longestBackoff: UInt64 = 1_000_000_000

    init(policy: Checkpointing) {
        self.policy = policy
    }

    var current: CheckpointFigures { figures.withLock { $0 } }

    /// Applies the policy to the writer connection.
    func install(on connection: SQLiteConnection) throws {
        switch policy {
        case .sqliteDefault:
            break
        case .external:
            try connection.run("pragma wal_autocheckpoint = 0")
        case .bounded(let walLimit):
            precondition(walLimit >= 1 << 20, "Checkpointing.bounded(walLimit:) must be at least 1 MiB, got \(walLimit)")
            try connection.run("pragma journal_size_limit = \(walLimit)")
            let pageSize: Int = try connection.first("pragma page_size", [], access: .internal) ?? 4096
            // A frame is a page and its 24-byte header.
            let frames = max(4, walLimit / (pageSize + 24))
            truncateFrames = Int32(clamping: frames / 4)
            urgentFrames = Int32(clamping: frames / 2)
            passiveFrames = min(1000, truncateFrames)
            sqlite3_wal_hook(connection.handle, walHook, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// From SQLite's WAL hook, after a commit that left `frames` pages in the WAL.
    fileprivate func committed(frames: Int32) {
        pendingFrames = frames
    }

    /// Runs the checkpoint the last commit calls for, if any. The caller holds the writer lock.
    @inline(__always)
    func runPending(on connection: SQLiteConnection) {
        guard pendingFrames >= passiveFrames else { return }
        checkpoint(after: pendingFrames, on: connection)
    }

    private func checkpoint(after frames: Int32, on connection: SQLiteConnection) {
        // A write transaction opened since (the write queue's next batch): later.
        guard connection.isAutocommit else { return }
        pendingFrames = 0
        let handle = connection.handle
        let now = monotonicNanoseconds()
        let urgent = frames >= urgentFrames && now >= nextUrgentAttempt
        guard frames >= truncateFrames, snapshots.load(ordering: .relaxed) == 0, now >= nextAttempt || urgent else {
            _ = checkpoint(handle, mode: SQLITE_CHECKPOINT_PASSIVE)
            return
        }
        let wait = (urgent ? SQLiteStore.truncateWait * 5 : SQLiteStore.truncateWait).components
        sqlite3_busy_timeout(handle, Int32(wait.seconds * 1000 + wait.attoseconds / 1_000_000_000_000_000))
        let result = checkpoint(handle, mode: SQLITE_CHECKPOINT_TRUNCATE)
        connection.restoreBusyHandler()
        let after = monotonicNanoseconds()
        if result == SQLITE_BUSY || result == SQLITE_LOCKED {
            // Reads held on: wait at least four times as long as this attempt made the writer
            // wait, so that retries never take more than a fifth of the writer's time.
            let spent = (after - now) * 4
            nextAttempt = after + max(backoff, spent)
            backoff = min(backoff * 2, Self.longestBackoff)
            if urgent {
                nextUrgentAttempt = after + max(urgentBackoff, spent)
                urgentBackoff = min(urgentBackoff * 2, Self.longestBackoff)
            }
        } else {
            backoff = Self.firstBackoff
            urgentBackoff = Self.firstUrgentBackoff
        }
    }

    private func checkpoint(_ handle: OpaquePointer, mode: Int32) -> Int32 {
        var log: Int32 = 0
        var copied: Int32 = 0
        let started = ContinuousClock.now
        let rc = sqlite3_wal_checkpoint_v2(handle, "main", mode, &log, &copied)
        let took = ContinuousClock.now - started
        figures.withLock { figures in
            switch (rc, mode) {
            case (SQLITE_OK, SQLITE_CHECKPOINT_TRUNCATE): figures.truncated += 1
            case (SQLITE_OK, _): figures.passive += 1
            case (SQLITE_BUSY, _), (SQLITE_LOCKED, _): figures.busy += 1
            default: figures.failed += 1
            }
            if rc == SQLITE_OK || rc == SQLITE_BUSY {
                figures.lastLogPages = Int(max(0, log))
                figures.lastCheckpointedPages = Int(max(0, copied))
            }
            figures.longest = max(figures.longest, took)
        }
        return rc
    }
}

/// SQLite's WAL hook: called after each commit on the writer connection. Notes the WAL's size;
/// the checkpoint itself runs before the store releases the writer (see ``Checkpointer``).
private func walHook(context: UnsafeMutableRawPointer?, handle: OpaquePointer?, database: UnsafePointer<CChar>?, frames: Int32) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().committed(frames: frames)
    return SQLITE_OK
}
