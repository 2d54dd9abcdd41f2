import Dispatch
package import Orion
import Synchronization

/// Helpers for the lanes' tests of every adapter (not part of the conformance suite's API).

/// A counter tasks and threads share.
package final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    package init() {}
    package func add() { value.add(1, ordering: .sequentiallyConsistent) }
    package var count: Int { value.load(ordering: .sequentiallyConsistent) }
}

/// Waits (suspended, polling every millisecond) until `condition` holds, at most `seconds`;
/// whether it did.
package func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// A write body holding a store's write lane (its thread, and with it the lane) until
/// ``release()``, then running `then`.
package struct HeldWriteLane: Sendable {
    private let goOn: DispatchSemaphore
    /// The write, answered once the body returns.
    package let task: Task<Void, any Error>

    /// Starts the write and returns once its body runs.
    package init(_ store: any Store, then: @escaping @Sendable () throws -> Void = {}) async {
        let inside = DispatchSemaphore(value: 0)
        let goOn = DispatchSemaphore(value: 0)
        self.goOn = goOn
        task = Task {
            try await store.write {
                inside.signal()
                goOn.wait()
                try then()
            }
        }
        // Waited for off the cooperative pool: the body blocks a thread of the store's.
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                inside.wait()
                continuation.resume()
            }
        }
    }

    /// Lets the body finish.
    package func release() { goOn.signal() }
}
