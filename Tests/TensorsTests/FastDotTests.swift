import GGUF
import Tensors
import XCTest

/// The dispatched (SIMD) `dot` against the scalar `referenceDot` on random rows. Integer parts are
/// exact in both, so the normalized MSE Σ(fast − reference)² / Σ reference² sits near float
/// rounding (~1e-14); we assert the project bounds (1e-7 float formats, 5e-4 quantized) and a
/// tighter 1e-9 for quantized formats to catch a mis-ordered scale or bit plane early.
final class FastDotTests: XCTestCase {
    func testFastDotMatchesReference() {
        var generator = SeededGenerator(seed: 42)
        print("SIMD kernels active: \(CPUFeatures.current.hasAVX2 ? "AVX2" : "none (scalar)")")
        for type in Fixtures.weightTypes {
            var errorSum: Double = 0, referenceSum: Double = 0
            for count in [256, 512, 2048] {
                for _ in 0..<8 {
                    let weights = RandomBlocks.weights(type, count: count, using: &generator)
                    let values = RandomBlocks.activations(count: count, using: &generator)
                    let activations = BlockFormat.quantized(BlockFormat.activationType(for: type), values)
                    let fast = BlockFormat.dot(type, weights, activations, count: count, reference: false)
                    let reference = BlockFormat.dot(type, weights, activations, count: count, reference: true)
                    errorSum += Double(fast - reference) * Double(fast - reference)
                    referenceSum += Double(reference) * Double(reference)
                }
            }
            let normalized = errorSum / max(referenceSum, 1e-30)
            print("\(type): normalized MSE fast vs reference \(normalized)")
            let isFloat = [TensorType.f32, .f16, .bf16].contains(type)
            XCTAssertLessThanOrEqual(normalized, isFloat ? 1e-7 : 1e-9, "\(type)")
            XCTAssertGreaterThan(referenceSum, 0, "\(type)")
        }
    }

    /// The matrix × vector route (a kernel per four rows or per any number of rows, where the format has one)
    /// against one `dot` per row, bit for bit: padded rows, an odd row count, results a stride apart.
    func testRowsRouteIsTheRowDot() {
        var generator = SeededGenerator(seed: 43)
        for type in Fixtures.weightTypes where type.blockSize > 1 {
            let count = 512, rows = 13, rowBytes = type.byteCount(elements: count)!, rowStride = rowBytes + 5
            var matrix = [UInt8](repeating: 0xEE, count: rows * rowStride)
            for r in 0..<rows {
                matrix.replaceSubrange((r * rowStride)..<(r * rowStride + rowBytes), with: RandomBlocks.weights(type, count: count, using: &generator))
            }
            let activations = BlockFormat.quantized(BlockFormat.activationType(for: type), RandomBlocks.activations(count: count, using: &generator))
            var results = [Float](repeating: .nan, count: 3 * rows)
            matrix.withUnsafeBytes { m in
                activations.withUnsafeBytes { a in
                    BlockFormat.dot(type, rows: rows, m.baseAddress!, rowStride: rowStride, a.baseAddress!, count: count,
                                    results: &results, resultStride: 3)
                }
            }
            for r in 0..<rows {
                let single = BlockFormat.dot(type, Array(matrix[(r * rowStride)..<(r * rowStride + rowBytes)]), activations, count: count, reference: false)
                XCTAssertEqual(results[3 * r].bitPattern, single.bitPattern, "\(type) row \(r)")
                XCTAssertTrue(results[3 * r + 1].isNaN && results[3 * r + 2].isNaN, "\(type): wrote between results")
            }
        }
    }

    /// Float formats with a row length that is not a multiple of the vector width.
    func testFloatTails() {
        var generator = SeededGenerator(seed: 7)
        for type in [TensorType.f32, .f16, .bf16] {
            for count in [1, 7, 9, 37, 100] {
                let weights = RandomBlocks.weights(type, count: count, using: &generator)
                let activations = BlockFormat.quantized(type, RandomBlocks.activations(count: count, using: &generator))
                let fast = BlockFormat.dot(type, weights, activations, count: count, reference: false)
                let reference = BlockFormat.dot(type, weights, activations, count: count, reference: true)
                XCTAssertEqual(fast, reference, accuracy: 1e-5 * max(1, abs(reference)), "\(type) \(count)")
            }
        }
    }
}
