import Foundation
import GGUF
import Tensors
import XCTest

/// Single-thread matrix-vector throughput of `dot` per format, in GB/s of weight bytes read.
/// Runs only with SWIFTFILE_BENCH=1, and means something only in release:
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
                    let start = DispatchTime.now().uptimeNanoseconds
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
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
                }
                XCTAssertFalse(sink.isNaN)
                return Double(matrix.count) / best  // bytes per ns = GB/s
            }
            let fast = run(reference: false), reference = run(reference: true)
            print(type.name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: " %5.1f   %8.2f   %10.2f",
                         Double(matrix.count) / 1e6, fast, reference))
        }
    }
}
