import GGUF
@testable import Tensors
import XCTest

/// The grid I-quants' summation orders, which the GPU kernels reproduce (GPU/kernels.cu, matvec_kquant and
/// matmul_superblocks; the worker's self-test checks them against the same orders in C): one token at a time
/// (decode's rows and one row × tokens) 8 chains per row, chain p adding d'·d_y times lane p's integer —
/// Σ over each 32-value chunk of s·v·a over its values 4p … 4p + 3, IQ1's split as its kernels split it —
/// folded ((c0+c4)+(c2+c6))+((c1+c5)+(c3+c7)); the prompt panels one chain of d'·d_y times the super-block's
/// whole integer. A different split of the same integers rounds differently, and the GPU's logits would
/// then part from the CPU's.
final class GridChainTests: XCTestCase {
    static let formats: [TensorType] = [.iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s]

    /// (lane integers, whole integer, d') of each super-block of `row` against Q8_K `activation`.
    static func integers(_ type: TensorType, _ row: [UInt8], _ activation: [UInt8], blocks: Int) -> [([Int32], Int32, Float)] {
        var result: [([Int32], Int32, Float)] = []
        var v = [Int8](repeating: 0, count: 256), s = [Int16](repeating: 0, count: 16)
        for b in 0..<blocks {
            let d = row.withUnsafeBytes { r in
                v.withUnsafeMutableBufferPointer { vp in
                    s.withUnsafeMutableBufferPointer { sp in
                        IQuants.decode(type, r.baseAddress! + b * type.blockBytes, vp.baseAddress!, sp.baseAddress!)
                    }
                }
            }
            func a(_ i: Int) -> Int32 { Int32(Int8(bitPattern: activation[292 * b + 4 + i])) }
            // IQ1: v = 8g + shift; its kernels multiply 8(g + 1) (IQ1_S) or v + 9 (IQ1_M) and correct per lane
            // with the chunk's (IQ1_M: the two 16s') Q8_K sums.
            func shift(_ i: Int) -> Int32 {
                let vi = Int32(v[i])
                return vi - 8 * ((vi + 9) / 8 - 1)  // ±1: v + 9 ∈ {0, 2, 8, 10, 16, 18}
            }
            var lanes = [Int32](repeating: 0, count: 8), whole: Int32 = 0
            for i in 0..<256 {
                let scale = Int32(s[i / 16]), lane = i % 32 / 4
                let stored: Int32 = switch type {
                case .iq1_s: Int32(v[i]) + 8 - shift(i)
                case .iq1_m: Int32(v[i]) + 9
                default: Int32(v[i])
                }
                lanes[lane] += scale * stored * a(i)
                whole += scale * Int32(v[i]) * a(i)
                if type == .iq1_s { lanes[i / 32] += scale * (shift(i) - 8) * a(i) }
                if type == .iq1_m { lanes[i / 32] -= 9 * scale * a(i) }
            }
            XCTAssertEqual(lanes.reduce(0, +), whole, "\(type): the split covers the same integer")
            result.append((lanes, whole, d))
        }
        return result
    }

    static func rowOrder(_ type: TensorType, _ row: [UInt8], _ activation: [UInt8], blocks: Int) -> Float {
        var chains = [Float](repeating: 0, count: 8)
        for (b, (lanes, _, d)) in integers(type, row, activation, blocks: blocks).enumerated() {
            let dy = activation.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 292 * b, as: Float.self) }
            for p in 0..<8 { chains[p] = chains[p].addingProduct(dy * d, Float(lanes[p])) }
        }
        let c = chains
        return ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7]))
    }

    static func panelOrder(_ type: TensorType, _ row: [UInt8], _ activation: [UInt8], blocks: Int) -> Float {
        var chain: Float = 0
        for (b, (_, whole, d)) in integers(type, row, activation, blocks: blocks).enumerated() {
            let dy = activation.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 292 * b, as: Float.self) }
            chain = chain.addingProduct(d * dy, Float(whole))
        }
        return chain
    }

    func testRowsAndPanelsKeepTheOrdersTheGPUFollows() throws {
        var generator = SeededGenerator(seed: 1717)
        let columns = 768, blocks = columns / 256, rows = 16, tokens = 6
        for type in Self.formats {
            guard PanelGEMM.supports(type) else { throw XCTSkip("hardware: no AVX2 on this CPU") }
            let rowBytes = type.byteCount(elements: columns)!, activationBytes = TensorType.q8_K.byteCount(elements: columns)!
            let weightRows = (0..<rows).map { _ in RandomBlocks.weights(type, count: columns, using: &generator) }
            let activationRows = (0..<tokens).map { _ in
                BlockFormat.quantized(.q8_K, RandomBlocks.activations(count: columns, using: &generator))
            }
            let matrix = weightRows.flatMap { $0 }, activations = activationRows.flatMap { $0 }
            func check(_ got: [Float], _ order: (TensorType, [UInt8], [UInt8], Int) -> Float, _ path: String) {
                for t in 0..<tokens {
                    for r in 0..<rows {
                        let want = order(type, weightRows[r], activationRows[t], blocks)
                        if got[t * rows + r].bitPattern != want.bitPattern {
                            XCTFail("\(type) \(path): token \(t) row \(r): \(got[t * rows + r]) vs \(want)")
                            return
                        }
                    }
                }
            }
            matrix.withUnsafeBytes { m in
                activations.withUnsafeBytes { a in
                    let w = m.baseAddress!, y = a.baseAddress!
                    var out = [Float](repeating: .nan, count: tokens * rows)
                    out.withUnsafeMutableBufferPointer { o in  // decode: every row for one token in one call
                        for t in 0..<tokens {
                            BlockFormat.dot(type, rows: rows, w, rowStride: rowBytes, y + t * activationBytes, count: columns,
                                            results: o.baseAddress! + t * rows, resultStride: 1)
                        }
                    }
                    check(out, Self.rowOrder, "rows")
                    out = [Float](repeating: .nan, count: tokens * rows)
                    out.withUnsafeMutableBufferPointer { o in  // batches of 2–3 tokens: one row × tokens
                        for r in 0..<rows {
                            BlockFormat.dot(type, w + r * rowBytes, y, activationStride: activationBytes, tokens: tokens,
                                            count: columns, results: o.baseAddress! + r, resultStride: rows)
                        }
                    }
                    check(out, Self.rowOrder, "one row × tokens")
                    out = [Float](repeating: .nan, count: tokens * rows)
                    let panel = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.panelBytes(type, columns: columns), alignment: 64)
                    let prepared = UnsafeMutableRawPointer.allocate(byteCount: PanelGEMM.preparedBytes(columns: columns, tokens: tokens),
                                                                    alignment: 64)
                    defer { panel.deallocate(); prepared.deallocate() }
                    out.withUnsafeMutableBufferPointer { o in  // prompts (from 4 tokens): the panels
                        PanelGEMM.prepare(type, activations: y, activationStride: activationBytes, tokens: tokens, columns: columns,
                                          prepared: prepared)
                        for first in stride(from: 0, to: rows, by: 8) {
                            PanelGEMM.multiply(type, rows: w + first * rowBytes, rowStride: rowBytes, rowCount: 8, columns: columns,
                                               panel: panel, activations: y, activationStride: activationBytes, prepared: prepared,
                                               tokens: tokens, results: o.baseAddress! + first, resultStride: rows)
                        }
                    }
                    check(out, Self.panelOrder, "panels")
                }
            }
        }
    }
}
