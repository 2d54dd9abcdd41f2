import Foundation
import StoreConformance
import Synchronization
import Testing

@testable import Orion

/// A fresh temporary folder per test, removed when the test's scope ends.
final class TempDir: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("orion-tests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String = "test.db") -> String {
        url.appendingPathComponent(name).path
    }
}

/// Runs `body` on `count` real threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let errors = Locked<[any Error]>([])
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            do { try body(i) } catch { errors.withLock { $0.append(error) } }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    if let first = errors.withLock({ $0.first }) { throw first }
}

/// A `tx` held open on another thread: `body` runs inside it, then the transaction waits for
/// `release()` (or `after`, when given) before it commits.
final class HeldTransaction: @unchecked Sendable {
    // `@unchecked Sendable`: only semaphores, which are thread-safe.
    private let inside = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(_ store: some Store, after: Duration? = nil, _ body: @escaping @Sendable () throws -> Void) {
        Thread { [inside, released, done] in
            try? store.tx {
                try body()
                inside.signal()
                if let after {
                    usleep(UInt32(after.components.seconds * 1_000_000 + after.components.attoseconds / 1_000_000_000_000))
                } else {
                    released.wait()
                }
            }
            done.signal()
        }.start()
        inside.wait()
    }

    func release() { released.signal() }

    /// Waits until the transaction has committed (or rolled back).
    func finish() { done.wait() }
}

/// Expects `body` to throw a ``StoreError`` with `code`, and returns it.
@discardableResult
func expectStoreError(
    _ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> StoreError? {
    do {
        try body()
        Issue.record("expected a StoreError with code \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == code, "got \(error.code): \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The path of an executable built next to the test binary.
///
/// `swift test` builds the test targets and what they import, not every executable product:
/// in a build folder of its own (`--scratch-path`, a sanitizer's), the helper is built first —
/// `scripts/test` and `scripts/sanitize` do — or the test that needs it stops here, saying so.
func builtExecutable(_ name: String) -> String {
    let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    var dir = me.deletingLastPathComponent()
    // On Linux the test binary sits in .build/<config>/; on macOS inside an .xctest bundle.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    let path = dir.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        let folder = me.deletingLastPathComponent().path
        Issue.record(
            "\(name) is not built next to the tests (\(folder)): build it with the same build folder first, `swift build --product \(name)` with the same --scratch-path and --sanitize (scripts/test and scripts/sanitize do)")
        return "/bin/false"
    }
    return path
}

struct Todo: Codable, Sendable, Equatable {
    let id: Int
    let title: String
    let done: Bool
}

enum Todos {
    static let migrations = [
        "create table todos (id integer primary key, title text not null, done integer not null default 0)"
    ]

    static func all(_ store: some Store) throws -> [Todo] {
        try store.query("select id, title, done from todos order by id")
    }

    @discardableResult
    static func insert(_ store: some Store, _ title: String) throws -> ExecResult {
        try store.exec("insert into todos (title) values (?)", title)
    }
}

/// A file store with the todos feature migrated.
func todoStore(_ dir: TempDir, writeQueue: WriteQueue? = nil) throws -> SQLiteStore {
    let store = try SQLiteStore(path: dir.path(), writeQueue: writeQueue)
    try store.migrate("todos", Todos.migrations)
    return store
}

/// Suites that load the whole machine (child processes, soaks that measure) run one at a time,
/// so that a suite measuring the WAL under load is not measuring another suite's processes too.
/// Other suites still run beside them.
enum MachineLoad {
    static let gate = OneAtATime()

    /// Runs `body` while no other heavy suite runs.
    static func alone<T>(_ body: () throws -> T) async throws -> T {
        try await gate.alone { try body() }
    }
}
