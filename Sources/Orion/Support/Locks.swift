import Synchronization

#if canImport(Glibc)
    package import Glibc
#elseif canImport(Musl)
    package import Musl
#elseif canImport(Darwin)
    package import Darwin
#endif

/// A monotonic clock in nanoseconds (`CLOCK_MONOTONIC`), for deadlines kept as plain integers.
@inline(__always)
package func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// The calling thread's identity, as a number.
@inline(__always)
package func currentThreadID() -> UInt {
    #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
    #else
        UInt(pthread_self())
    #endif
}

/// Who is calling, for read-your-writes: the current task on the current thread, or the thread
/// when no task runs.
///
/// A task keeps its key until it suspends (it may resume on another thread), which is what the
/// contract promises; two tasks taking turns on one thread have different keys. The thread part
/// is a token no other thread ever gets (thread ids are reused once a thread exits), so only a
/// new task that reuses a finished task's memory on the same thread while the same batch is open
/// could be taken for it.
@inline(__always)
func currentCallerKey() -> UInt {
    let thread = currentThreadToken()
    guard let task = withUnsafeCurrentTask(body: { $0.map { UInt(bitPattern: $0.hashValue) } }) else { return thread }
    return task ^ (thread &* 0x9E37_79B9_7F4A_7C15)
}

/// A number for the calling thread that no other thread of the process ever gets.
@inline(__always)
func currentThreadToken() -> UInt {
    if let value = pthread_getspecific(threadTokenKey) { return UInt(bitPattern: value) }
    let token = nextThreadToken.add(1, ordering: .relaxed).newValue
    pthread_setspecific(threadTokenKey, UnsafeRawPointer(bitPattern: token))
    return token
}

private let threadTokenKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

private let nextThreadToken = Atomic<UInt>(0)

/// A mutex that knows which thread holds it, so the holder can re-enter code that would
/// otherwise lock again (a `tx` body calling the store).
///
/// `@unchecked Sendable`: the pthread mutex is only touched through lock/unlock, and `owner` is
/// an atomic that only the holding thread sets to its own id (so no other thread can mistake
/// itself for the holder, whatever stale value it reads).
final class OwnedLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let owner = Atomic<UInt>(0)

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    var isHeldByCurrentThread: Bool {
        owner.load(ordering: .relaxed) == currentThreadID()
    }

    func lock() {
        pthread_mutex_lock(mutex)
        owner.store(currentThreadID(), ordering: .relaxed)
    }

    func unlock() {
        owner.store(0, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
    }

    /// Takes the lock if it is free now; whether it did.
    @inline(__always)
    func tryLock() -> Bool {
        guard pthread_mutex_trylock(mutex) == 0 else { return false }
        owner.store(currentThreadID(), ordering: .relaxed)
        return true
    }

    /// Takes the lock if it is free before `deadline` (monotonic nanoseconds); whether it did.
    func lock(until deadline: UInt64) -> Bool {
        if tryLock() { return true }
        #if canImport(Darwin)
            // No timed lock on Darwin: try every 200 µs.
            while monotonicNanoseconds() < deadline {
                usleep(200)
                if pthread_mutex_trylock(mutex) == 0 {
                    owner.store(currentThreadID(), ordering: .relaxed)
                    return true
                }
            }
            return false
        #else
            // pthread_mutex_timedlock takes a CLOCK_REALTIME time: the same distance from now.
            let now = monotonicNanoseconds()
            guard deadline > now else { return false }
            var until = timespec()
            clock_gettime(CLOCK_REALTIME, &until)
            let total = UInt64(until.tv_nsec) + (deadline - now)
            until.tv_sec += Int(total / 1_000_000_000)
            until.tv_nsec = Int(total % 1_000_000_000)
            guard pthread_mutex_timedlock(mutex, &until) == 0 else { return false }
            owner.store(currentThreadID(), ordering: .relaxed)
            return true
        #endif
    }

    /// Takes the lock if it is free within `attempts` tries a millisecond apart.
    func lock(attempts: Int) -> Bool {
        for attempt in 0..<attempts {
            if pthread_mutex_trylock(mutex) == 0 {
                owner.store(currentThreadID(), ordering: .relaxed)
                return true
            }
            if attempt + 1 < attempts { usleep(1000) }
        }
        return false
    }
}

/// A mutex with a condition variable, for the reader pool's waiting.
///
/// `@unchecked Sendable`: the pthread objects are only used through these methods, and state
/// guarded by it is only touched inside `withLock`.
package final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a signal; call only inside `withLock`.
    package func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Waits for a signal until `deadline` (a `CLOCK_REALTIME` time, as `pthread_cond_timedwait`
    /// takes it); returns false when the deadline passed. Call only inside `withLock`.
    package func wait(until deadline: timespec) -> Bool {
        var deadline = deadline
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }

    package func signal() {
        pthread_cond_signal(condition)
    }

    package func broadcast() {
        pthread_cond_broadcast(condition)
    }
}

/// A value behind a `pthread_mutex_t`: what the package uses wherever state is shared between
/// threads.
///
/// Not `Synchronization.Mutex`: on this toolchain ThreadSanitizer cannot see `Mutex`'s lock, so
/// every access it guards is reported as a race, and a suppression broad enough to silence that
/// would hide real races too. ThreadSanitizer intercepts `pthread_mutex_lock`, so accesses
/// under this lock are checked for what they are. Uncontended, it costs a function call more
/// than `Mutex` (measured in BENCHMARKS.md).
///
/// `@unchecked Sendable`: `value` is read and written only inside `withLock`, under the mutex.
package final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Unchecked: the mutex already makes each access exclusive, so the runtime's dynamic
    /// exclusivity check (a call on every `withLock`) would only cost time.
    @exclusivity(unchecked) private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, under the lock. `body` must not take this lock again.
    @inline(__always)
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
