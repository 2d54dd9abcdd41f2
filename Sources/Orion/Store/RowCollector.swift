#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Gathers a result's rows as they are decoded, then hands them over as one array.
///
/// A result's size is known only at its end. Small results grow one buffer by doubling. Past
/// ``spillBytes``, rows go into chunks mapped from the kernel, and each chunk is unmapped as soon
/// as its rows have moved into the final array, so at the end the rows exist once, plus a chunk:
/// a doubling buffer copied into the array held them twice (a 1,000,000-row query peaked at
/// 2.01× the array's size).
///
/// Generic code over the caller's type runs unspecialized here, where every `Array.append`
/// would look up `Array<T>`'s metadata: rows are decoded straight into raw memory
/// (``slot()``, then ``filled()``) and become an Array once.
struct RowCollector<T> {
    /// Where rows spill from the doubling buffer into mapped chunks.
    static var spillBytes: Int { 1 << 20 }
    /// The size of a mapped chunk.
    static var chunkBytes: Int { 1 << 20 }

    /// The doubling buffer, and its rows.
    private var head: UnsafeMutablePointer<T>
    private var headCount = 0
    /// Mapped chunks, each full but the last.
    private var chunks: [UnsafeMutableRawPointer] = []
    /// The buffer rows go into now (the head, or the last chunk), its rows and its capacity.
    private var active: UnsafeMutablePointer<T>
    private var activeCount = 0
    private var activeCapacity = 16
    private let chunkCapacity: Int
    private let mappedBytes: Int

    init() {
        head = .allocate(capacity: activeCapacity)
        active = head
        let stride = max(1, MemoryLayout<T>.stride)
        chunkCapacity = max(1, Self.chunkBytes / stride)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        mappedBytes = (chunkCapacity * stride + page - 1) / page * page
    }

    var count: Int {
        chunks.isEmpty ? activeCount : headCount + (chunks.count - 1) * chunkCapacity + activeCount
    }

    /// Where the next row goes: initialize it, then call ``filled()``.
    @inline(__always)
    mutating func slot() -> UnsafeMutablePointer<T> {
        if activeCount < activeCapacity { return active + activeCount }
        return grow()
    }

    @inline(__always)
    mutating func filled() {
        activeCount += 1
    }

    private mutating func grow() -> UnsafeMutablePointer<T> {
        if chunks.isEmpty && activeCapacity * MemoryLayout<T>.stride < Self.spillBytes {
            let grown = UnsafeMutablePointer<T>.allocate(capacity: activeCapacity * 2)
            grown.moveInitialize(from: head, count: activeCount)
            head.deallocate()
            head = grown
            active = grown
            activeCapacity *= 2
            return active + activeCount
        }
        if chunks.isEmpty { headCount = activeCount }
        guard let chunk = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), chunk != MAP_FAILED else {
            fatalError("out of memory: cannot map \(mappedBytes) bytes for a query's rows")
        }
        chunks.append(chunk)
        active = chunk.bindMemory(to: T.self, capacity: chunkCapacity)
        activeCount = 0
        activeCapacity = chunkCapacity
        return active
    }

    /// The rows in order, each buffer with its row count.
    private func buffers() -> [(UnsafeMutablePointer<T>, Int)] {
        if chunks.isEmpty { return [(head, activeCount)] }
        var all = [(head, headCount)]
        for (i, chunk) in chunks.enumerated() {
            all.append((chunk.assumingMemoryBound(to: T.self), i == chunks.count - 1 ? activeCount : chunkCapacity))
        }
        return all
    }

    /// Moves the rows into one array, unmapping each chunk once its rows are moved, and frees
    /// the collector's memory.
    mutating func array() -> [T] {
        let total = count
        if chunks.isEmpty {
            let rows = [T](unsafeUninitializedCapacity: total) { target, initialized in
                target.baseAddress!.moveInitialize(from: head, count: total)
                initialized = total
            }
            head.deallocate()
            return rows
        }
        let buffers = buffers()
        let rows = [T](unsafeUninitializedCapacity: total) { target, initialized in
            var next = target.baseAddress!
            for (buffer, n) in buffers {
                next.moveInitialize(from: buffer, count: n)
                next += n
                if buffer != head { munmap(UnsafeMutableRawPointer(buffer), mappedBytes) }
            }
            initialized = total
        }
        head.deallocate()
        chunks.removeAll()
        return rows
    }

    /// Destroys the rows gathered so far and frees the collector's memory (a result that failed
    /// midway).
    mutating func release() {
        for (buffer, n) in buffers() {
            buffer.deinitialize(count: n)
            if buffer != head { munmap(UnsafeMutableRawPointer(buffer), mappedBytes) }
        }
        head.deallocate()
        chunks.removeAll()
    }
}
