import GGUF
import Tensors
import XCTest

/// The several-token `dot` against the scalar reference per token: padded activation strides,
/// strided results, token counts that are and are not multiples of four.
final class BatchDotTests: XCTestCase {
    func testBatchDotMatchesReferencePerToken() {
        var generator = SeededGenerator(seed: 99)
        let count = 512
        for type in Fixtures.weightTypes {
            let activationType = BlockFormat.activationType(for: type)
            let rowBytes = activationType.byteCount(elements: count)!
            let stride = rowBytes + 24  // padding between token rows must be ignored
            let weights = RandomBlocks.weights(type, count: count, using: &generator)
            for tokens in [1, 3, 4, 5, 8, 9] {
                var activations = [UInt8](repeating: 0xEE, count: stride * tokens)
                for t in 0..<tokens {
                    let row = BlockFormat.quantized(activationType, RandomBlocks.activations(count: count, using: &generator))
                    activations.replaceSubrange((t * stride)..<(t * stride + rowBytes), with: row)
                }
                let resultStride = 3
                var results = [Float](repeating: .nan, count: tokens * resultStride)
                weights.withUnsafeBytes { w in
                    activations.withUnsafeBytes { a in
                        results.withUnsafeMutableBufferPointer { r in
                            BlockFormat.dot(type, w.baseAddress!, a.baseAddress!, activationStride: stride,
                                            tokens: tokens, count: count, results: r.baseAddress!, resultStride: resultStride)
                        }
                    }
                }
                var errorSum: Double = 0, referenceSum: Double = 0
                for t in 0..<tokens {
                    let row = Array(activations[(t * stride)..<(t * stride + rowBytes)])
                    let reference = BlockFormat.dot(type, weights, row, count: count, reference: true)
                    errorSum += Double(results[t * resultStride] - reference) * Double(results[t * resultStride] - reference)
                    referenceSum += Double(reference) * Double(reference)
                }
                let normalized = errorSum / max(referenceSum, 1e-30)
                XCTAssertLessThanOrEqual(normalized, 1e-9, "\(type) tokens=\(tokens)")
            }
        }
    }
}

/// The several-row `dot` (matrix × vector) against the scalar reference per row.
final class RowBatchDotTests: XCTestCase {
    func testRowBatchDotMatchesReferencePerRow() {
        var generator = SeededGenerator(seed: 123)
        let count = 512
        for type in Fixtures.weightTypes {
            let activationType = BlockFormat.activationType(for: type)
            let activations = BlockFormat.quantized(activationType, RandomBlocks.activations(count: count, using: &generator))
            let rowBytes = type.byteCount(elements: count)!
            let rowStride = rowBytes + 10  // padding between rows must be ignored
            for rows in [1, 3, 4, 6, 8, 11] {
                var matrix = [UInt8](repeating: 0xEE, count: rowStride * rows)
                for r in 0..<rows {
                    matrix.replaceSubrange((r * rowStride)..<(r * rowStride + rowBytes),
                                           with: RandomBlocks.weights(type, count: count, using: &generator))
                }
                let resultStride = 2
                var results = [Float](repeating: .nan, count: rows * resultStride)
                matrix.withUnsafeBytes { w in
                    activations.withUnsafeBytes { a in
                        results.withUnsafeMutableBufferPointer { out in
                            BlockFormat.dot(type, rows: rows, w.baseAddress!, rowStride: rowStride, a.baseAddress!,
                                            count: count, results: out.baseAddress!, resultStride: resultStride)
                        }
                    }
                }
                var errorSum: Double = 0, referenceSum: Double = 0
                for r in 0..<rows {
                    let row = Array(matrix[(r * rowStride)..<(r * rowStride + rowBytes)])
                    let reference = BlockFormat.dot(type, row, activations, count: count, reference: true)
                    errorSum += Double(results[r * resultStride] - reference) * Double(results[r * resultStride] - reference)
                    referenceSum += Double(reference) * Double(reference)
                }
                XCTAssertLessThanOrEqual(errorSum / max(referenceSum, 1e-30), 1e-9, "\(type) rows=\(rows)")
            }
        }
    }
}
