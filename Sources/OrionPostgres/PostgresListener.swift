internal import CLibPQ
import Foundation
import Orion
import Synchronization

/// PostgreSQL's commits, as change notifications: one connection of its own that `LISTEN`s on
/// the channel every feature table's trigger notifies, and a thread that waits on its socket.
///
/// Each notification carries the committing transaction's id and a table; notifications of one
/// commit arrive together, so those with the same id become one ``Change``. The triggers fire
/// for every client of the database, so other processes' writes are seen too. When the
/// connection drops, the listener reconnects (waiting longer each time, up to a second) and then
/// tells every subscriber that commits may have been missed (one external ``Change``).
///
/// It runs only while anyone subscribes. `@unchecked Sendable`: the thread's state lives in
/// `state`'s mutex; the connection handle is touched only by the listening thread.
final class PostgresListener: @unchecked Sendable {
    /// The notification channel of every feature table's trigger.
    static let channel = "orion_changes"

    private let url: String
    /// Set once, right after the store makes its hub, before anyone can subscribe.
    weak var hub: ChangeHub?
    private struct State {
        var running = false
        /// Bumped to ask the running thread to stop; a thread stops when its generation is old.
        var generation = 0
        /// The write end of the pipe that wakes the thread from `poll`.
        var wake: Int32 = -1
        /// Whether the thread holds a live, listening connection.
        var connected = false
    }
    private let state = Locked(State())

    init(url: String) {
        self.url = url
    }

    /// Whether the listening thread runs and holds a live connection (not while it reconnects).
    var isListening: Bool { state.withLock { $0.running && $0.connected } }

    private func setConnected(_ connected: Bool, generation: Int) {
        state.withLock { state in
            if state.generation == generation { state.connected = connected }
        }
    }

    func setWanted(_ wanted: Bool) {
        if wanted { start() } else { stop() }
    }

    private func start() {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { return }
        let generation: Int? = state.withLock { state in
            guard !state.running else { return nil }
            state.running = true
            state.generation += 1
            state.wake = pipeEnds[1]
            return state.generation
        }
        guard let generation else {
            close(pipeEnds[0])
            close(pipeEnds[1])
            return
        }
        let wakeRead = pipeEnds[0]
        // Connected and listening before the first subscription returns, so that it is live.
        let first = Handle(connect())
        setConnected(first.connection != nil, generation: generation)
        let thread = Thread { [self] in
            listen(generation: generation, wakeRead: wakeRead, first: first.connection)
            close(wakeRead)
        }
        thread.name = "orion-postgres-listener"
        thread.start()
    }

    func stop() {
        let wake: Int32 = state.withLock { state in
            guard state.running else { return -1 }
            state.running = false
            state.generation += 1
            defer { state.wake = -1 }
            return state.wake
        }
        guard wake >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wake, &byte, 1)
        close(wake)
    }

    private func isCurrent(_ generation: Int) -> Bool {
        state.withLock { $0.generation == generation }
    }

    /// The listening thread: connects, waits on the socket, hands commits to the hub, reconnects.
    private func listen(generation: Int, wakeRead: Int32, first: OpaquePointer?) {
        var connection = first
        var backoff: Int32 = 10
        setConnected(connection != nil, generation: generation)
        defer {
            if let connection { disconnect(connection) }
            setConnected(false, generation: generation)
        }
        // Notifications libpq read along with LISTEN's answer wait in its buffer, not the socket.
        if let connection { deliver(from: connection) }
        while isCurrent(generation) {
            if connection == nil {
                connection = connect()
                guard connection != nil else {
                    if wait(on: -1, wake: wakeRead, milliseconds: backoff) == .woken { return }
                    backoff = min(backoff * 2, 1000)
                    continue
                }
                backoff = 10
                setConnected(true, generation: generation)
                // Any connection made here follows a time nobody listened: commits made then
                // were not heard, so say so to every subscriber.
                hub?.publishExternal(all: Self.tables(on: connection!))
                deliver(from: connection!)
            }
            guard let live = connection else { continue }
            switch wait(on: PQsocket(live), wake: wakeRead, milliseconds: Self.quietCheck) {
            case .woken:
                return
            case .timedOut:
                // A quiet socket may be a dead one (a network that dropped silently): ask.
                let ping = PQexec(live, "select 1")
                let alive = PQresultStatus(ping) == PGRES_TUPLES_OK
                PQclear(ping)
                if !alive {
                    PQfinish(live)
                    connection = nil
                    setConnected(false, generation: generation)
                } else {
                    deliver(from: live)
                }
                continue
            case .readable:
                guard PQconsumeInput(live) == 1, PQstatus(live) == CONNECTION_OK else {
                    PQfinish(live)
                    connection = nil
                    setConnected(false, generation: generation)
                    continue
                }
                deliver(from: live)
            }
        }
    }

    private func connect() -> OpaquePointer? {
        guard let connection = PQconnectdb(url) else { return nil }
        guard PQstatus(connection) == CONNECTION_OK else {
            PQfinish(connection)
            return nil
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // The triggers notify only while a listener is registered: this one, and no stale one
        // of a process that is gone.
        let result = PQexec(
            connection,
            """
            create table if not exists _orion_listening (pid integer primary key, since timestamptz not null default now());
            delete from _orion_listening where pid not in (select pid from pg_stat_activity);
            insert into _orion_listening (pid) values (pg_backend_pid()) on conflict do nothing;
            listen \(SQLText.quoteIdentifier(Self.channel))
            """)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            PQfinish(connection)
            return nil
        }
        return connection
    }

    /// Unregisters and closes `connection`.
    private func disconnect(_ connection: OpaquePointer) {
        if PQstatus(connection) == CONNECTION_OK {
            PQclear(PQexec(connection, "delete from _orion_listening where pid = pg_backend_pid()"))
        }
        PQfinish(connection)
    }

    /// How long the listener waits on a quiet socket before it checks the connection is alive.
    private static let quietCheck: Int32 = 15_000

    /// Hands the notifications read so far to the hub: one change per transaction.
    private func deliver(from connection: OpaquePointer) {
        var current: (xid: Substring, tables: Set<String>)?
        while let notify = PQnotifies(connection) {
            let payload = String(cString: notify.pointee.extra)
            PQfreemem(notify)
            guard let space = payload.firstIndex(of: " ") else { continue }
            let xid = payload[..<space]
            let table = String(payload[payload.index(after: space)...])
            if let open = current, open.xid == xid {
                current?.tables.insert(table)
            } else {
                if let done = current { hub?.publish(done.tables) }
                current = (xid, [table])
            }
        }
        if let done = current { hub?.publish(done.tables) }
    }

    /// A connection handed from the subscribing thread to the listening one, which owns it from
    /// then on.
    private final class Handle: @unchecked Sendable {
        let connection: OpaquePointer?
        init(_ connection: OpaquePointer?) { self.connection = connection }
    }

    private enum Waited { case readable, woken, timedOut }

    /// Waits until `socket` can be read, the wake pipe is written, or `milliseconds` pass
    /// (-1: no limit).
    private func wait(on socket: Int32, wake: Int32, milliseconds: Int32) -> Waited {
        var fds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        while true {
            let ready = poll(&fds, nfds_t(fds.count), milliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return .timedOut }
            if fds[0].revents != 0 { return .woken }
            return .readable
        }
    }

    /// Every feature table, for the change that follows a reconnect.
    private static func tables(on connection: OpaquePointer) -> Set<String> {
        let result = PQexec(connection, "select name from _orion_tables where type = 'table'")
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK else { return [] }
        return Set((0..<PQntuples(result)).map { String(cString: PQgetvalue(result, $0, 0)) })
    }
}
