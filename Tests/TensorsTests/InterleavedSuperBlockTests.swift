import GGUF
@testable import Tensors
import XCTest

/// Q4_K interleaved at load: the decode kernel against the scalar reference per (row, token), AVX2 and AVX-512
/// VNNI giving the same bits, and the prompt panels unpacked from the copy equal, bit for bit, to the panels
/// packed from the rows. Rows 0 and 1 are extremes (every bit set, every bit clear, d = dmin = 1) against
/// tokens of ±127 throughout: the largest 16-bit partial sums the AVX2 kernel forms.
final class InterleavedSuperBlockTests: XCTestCase {
    static let type = TensorType.q4_K
    static let columns = 512, rows = 32

    static func matrix(using generator: inout SeededGenerator) -> [UInt8] {
        let rowBytes = type.byteCount(elements: columns)!
        var matrix: [UInt8] = []
        for r in 0..<rows {
            var row = RandomBlocks.weights(type, count: columns, using: &generator)
            if r < 2 {
                row = [UInt8](repeating: r == 0 ? 0xFF : 0x00, count: rowBytes)
                for block in 0..<(columns / 256) {
                    for field in [0, 2] { row[144 * block + field] = 0x00; row[144 * block + field + 1] = 0x3C }
                }
            }
            matrix += row
        }
        return matrix
    }

    static func activations(tokens: Int, stride: Int, using generator: inout SeededGenerator) -> [UInt8] {
        let bytes = TensorType.q8_K.byteCount(elements: columns)!
        var activations = [UInt8](repeating: 0xEE, count: stride * tokens)
        for t in 0..<tokens {
            let values = t < 2 && tokens > 1 ? [Float](repeating: t == 0 ? 1 : -1, count: columns)
                                             : RandomBlocks.activations(count: columns, using: &generator)
            activations.replaceSubrange((t * stride)..<(t * stride + bytes), with: BlockFormat.quantized(.q8_K, values))
        }
        return activations
    }

    func testDecodeKernelMatchesReference() throws {
        guard InterleavedWeights.supports(Self.type, rows: Self.rows, columns: Self.columns) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
        var generator = SeededGenerator(seed: 4096)
        let (type, rows, columns) = (Self.type, Self.rows, Self.columns)
        let rowBytes = type.byteCount(elements: columns)!, activationBytes = TensorType.q8_K.byteCount(elements: columns)!
        let matrix = Self.matrix(using: &generator)
        XCTAssertEqual(InterleavedWeights.byteCount(type, rows: rows, columns: columns), matrix.count)
        let copy = UnsafeMutableRawPointer.allocate(byteCount: matrix.count, alignment: 64)
        defer { copy.deallocate() }
        matrix.withUnsafeBytes {
            InterleavedWeights.interleave(type, $0.baseAddress!, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: copy)
        }
        for tokens in [1, 3] {
            let stride = activationBytes + 12
            let activations = Self.activations(tokens: tokens, stride: stride, using: &generator)
            var bitsOfAVX2: [UInt32] = []
            for vnni in CPUFeatures.current.hasAVX512VNNI ? [false, true] : [false] {
                let kernels = try XCTUnwrap(InterleavedWeights.kernels(type, vnni: vnni))
                var results = [Float](repeating: .nan, count: tokens * rows)
                activations.withUnsafeBytes { a in
                    results.withUnsafeMutableBufferPointer { out in
                        // Two calls: panel 0, then panels 1-3 (results of panel p at +8p).
                        kernels.multiply(copy, 1, columns, a.baseAddress!, stride, a.baseAddress!, tokens, out.baseAddress!, rows)
                        kernels.multiply(copy + kernels.panelBytes(columns), 3, columns, a.baseAddress!, stride, a.baseAddress!,
                                         tokens, out.baseAddress! + 8, rows)
                    }
                }
                if vnni { XCTAssertEqual(results.map(\.bitPattern), bitsOfAVX2, "tokens=\(tokens): VNNI bits") } else { bitsOfAVX2 = results.map(\.bitPattern) }
                let error = normalizedError(type, matrix: matrix, rowBytes: rowBytes, rows: rows, activations: activations,
                                            activationStride: stride, tokens: tokens, columns: columns, results: results)
                XCTAssertLessThanOrEqual(error, 1e-11, "tokens=\(tokens) vnni=\(vnni)")
                if tokens > 1 {
                    // The extreme row against +127 everywhere: 15 · 63 · 127 · 512 − 63 · 127 · 512 (d = dmin = 1, dy = 1/127).
                    XCTAssertEqual(results[0], Float(15 * 63 * 512 - 63 * 512), accuracy: 1, "extreme row")
                }
            }
        }
    }

    func testPromptPanelsFromTheCopyAreThePanelsFromTheRows() throws {
        guard InterleavedWeights.supports(Self.type, rows: Self.rows, columns: Self.columns) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
        var generator = SeededGenerator(seed: 4097)
        let (type, columns) = (Self.type, Self.columns)
        let rowBytes = type.byteCount(elements: columns)!, stride = TensorType.q8_K.byteCount(elements: columns)!
        let matrix = Self.matrix(using: &generator)
        let tokens = 5
        let activations = Self.activations(tokens: tokens, stride: stride, using: &generator)
        for vnni in CPUFeatures.current.hasAVX512VNNI ? [false, true] : [false] {
            let fromRows = try XCTUnwrap(PanelGEMM.kernels(type, vnni: vnni))
            let fromCopy = try XCTUnwrap(PanelGEMM.interleavedKernels(type, vnni: vnni))
            let panelBytes = InterleavedWeights.byteCount(type, rows: 8, columns: columns)
            // 8, 16 and 24 rows: a 16-row VNNI panel half empty, full, and one and a half.
            for rows in [8, 16, 24] {
                let copy = UnsafeMutableRawPointer.allocate(byteCount: rows / 8 * panelBytes, alignment: 64)
                let panel = UnsafeMutableRawPointer.allocate(byteCount: fromRows.panelBytes(columns), alignment: 64)
                let prepared = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.preparedBytes(columns: columns, tokens: tokens), alignment: 64)
                defer { copy.deallocate(); panel.deallocate(); prepared.deallocate() }
                matrix.withUnsafeBytes {
                    InterleavedWeights.interleave(type, $0.baseAddress!, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: copy)
                }
                let expected = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rows)
                let found = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rows)
                defer { expected.deallocate(); found.deallocate() }
                expected.initialize(repeating: .nan, count: tokens * rows)
                found.initialize(repeating: .nan, count: tokens * rows)
                matrix.withUnsafeBytes { m in
                    activations.withUnsafeBytes { a in
                        fromRows.prepare(a.baseAddress!, stride, tokens, columns, prepared)
                        var first = 0
                        while first < rows {
                            let count = min(fromRows.rowsPerMultiply, rows - first)
                            fromRows.multiply(m.baseAddress! + first * rowBytes, rowBytes, count, columns, panel, a.baseAddress!, stride,
                                              prepared, tokens, expected + first, rows)
                            fromCopy.multiply(copy + first / 8 * panelBytes, panelBytes, count, columns, panel, a.baseAddress!, stride,
                                              prepared, tokens, found + first, rows)
                            first += fromRows.rowsPerMultiply
                        }
                    }
                }
                let (want, got) = (Array(UnsafeBufferPointer(start: expected, count: tokens * rows)),
                                   Array(UnsafeBufferPointer(start: found, count: tokens * rows)))
                XCTAssertFalse(want.contains { $0.isNaN })
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "rows=\(rows) vnni=\(vnni)")
            }
        }
    }
}
