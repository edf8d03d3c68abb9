import GGUF
import Tensors
import XCTest

/// The panel GEMM (8 repacked rows × every token) against the scalar reference dot per (row, token):
/// row counts that fill and do not fill a panel, token counts that are and are not multiples of four,
/// padded row and activation strides. The byte-panel formats also get rows of all-zero and all-one bits
/// (extreme values and scales) against activations of ±127 throughout: the largest 16-bit partial sums
/// their panels form.
final class PanelGEMMTests: XCTestCase {
    /// Where each format with extreme rows keeps its f16 scales (set to 1.0 there).
    static let scaleFields: [TensorType: [Int]] = [
        .q2_K: [80, 82], .q3_K: [108], .q4_K: [0, 2], .q5_K: [0, 2], .q6_K: [208], .iq4_xs: [0], .q5_0: [0], .iq4_nl: [0],
        .iq1_s: [0], .iq2_xxs: [0], .iq2_xs: [0], .iq2_s: [0], .iq3_xxs: [0], .iq3_s: [0],  // IQ1_M's d is spread out
    ]

    func testPanelGEMMMatchesReference() throws {
        var generator = SeededGenerator(seed: 2024)
        XCTAssertFalse(PanelGEMM.supports(.q8_0))
        for type in [TensorType.q4_0, .q4_1, .q5_0, .iq4_nl, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs,
                     .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s] {
            guard PanelGEMM.supports(type) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
            let columns = type.blockSize == 256 ? 512 : 256
            let activationType = BlockFormat.activationType(for: type)
            let rowBytes = type.byteCount(elements: columns)!
            let rowStride = rowBytes + 6
            let activationBytes = activationType.byteCount(elements: columns)!
            let activationStride = activationBytes + 20
            for (rows, tokens) in [(8, 4), (5, 7), (8, 1), (3, 9), (16, 5), (13, 4)] where rows <= PanelGEMM.rowsPerMultiply(type) {
                var matrix = [UInt8](repeating: 0xEE, count: rowStride * rows)
                for r in 0..<rows {
                    var row = RandomBlocks.weights(type, count: columns, using: &generator)
                    if let fields = Self.scaleFields[type], r < 2 {
                        row = [UInt8](repeating: r == 0 ? 0xFF : 0x00, count: rowBytes)
                        for block in 0..<(columns / type.blockSize) {
                            for field in fields { row[block * type.blockBytes + field] = 0x00; row[block * type.blockBytes + field + 1] = 0x3C }
                        }
                    }
                    matrix.replaceSubrange((r * rowStride)..<(r * rowStride + rowBytes), with: row)
                }
                var activations = [UInt8](repeating: 0xEE, count: activationStride * tokens)
                for t in 0..<tokens {
                    let values = t < 2 && tokens > 2 ? [Float](repeating: t == 0 ? 1 : -1, count: columns)
                                                     : RandomBlocks.activations(count: columns, using: &generator)
                    let row = BlockFormat.quantized(activationType, values)
                    activations.replaceSubrange((t * activationStride)..<(t * activationStride + activationBytes), with: row)
                }
                // Each kernel the CPU runs: AVX2, and AVX-512 VNNI where present (all but the 4-bit panels). The
                // super-block formats' VNNI kernel (16 rows, 512-bit) gives the AVX2 kernel's bits.
                var avx2Results: [Float] = []
                for vnni in CPUFeatures.current.hasAVX512VNNI && ![TensorType.q4_0, .q4_1].contains(type) ? [false, true] : [false] {
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
                                               results: out.baseAddress!, resultStride: resultStride, vnni: vnni)
                        }
                    }
                }
                if !vnni { avx2Results = results }
                if vnni && type.blockSize == 256 {
                    XCTAssertEqual(results.map(\.bitPattern), avx2Results.map(\.bitPattern), "\(type) rows=\(rows) tokens=\(tokens): VNNI bits")
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
                XCTAssertLessThanOrEqual(normalized, 1e-9, "\(type) rows=\(rows) tokens=\(tokens) vnni=\(vnni)")
                }
            }
        }
    }
}

/// Interleaved Q4_0/Q4_1/Q8_0/IQ4_NL matrices (made at load) against the scalar reference per (row, token): one token
/// (decode), short and long token tiles, several panels split into two calls. On a CPU with AVX-512 VNNI
/// this runs the VNNI kernels (TensorsAVX512), elsewhere the AVX2 ones.
final class InterleavedWeightsTests: XCTestCase {
    func testInterleavedMatchesReference() throws {
        var generator = SeededGenerator(seed: 77)
        let columns = 256, rows = 24
        for type in [TensorType.q4_0, .q4_1, .q8_0, .iq4_nl] {
            guard InterleavedWeights.supports(type, rows: rows, columns: columns) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
            let activationType = BlockFormat.activationType(for: type)
            let rowBytes = type.byteCount(elements: columns)!
            var matrix: [UInt8] = []
            for _ in 0..<rows { matrix += RandomBlocks.weights(type, count: columns, using: &generator) }
            let activationBytes = activationType.byteCount(elements: columns)!
            let activationStride = activationBytes + 12
            let interleaved = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.byteCount(type, rows: rows, columns: columns), alignment: 64)
            defer { interleaved.deallocate() }
            XCTAssertEqual(InterleavedWeights.byteCount(type, rows: rows, columns: columns), matrix.count)
            matrix.withUnsafeBytes {
                InterleavedWeights.interleave(type, $0.baseAddress!, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: interleaved)
            }
            for tokens in [1, 2, 4, 6] {
                var activations = [UInt8](repeating: 0xEE, count: activationStride * tokens)
                for t in 0..<tokens {
                    let row = BlockFormat.quantized(activationType, RandomBlocks.activations(count: columns, using: &generator))
                    activations.replaceSubrange((t * activationStride)..<(t * activationStride + activationBytes), with: row)
                }
                let prepared = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.preparedBytes(tokens: tokens, columns: columns), alignment: 64)
                defer { prepared.deallocate() }
                var results = [Float](repeating: .nan, count: tokens * rows)
                activations.withUnsafeBytes { a in
                    results.withUnsafeMutableBufferPointer { out in
                        InterleavedWeights.prepare(type, activations: a.baseAddress!, activationStride: activationStride,
                                                   tokens: tokens, columns: columns, prepared: prepared)
                        for panels in [0..<1, 1..<3] {
                            InterleavedWeights.multiply(type, interleaved, columns: columns, panels: panels,
                                                        activations: a.baseAddress!, activationStride: activationStride,
                                                        prepared: prepared, tokens: tokens, results: out.baseAddress!, resultStride: rows)
                        }
                    }
                }
                let error = normalizedError(type, matrix: matrix, rowBytes: rowBytes, rows: rows, activations: activations,
                                            activationStride: activationStride, tokens: tokens, columns: columns, results: results)
                XCTAssertLessThanOrEqual(error, 1e-9, "\(type) tokens=\(tokens)")
            }
        }
    }
}

/// F16 rows against f32 activations rounded to F16 precision: decode rows and 3-token tiles against the scalar
/// reference, and the vector rounding against Float16's.
final class FloatWeightsTests: XCTestCase {
    /// llama.cpp's batch order (tinyBLAS, 16 lanes): term i in chain i % 16, then the 16-lane tree.
    static func chains16(_ terms: [Float]) -> Float {
        var c = [Float](repeating: 0, count: 16)
        for (i, x) in terms.enumerated() { c[i % 16] += x }
        return tree(c)
    }

    /// Its single-token order (vec_dot, 4 × 16 lanes): whole 64-term blocks in chain i % 64, folded
    /// (l + l+32) + (l+16 + l+48), the tree, then the remaining terms one by one in double.
    static func blocks64(_ terms: [Float]) -> Float {
        let whole = terms.count & ~63
        var c = [Float](repeating: 0, count: 64)
        for i in 0..<whole { c[i % 64] += terms[i] }
        var sum = Double(tree((0..<16).map { (c[$0] + c[$0 + 32]) + (c[$0 + 16] + c[$0 + 48]) }))
        for i in whole..<terms.count { sum += Double(terms[i]) }
        return Float(sum)
    }

    static func tree(_ c: [Float]) -> Float {
        let a = (0..<8).map { c[$0] + c[$0 + 8] }
        let b = (0..<4).map { a[$0] + a[$0 + 4] }
        return (b[0] + b[2]) + (b[1] + b[3])
    }

    /// Decode rows and batch tiles against those orders bit for bit, and against the reference dot (NMSE).
    /// Shapes: a partial 6-row panel (7 rows), a partial 16-token block (19 tokens), 256 columns (whole
    /// transposes), 208 (8-step transposes plus single steps, a 16-column tail for the rows) and 200 (rows
    /// only: an 8-column tail).
    func testF16RowsAndTilesMatchLlamaCppOrders() throws {
        var generator = SeededGenerator(seed: 5)
        for columns in [256, 208, 200] {
            guard FloatWeights.supports(columns: columns) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
            let rows = 7, tokens = 35  // three 16-token blocks: a pair and a lone one
            let tiled = columns % 16 == 0
            let rowBytes = 2 * columns
            var matrix: [UInt8] = []
            for _ in 0..<rows { matrix += BlockFormat.quantized(.f16, RandomBlocks.activations(count: columns, using: &generator)) }
            let inputs = (0..<tokens).map { _ in RandomBlocks.activations(count: columns, using: &generator) }
            var rounded = [Float](repeating: 0, count: tokens * columns)
            let flat = inputs.flatMap { $0 }
            flat.withUnsafeBufferPointer { src in
                rounded.withUnsafeMutableBufferPointer { FloatWeights.roundToHalf(src.baseAddress!, $0.baseAddress!, count: flat.count) }
            }
            var tiles = [Float](repeating: .nan, count: tokens * rows), narrowTiles: [Float] = []
            var single = [Float](repeating: .nan, count: tokens * rows)
            var permuted = [Float](repeating: .nan, count: FloatWeights.permutedFloats(tokens: tokens, columns: columns))
            var panel = [Float](repeating: .nan, count: FloatWeights.panelFloats(columns: columns))
            matrix.withUnsafeBytes { m in
                rounded.withUnsafeBufferPointer { x in
                    if tiled {
                        permuted.withUnsafeMutableBufferPointer { p in
                            for block in 0..<((tokens + FloatWeights.tokenBlock - 1) / FloatWeights.tokenBlock) {
                                FloatWeights.permuteTokens(x.baseAddress!, tokens: tokens, columns: columns, block: block, into: p.baseAddress!)
                            }
                        }
                        // Both kernels where the CPU has AVX-512 (the wide one's result is checked below; the two
                        // must agree bit for bit).
                        for wide in CPUFeatures.current.hasAVX512VNNI ? [false, true] : [false] {
                            permuted.withUnsafeBufferPointer { p in
                                panel.withUnsafeMutableBufferPointer { w in
                                    tiles.withUnsafeMutableBufferPointer {
                                        FloatWeights.f16Tiles(m.baseAddress!, rowStride: rowBytes, rows: rows, permuted: p.baseAddress!,
                                                              tokens: tokens, columns: columns, panel: w.baseAddress!,
                                                              results: $0.baseAddress!, resultStride: rows, wide: wide)
                                    }
                                }
                            }
                            if !wide { narrowTiles = tiles }
                        }
                    }
                    single.withUnsafeMutableBufferPointer {
                        for t in 0..<tokens {
                            FloatWeights.f16Rows(m.baseAddress!, rowStride: rowBytes, rows: rows, x.baseAddress! + t * columns,
                                                 columns: columns, results: $0.baseAddress! + t * rows)
                        }
                    }
                }
            }
            let weights = matrix.withUnsafeBytes { raw in (0..<(rows * columns)).map { Float(raw.load(fromByteOffset: 2 * $0, as: Float16.self)) } }
            var errorSum: Double = 0, referenceSum: Double = 0
            for t in 0..<tokens {
                let activation = BlockFormat.quantized(.f16, inputs[t])
                for r in 0..<rows {
                    let terms = (0..<columns).map { weights[r * columns + $0] * rounded[t * columns + $0] }
                    XCTAssertEqual(single[t * rows + r].bitPattern, Self.blocks64(terms).bitPattern, "row \(r) token \(t) columns \(columns)")
                    if tiled {
                        XCTAssertEqual(tiles[t * rows + r].bitPattern, Self.chains16(terms).bitPattern, "tile row \(r) token \(t) columns \(columns)")
                        XCTAssertEqual(narrowTiles[t * rows + r].bitPattern, Self.chains16(terms).bitPattern, "AVX2 tile row \(r) token \(t)")
                    }
                    let reference = BlockFormat.dot(.f16, Array(matrix[(r * rowBytes)..<((r + 1) * rowBytes)]), activation,
                                                    count: columns, reference: true)
                    for value in tiled ? [tiles[t * rows + r], single[t * rows + r]] : [single[t * rows + r]] {
                        errorSum += Double(value - reference) * Double(value - reference)
                        referenceSum += Double(reference) * Double(reference)
                    }
                }
            }
            XCTAssertLessThanOrEqual(errorSum / max(referenceSum, 1e-30), 1e-7, "columns=\(columns)")
        }
    }

    func testRoundToHalfMatchesFloat16() throws {
        guard FloatWeights.supports(columns: 8) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e6, .infinity, -.infinity,
                               6.1035156e-05, 6.1e-05, 5.96e-08, 2.98e-08, 2.99e-08, -3e-06, 1.0009765625, 1.00048828125,
                               1.00146484375, 0.333333, 2049, 2051, 4097]
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<4000 {
            let bits = UInt32(truncatingIfNeeded: generator.next())
            let value = Float(bitPattern: bits)
            if value.isFinite { values.append(value) }
        }
        while values.count % 8 != 0 { values.append(0.5) }
        var out = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { FloatWeights.roundToHalf(src.baseAddress!, $0.baseAddress!, count: values.count) }
        }
        for (value, rounded) in zip(values, out) {
            XCTAssertEqual(rounded.bitPattern, Float(Float16(value)).bitPattern, "\(value)")
            XCTAssertEqual(Attention.roundedToHalf(value).bitPattern, Float(Float16(value)).bitPattern, "scalar \(value)")
        }
    }
}
