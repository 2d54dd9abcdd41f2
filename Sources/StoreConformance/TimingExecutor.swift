import Dispatch

/// A task executor with a thread of its own (a serial dispatch queue, which always gets one):
/// for tests that time how soon the store answers, so that a cooperative pool kept busy by
/// other suites running beside them does not delay the task that measures. Not part of the
/// conformance suite's API.
///
/// `@unchecked Sendable`: the queue is thread-safe; the executor holds nothing else.
package final class TimingExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "orion.tests.timing")

    package static let shared = TimingExecutor()

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Runs `body` with its tasks (and their children) on this executor's thread.
    package static func measuring<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        try await withTaskExecutorPreference(shared) { try await body() }
    }
}
