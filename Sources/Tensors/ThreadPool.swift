#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A persistent pool: `threadCount - 1` worker threads plus the calling thread run each job together.
/// Workers spin briefly after a job (decode issues hundreds of small jobs per token, and a sleeping
/// thread takes tens of microseconds to wake), then sleep on a condition variable.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The next unclaimed index of a dynamic parallelFor (one job runs at a time).
    private let cursor = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var sleepers = 0  // guarded by mutex
    /// The current job; valid between publishing a generation and `pending` reaching zero.
    private var job: ((Int) -> Void)?
    private var threads: [pthread_t] = []

    /// Spin iterations before a worker sleeps, and before a spinning thread starts yielding its core.
    private static let spinLimit = 200_000
    private static let yieldAfter = 2_000

    public init(threads requested: Int) {
        threadCount = max(1, requested)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        for index in 1..<threadCount {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            if pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.pool?.workerLoop(index: context.index)
                return nil
            }, context) == 0 {
                threads.append(thread)
            }
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&condition)
    }

    private final class WorkerContext {
        weak var pool: ThreadPool?
        let index: Int
        init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
    }

    /// Number of threads that actually run jobs (workers that failed to start are not counted).
    public var activeThreads: Int { threads.count + 1 }

    /// Calls `body(threadIndex)` once on each of `activeThreads` threads (index 0 is the caller) and returns
    /// when all are done.
    public func run(_ body: (Int) -> Void) {
        let workers = threads.count
        if workers == 0 { body(0); return }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            pending.store(workers, ordering: .relaxed)
            pthread_mutex_lock(&mutex)
            generation.add(1, ordering: .releasing)
            if sleepers > 0 { pthread_cond_broadcast(&condition) }
            pthread_mutex_unlock(&mutex)
            escapable(0)
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                // On a busy machine the worker we wait for may need our core: stop hogging it.
                if spins > Self.yieldAfter { sched_yield() } else { spinPause() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into contiguous chunks, one per thread, and calls `body(range)` for each non-empty chunk.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        parallelFor(count) { range, _ in body(range) }
    }

    /// Like `parallelFor(_:_:)`, also passing the thread index (for per-thread scratch buffers).
    public func parallelFor(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
        let n = activeThreads
        if n == 1 || count < 2 { if count > 0 { body(0..<count, 0) }; return }
        run { index in
            let start = count * index / n
            let end = count * (index + 1) / n
            if start < end { body(start..<end, index) }
        }
    }

    /// Like `parallelFor(_:_:)`, but threads claim chunks of `grain` items as they finish the previous one,
    /// so a thread that the machine slows down (a busy neighbour on a shared host) leaves its work to the
    /// others instead of holding up the job. Which thread computes an item never changes its result.
    public func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>, Int) -> Void) {
        let n = activeThreads, grain = max(1, grain)
        if n == 1 || count <= grain { if count > 0 { body(0..<count, 0) }; return }
        cursor.store(0, ordering: .relaxed)
        run { index in
            while true {
                let start = cursor.add(grain, ordering: .relaxed).oldValue
                if start >= count { break }
                body(start..<min(count, start + grain), index)
            }
        }
    }

    /// A grain giving each thread about `chunksPerThread` chunks of `count` items.
    public func grain(_ count: Int, chunksPerThread: Int = 8) -> Int {
        max(1, count / (activeThreads * chunksPerThread))
    }

    private func workerLoop(index: Int) {
        // Start from generation 0, not from a fresh load: a thread that starts late (a loaded machine) must
        // still run the jobs posted before it first looked, or `run` would wait for it forever.
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < Self.spinLimit {
                    if spins > Self.yieldAfter { sched_yield() } else { spinPause() }
                } else {
                    pthread_mutex_lock(&mutex)
                    sleepers += 1
                    while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&condition, &mutex) }
                    sleepers -= 1
                    pthread_mutex_unlock(&mutex)
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }
}

@inline(__always) func spinPause() {
    #if arch(x86_64)
    // A plain loop is fine: the pause instruction is not exposed without intrinsics, and the loop body is tiny.
    #endif
}

/// Physical cores (the default thread count): distinct (physical id, core id) pairs in /proc/cpuinfo,
/// falling back to the online CPU count. Read once per process (callers ask per matrix at load).
public func physicalCoreCount() -> Int { cachedPhysicalCoreCount }

private let cachedPhysicalCoreCount = countPhysicalCores()

private func countPhysicalCores() -> Int {
    let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #if os(Linux)
    guard let file = fopen("/proc/cpuinfo", "r") else { return online }
    defer { fclose(file) }
    var pairs = Set<String>()
    var physical = ""
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    while getline(&line, &capacity, file) > 0 {
        guard let line else { break }
        let text = String(cString: line)
        if text.hasPrefix("physical id") { physical = text }
        if text.hasPrefix("core id") { pairs.insert(physical + text) }
    }
    free(line)
    return pairs.isEmpty ? online : min(online, pairs.count)
    #else
    return online
    #endif
}
