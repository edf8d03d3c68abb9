import Foundation
import GGUF
import Tensors
import XCTest

/// This thread's CPU time: on a shared machine wall time mostly measures the other tenants.
func threadNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Single-thread matrix-vector throughput of `dot` per format, in GB/s of weight bytes read.
/// Timed in thread CPU time. Runs only with SWIFTFILE_BENCH=1, and means something only in release:
///   SWIFTFILE_BENCH=1 swift test -c release --filter DotBenchmark
/// The matrix (4096 × 2048 elements; 4.7-34 MB) exceeds the caches, like decode's weights.
final class DotBenchmark: XCTestCase {
    func testDotThroughput() throws {
        guard ProcessInfo.processInfo.environment["SWIFTFILE_BENCH"] == "1" else {
            throw XCTSkip("set SWIFTFILE_BENCH=1 (and build with -c release) to run")
        }
        let rows = 4096, columns = 2048
        var generator = SeededGenerator(seed: 1)
        print("format   MB    fast GB/s   reference GB/s   (kernels: \(CPUFeatures.current.hasAVX2 ? "AVX2" : "scalar"))")
        for type in Fixtures.weightTypes {
            let row = RandomBlocks.weights(type, count: columns, using: &generator)
            // Rows differ only by a rotation of bytes between blocks would break scale fields, so
            // repeat one random row: the bytes still stream from memory.
            let matrix = [UInt8]((0..<rows).lazy.flatMap { _ in row })
            let activations = BlockFormat.quantized(BlockFormat.activationType(for: type),
                                                    RandomBlocks.activations(count: columns, using: &generator))
            let rowBytes = row.count
            func run(reference: Bool) -> Double {
                var best = Double.infinity
                var sink: Float = 0
                for _ in 0..<(reference ? 2 : 7) {
                    let start = threadNanoseconds()
                    matrix.withUnsafeBytes { m in
                        activations.withUnsafeBytes { a in
                            for r in 0..<rows {
                                let w = m.baseAddress! + r * rowBytes
                                sink += reference
                                    ? BlockFormat.referenceDot(type, w, a.baseAddress!, count: columns)
                                    : BlockFormat.dot(type, w, a.baseAddress!, count: columns)
                            }
                        }
                    }
                    best = min(best, Double(threadNanoseconds() - start))
                }
                XCTAssertFalse(sink.isNaN)
                return Double(matrix.count) / best  // bytes per ns = GB/s
            }
            let fast = run(reference: false), reference = run(reference: true)
            print(type.name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: " %5.1f   %8.2f   %10.2f",
                         Double(matrix.count) / 1e6, fast, reference))
        }
    }

    /// One matrix's raw rows from a file (GGUF tensor bytes, e.g. dumped with the gguf package) through the
    /// matrix × vector route, best of 9 in thread CPU time: the same bytes a ggml harness can time with its
    /// vec_dot, so a kernel is compared with llama.cpp's alone, without the rest of a forward pass.
    ///   SWIFTFILE_BENCH=1 SWIFTFILE_BENCH_FILE=rows.bin SWIFTFILE_BENCH_TYPE=22 SWIFTFILE_BENCH_COLUMNS=2048
    /// (the type is GGML's number).
    func testDotThroughputOnFile() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["SWIFTFILE_BENCH"] == "1", let path = environment["SWIFTFILE_BENCH_FILE"],
              let raw = environment["SWIFTFILE_BENCH_TYPE"].flatMap(UInt32.init), let type = TensorType(rawValue: raw),
              let columns = environment["SWIFTFILE_BENCH_COLUMNS"].flatMap(Int.init), let rowBytes = type.byteCount(elements: columns) else {
            throw XCTSkip("set SWIFTFILE_BENCH=1, SWIFTFILE_BENCH_FILE, SWIFTFILE_BENCH_TYPE and SWIFTFILE_BENCH_COLUMNS to run")
        }
        let matrix = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let rows = matrix.count / rowBytes
        var generator = SeededGenerator(seed: 1)
        let activations = BlockFormat.quantized(BlockFormat.activationType(for: type), RandomBlocks.activations(count: columns, using: &generator))
        var results = [Float](repeating: 0, count: rows)
        var best = Double.infinity
        for _ in 0..<9 {
            let start = threadNanoseconds()
            matrix.withUnsafeBytes { m in
                activations.withUnsafeBytes { a in
                    BlockFormat.dot(type, rows: rows, m.baseAddress!, rowStride: rowBytes, a.baseAddress!, count: columns,
                                    results: &results, resultStride: 1)
                }
            }
            best = min(best, Double(threadNanoseconds() - start))
        }
        XCTAssertFalse(results.contains { $0.isNaN })
        print(String(format: "%@ rows %d: %.1f ns/row, %.2f GB/s", type.name, rows, best / Double(rows), Double(matrix.count) / best))
        // The interleaved copy's route, where the format has one (the matrix × vector of decode).
        guard InterleavedWeights.supports(type, rows: rows, columns: columns) else { return }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.byteCount(type, rows: rows, columns: columns), alignment: 64)
        let prepared = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.preparedBytes(tokens: 1, columns: columns), alignment: 64)
        defer { copy.deallocate(); prepared.deallocate() }
        matrix.withUnsafeBytes { InterleavedWeights.interleave(type, $0.baseAddress!, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: copy) }
        var interleavedResults = [Float](repeating: 0, count: rows)
        best = .infinity
        for _ in 0..<9 {
            let start = threadNanoseconds()
            activations.withUnsafeBytes { a in
                InterleavedWeights.prepare(type, activations: a.baseAddress!, activationStride: a.count, tokens: 1, columns: columns, prepared: prepared)
                InterleavedWeights.multiply(type, copy, columns: columns, panels: 0..<(rows / 8), activations: a.baseAddress!,
                                            activationStride: a.count, prepared: prepared, tokens: 1, results: &interleavedResults, resultStride: rows)
            }
            best = min(best, Double(threadNanoseconds() - start))
        }
        let worst = zip(results, interleavedResults).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4)
        print(String(format: "%@ interleaved: %.1f ns/row, %.2f GB/s", type.name, best / Double(rows), Double(matrix.count) / best))
    }

    /// Prefill shape: 1024 rows × 2048 columns against 32 tokens, per-token `dot` in a loop versus
    /// the four-token `dot(…tokens:…)`. Reported as weight rows·tokens per microsecond.
    func testBatchDotThroughput() throws {
        guard ProcessInfo.processInfo.environment["SWIFTFILE_BENCH"] == "1" else {
            throw XCTSkip("set SWIFTFILE_BENCH=1 (and build with -c release) to run")
        }
        let rows = 1024, columns = 2048, tokens = 32
        var generator = SeededGenerator(seed: 2)
        print("format   per-token dot   4-token dot   (row·token products per µs)")
        for type in [TensorType.f16, .q4_0, .q4_1, .q8_0, .q4_K, .q6_K] {
            let row = RandomBlocks.weights(type, count: columns, using: &generator)
            let matrix = [UInt8]((0..<rows).lazy.flatMap { _ in row })
            let activationType = BlockFormat.activationType(for: type)
            let stride = activationType.byteCount(elements: columns)!
            var activations = [UInt8]()
            for _ in 0..<tokens {
                activations += BlockFormat.quantized(activationType, RandomBlocks.activations(count: columns, using: &generator))
            }
            var output = [Float](repeating: 0, count: rows * tokens)
            func time(batched: Bool) -> Double {
                do {
                    let start = threadNanoseconds()
                    matrix.withUnsafeBytes { m in
                        activations.withUnsafeBytes { a in
                            output.withUnsafeMutableBufferPointer { y in
                                for r in 0..<rows {
                                    let w = m.baseAddress! + r * row.count
                                    if batched {
                                        BlockFormat.dot(type, w, a.baseAddress!, activationStride: stride, tokens: tokens,
                                                        count: columns, results: y.baseAddress! + r, resultStride: rows)
                                    } else {
                                        for t in 0..<tokens {
                                            y[t * rows + r] = BlockFormat.dot(type, w, a.baseAddress! + t * stride, count: columns)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return Double(threadNanoseconds() - start)
                }
            }
            // Interleaved repetitions, medians: the machine is shared and noisy.
            var singles = [Double](), batches = [Double]()
            for _ in 0..<7 {
                singles.append(time(batched: false))
                batches.append(time(batched: true))
            }
            let median = { (times: [Double]) in Double(rows * tokens) / (times.sorted()[times.count / 2] / 1000) }
            let single = median(singles), batched = median(batches)
            print(type.name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "  %10.1f   %10.1f   (%.2f×)", single, batched, batched / single))
        }
    }

    /// Decode shape (cache-resident): 256 × 2048 matrix × one vector, `dot` per row versus the four-row `dot(…rows:…)`.
    func testRowBatchDotThroughput() throws {
        guard ProcessInfo.processInfo.environment["SWIFTFILE_BENCH"] == "1" else {
            throw XCTSkip("set SWIFTFILE_BENCH=1 (and build with -c release) to run")
        }
        // 256 rows (0.3-1.1 MB) stay in L2: this compares the kernels' compute, not memory.
        let rows = 256, columns = 2048
        var generator = SeededGenerator(seed: 3)
        print("format   per-row dot GB/s   4-row dot GB/s")
        for type in [TensorType.q4_0, .q8_0, .q4_K] {
            let row = RandomBlocks.weights(type, count: columns, using: &generator)
            let matrix = [UInt8]((0..<rows).lazy.flatMap { _ in row })
            let activations = BlockFormat.quantized(BlockFormat.activationType(for: type),
                                                    RandomBlocks.activations(count: columns, using: &generator))
            var output = [Float](repeating: 0, count: rows)
            func time(batched: Bool) -> Double {
                let start = threadNanoseconds()
                matrix.withUnsafeBytes { m in
                    activations.withUnsafeBytes { a in
                        output.withUnsafeMutableBufferPointer { y in
                            if batched {
                                BlockFormat.dot(type, rows: rows, m.baseAddress!, rowStride: row.count, a.baseAddress!,
                                                count: columns, results: y.baseAddress!, resultStride: 1)
                            } else {
                                for r in 0..<rows {
                                    y[r] = BlockFormat.dot(type, m.baseAddress! + r * row.count, a.baseAddress!, count: columns)
                                }
                            }
                        }
                    }
                }
                return Double(threadNanoseconds() - start)
            }
            var singles = [Double](), batches = [Double]()
            for _ in 0..<41 {
                singles.append(time(batched: false))
                batches.append(time(batched: true))
            }
            let median = { (times: [Double]) in Double(matrix.count) / times.sorted()[times.count / 2] }
            print(type.name.padding(toLength: 7, withPad: " ", startingAt: 0)
                + String(format: "  %10.2f   %10.2f   (%.2f×)", median(singles), median(batches), median(batches) / median(singles)))
        }
    }
}
