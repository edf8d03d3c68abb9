import Synchronization
import Tensors
import XCTest

/// The pool's static and dynamic splits cover every index exactly once, for counts below, at and above the
/// grain and thread count, and pass thread indices below `activeThreads`.
final class ThreadPoolTests: XCTestCase {
    final class Marks: @unchecked Sendable {
        var hits: [Int]
        var threads: [Int]
        let lock = Mutex(())
        init(_ n: Int) { hits = Array(repeating: 0, count: n); threads = Array(repeating: -1, count: n) }
    }

    func testEveryIndexOnceStaticAndDynamic() {
        let pool = ThreadPool(threads: 3)
        for count in [0, 1, 2, 3, 7, 64, 1001] {
            for grain in [nil, 1, 5, 64, 5000] as [Int?] {
                let marks = Marks(count)
                let body: (Range<Int>, Int) -> Void = { range, thread in
                    marks.lock.withLock { _ in
                        for i in range { marks.hits[i] += 1; marks.threads[i] = thread }
                    }
                }
                if let grain { pool.parallelFor(count, grain: grain, body) } else { pool.parallelFor(count, body) }
                XCTAssertEqual(marks.hits, Array(repeating: 1, count: count), "count \(count) grain \(String(describing: grain))")
                XCTAssertTrue(marks.threads.allSatisfy { $0 >= 0 && $0 < pool.activeThreads })
            }
        }
        XCTAssertEqual(pool.grain(1000, chunksPerThread: 8), 1000 / (pool.activeThreads * 8))
        XCTAssertEqual(pool.grain(3), 1)
    }
}
