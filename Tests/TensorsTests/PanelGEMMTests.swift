import GGUF
import Tensors
import XCTest

/// The panel GEMM (8 repacked rows × every token) against the scalar reference dot per (row, token):
/// row counts that fill and do not fill a panel, token counts that are and are not multiples of four,
/// padded row and activation strides.
final class PanelGEMMTests: XCTestCase {
    func testPanelGEMMMatchesReference() throws {
        var generator = SeededGenerator(seed: 2024)
        let columns = 256
        for type in [TensorType.q4_0, .q4_1, .q8_0] {
            guard PanelGEMM.supports(type) else { throw XCTSkip("no AVX2 on this CPU") }
            let activationType = BlockFormat.activationType(for: type)
            let rowBytes = type.byteCount(elements: columns)!
            let rowStride = rowBytes + 6
            let activationBytes = activationType.byteCount(elements: columns)!
            let activationStride = activationBytes + 20
            for (rows, tokens) in [(8, 4), (5, 7), (8, 1), (3, 9)] {
                var matrix = [UInt8](repeating: 0xEE, count: rowStride * rows)
                for r in 0..<rows {
                    matrix.replaceSubrange((r * rowStride)..<(r * rowStride + rowBytes),
                                           with: RandomBlocks.weights(type, count: columns, using: &generator))
                }
                var activations = [UInt8](repeating: 0xEE, count: activationStride * tokens)
                for t in 0..<tokens {
                    let row = BlockFormat.quantized(activationType, RandomBlocks.activations(count: columns, using: &generator))
                    activations.replaceSubrange((t * activationStride)..<(t * activationStride + activationBytes), with: row)
                }
                let resultStride = rows + 2
                var results = [Float](repeating: .nan, count: tokens * resultStride)
                let panel = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.panelBytes(type, columns: columns), alignment: 64)
                let prepared = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.preparedBytes(columns: columns, tokens: tokens), alignment: 64)
                defer { panel.deallocate(); prepared.deallocate() }
                matrix.withUnsafeBytes { m in
                    activations.withUnsafeBytes { a in
                        results.withUnsafeMutableBufferPointer { out in
                            PanelGEMM.prepare(type, activations: a.baseAddress!, activationStride: activationStride,
                                              tokens: tokens, columns: columns, prepared: prepared)
                            PanelGEMM.multiply(type, rows: m.baseAddress!, rowStride: rowStride, rowCount: rows,
                                               columns: columns, panel: panel, activations: a.baseAddress!,
                                               activationStride: activationStride, prepared: prepared, tokens: tokens,
                                               results: out.baseAddress!, resultStride: resultStride)
                        }
                    }
                }
                var errorSum: Double = 0, referenceSum: Double = 0
                for t in 0..<tokens {
                    let activation = Array(activations[(t * activationStride)..<(t * activationStride + activationBytes)])
                    for r in 0..<rows {
                        let weights = Array(matrix[(r * rowStride)..<(r * rowStride + rowBytes)])
                        let reference = BlockFormat.dot(type, weights, activation, count: columns, reference: true)
                        let value = results[t * resultStride + r]
                        errorSum += Double(value - reference) * Double(value - reference)
                        referenceSum += Double(reference) * Double(reference)
                    }
                    // Columns past the panel's rows are left alone.
                    XCTAssertTrue(results[t * resultStride + rows].isNaN, "\(type): wrote past the rows")
                }
                let normalized = errorSum / max(referenceSum, 1e-30)
                XCTAssertLessThanOrEqual(normalized, 1e-9, "\(type) rows=\(rows) tokens=\(tokens)")
            }
        }
    }
}
