/// Runs bodies one at a time across tasks, without blocking a thread while they wait: for the
/// test suites that must not overlap (soaks that measure, examples that change the process's
/// current directory). Not part of the conformance suite's API.
package actor OneAtATime {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init() {}

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }

    /// Runs `body` once no other body of this gate runs.
    package nonisolated func alone<T>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}
