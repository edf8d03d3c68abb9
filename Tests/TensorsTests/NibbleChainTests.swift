import GGUF
import Tensors
import XCTest

/// Q4_0 and Q4_1 give the same bits on every path: interleaved tiles (decode and batches), rows in place
/// (four-row groups and single rows), one row × four tokens, and the panel GEMM. Each sums a block's
/// integers exactly and adds d·dy·Σ to one fused float chain per (row, token) (Q4_1: m·s to a second chain,
/// added at the end), which `expected` spells out in scalar code.
final class NibbleChainTests: XCTestCase {
    static func expected(_ type: TensorType, _ row: [UInt8], _ activation: [UInt8], blocks: Int) -> Float {
        func half(_ bytes: [UInt8], _ at: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) }
        func float(_ bytes: [UInt8], _ at: Int) -> Float {
            Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) })
        }
        var acc: Float = 0, offsets: Float = 0
        for b in 0..<blocks {
            let isQ4_1 = type == .q4_1
            let x = (isQ4_1 ? 20 : 18) * b, y = (isQ4_1 ? 40 : 34) * b
            let data = x + (isQ4_1 ? 4 : 2), values = y + (isQ4_1 ? 8 : 2)
            var total: Int32 = 0
            for j in 0..<16 {
                let byte = row[data + j], offset: Int32 = isQ4_1 ? 0 : 8
                total += (Int32(byte & 0x0F) - offset) * Int32(Int8(bitPattern: activation[values + j]))
                total += (Int32(byte >> 4) - offset) * Int32(Int8(bitPattern: activation[values + 16 + j]))
            }
            let dy = isQ4_1 ? float(activation, y) : half(activation, y)
            acc = acc.addingProduct(half(row, x) * dy, Float(total))
            if isQ4_1 { offsets = offsets.addingProduct(half(row, x + 2), float(activation, y + 4)) }
        }
        return acc + offsets
    }

    func testEveryPathSumsInOneChain() throws {
        var generator = SeededGenerator(seed: 404)
        let columns = 320, blocks = columns / 32, rows = 16
        for type in [TensorType.q4_0, .q4_1] {
            guard InterleavedWeights.supports(type, rows: rows, columns: columns), PanelGEMM.supports(type) else {
                throw XCTSkip("hardware: no AVX2 on this CPU")
            }
            let activationType = BlockFormat.activationType(for: type)
            let rowBytes = type.byteCount(elements: columns)!, activationBytes = activationType.byteCount(elements: columns)!
            let weightRows = (0..<rows).map { _ in RandomBlocks.weights(type, count: columns, using: &generator) }
            let matrix = weightRows.flatMap { $0 }
            let tokens = 9
            let activationRows = (0..<tokens).map { _ in
                BlockFormat.quantized(activationType, RandomBlocks.activations(count: columns, using: &generator))
            }
            let activations = activationRows.flatMap { $0 }
            let expected = (0..<tokens).map { t in (0..<rows).map { Self.expected(type, weightRows[$0], activationRows[t], blocks: blocks) } }
            func check(_ got: [Float], _ count: Int, _ rowCount: Int, _ path: String) {
                for t in 0..<count {
                    for r in 0..<rowCount where got[t * rows + r].bitPattern != expected[t][r].bitPattern {
                        XCTFail("\(type) \(path): token \(t) row \(r): \(got[t * rows + r]) vs \(expected[t][r])")
                        return
                    }
                }
            }
            matrix.withUnsafeBytes { m in
                activations.withUnsafeBytes { a in
                    let w = m.baseAddress!, y = a.baseAddress!
                    // Interleaved: decode, a short batch, a batch with a partial tile.
                    let interleaved = UnsafeMutableRawPointer.allocate(byteCount: matrix.count, alignment: 64)
                    defer { interleaved.deallocate() }
                    InterleavedWeights.interleave(type, w, rowBytes: rowBytes, columns: columns, panels: 0..<(rows / 8), into: interleaved)
                    for count in [1, 3, 6, 9] {
                        let prepared = UnsafeMutableRawPointer.allocate(byteCount: InterleavedWeights.preparedBytes(tokens: count, columns: columns), alignment: 64)
                        defer { prepared.deallocate() }
                        var out = [Float](repeating: .nan, count: tokens * rows)
                        out.withUnsafeMutableBufferPointer { o in
                            InterleavedWeights.prepare(type, activations: y, activationStride: activationBytes, tokens: count,
                                                       columns: columns, prepared: prepared)
                            InterleavedWeights.multiply(type, interleaved, columns: columns, panels: 0..<(rows / 8), activations: y,
                                                        activationStride: activationBytes, prepared: prepared, tokens: count,
                                                        results: o.baseAddress!, resultStride: rows)
                        }
                        check(out, count, rows, "interleaved, \(count) tokens")
                    }
                    // In place, decode: groups of four rows, then 3 single rows.
                    var out = [Float](repeating: .nan, count: tokens * rows)
                    out.withUnsafeMutableBufferPointer { o in
                        for t in 0..<tokens {
                            BlockFormat.dot(type, rows: 15, w, rowStride: rowBytes, y + t * activationBytes, count: columns,
                                            results: o.baseAddress! + t * rows, resultStride: 1)
                            o[t * rows + 15] = BlockFormat.dot(type, w + 15 * rowBytes, y + t * activationBytes, count: columns)
                        }
                    }
                    check(out, tokens, rows, "rows in place")
                    // In place, one row × tokens: tiles of four and single tokens.
                    out = [Float](repeating: .nan, count: tokens * rows)
                    out.withUnsafeMutableBufferPointer { o in
                        for r in 0..<rows {
                            BlockFormat.dot(type, w + r * rowBytes, y, activationStride: activationBytes, tokens: tokens, count: columns,
                                            results: o.baseAddress! + r, resultStride: rows)
                        }
                    }
                    check(out, tokens, rows, "one row × tokens")
                    // Panel GEMM: a full and a partial panel.
                    out = [Float](repeating: .nan, count: tokens * rows)
                    let panel = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.panelBytes(type, columns: columns), alignment: 64)
                    let prepared = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.preparedBytes(columns: columns, tokens: tokens), alignment: 64)
                    defer { panel.deallocate(); prepared.deallocate() }
                    out.withUnsafeMutableBufferPointer { o in
                        PanelGEMM.prepare(type, activations: y, activationStride: activationBytes, tokens: tokens, columns: columns, prepared: prepared)
                        for (first, count) in [(0, 8), (8, 8)] {
                            PanelGEMM.multiply(type, rows: w + first * rowBytes, rowStride: rowBytes, rowCount: first == 0 ? count : 5,
                                               columns: columns, panel: panel, activations: y, activationStride: activationBytes,
                                               prepared: prepared, tokens: tokens, results: o.baseAddress! + first, resultStride: rows)
                        }
                    }
                    for t in 0..<tokens { for r in 13..<rows { XCTAssertTrue(out[t * rows + r].isNaN, "panel wrote past its rows") } }
                    for t in 0..<tokens { for r in 13..<rows { out[t * rows + r] = expected[t][r] } }
                    check(out, tokens, rows, "panel GEMM")
                }
            }
        }
    }
}
