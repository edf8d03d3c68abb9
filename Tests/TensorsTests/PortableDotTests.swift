import GGUF
@testable import Tensors
import XCTest

/// PortableDot (what arm64 and pre-AVX2 x86 run) against plain definitions of its summation orders, bit
/// for bit: the SIMD code must not change a single rounding, or the golden logits would differ there.
/// (Tools/arm64-check runs the same kernels for aarch64 under qemu and compares them with x86-64.)
final class PortableDotTests: XCTestCase {
    /// 8 chains per token, one per 4-column group: chain g += d·(Σ of group g's integer products), fused.
    private func groupChainDefinition(blocks: Int, scale: (Int) -> Float, column: (Int, Int) -> (Int32, Int32)) -> Float {
        var chains = [Float](repeating: 0, count: 8)
        for b in 0..<blocks {
            for g in 0..<8 {
                var sum: Int32 = 0
                for j in (4 * g)..<(4 * g + 4) {
                    let (x, y) = column(b, j)
                    sum += x * y
                }
                chains[g] = chains[g].addingProduct(scale(b), Float(sum))
            }
        }
        return ((chains[0] + chains[4]) + (chains[2] + chains[6])) + ((chains[1] + chains[5]) + (chains[3] + chains[7]))
    }

    /// `count` random activations quantized to `type` (Q8_0, Q8_1 or Q8_K).
    private func quantizedActivations(_ type: TensorType, count: Int, using generator: inout SeededGenerator) -> [UInt8] {
        let activations = RandomBlocks.activations(count: count, using: &generator)
        var y = [UInt8](repeating: 0, count: type.byteCount(elements: count)!)
        activations.withUnsafeBufferPointer { a in
            y.withUnsafeMutableBytes { BlockFormat.quantizeActivations(type, a.baseAddress!, $0.baseAddress!, count: count) }
        }
        return y
    }

    private func half(_ bytes: [UInt8], _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8))
    }

    func testQ8_0AndQ4_0MatchTheirChainOrders() {
        var generator = SeededGenerator(seed: 41)
        for blocks in [1, 2, 3, 7, 16, 33, 64] {
            let count = 32 * blocks
            let y = quantizedActivations(.q8_0, count: count, using: &generator)
            // Random bytes: weights include −128, the one value our activations never take.
            let q8 = RandomBlocks.weights(.q8_0, count: count, using: &generator)
            let q4 = RandomBlocks.weights(.q4_0, count: count, using: &generator)
            let expected8 = groupChainDefinition(blocks: blocks, scale: { half(q8, 34 * $0) * half(y, 34 * $0) }) { b, j in
                (Int32(Int8(bitPattern: q8[34 * b + 2 + j])), Int32(Int8(bitPattern: y[34 * b + 2 + j])))
            }
            let expected4 = NibbleChainTests.expected(.q4_0, q4, y, blocks: blocks)
            let got8 = q8.withUnsafeBytes { w in y.withUnsafeBytes { PortableDot.q8_0(w.baseAddress!, $0.baseAddress!, blocks) } }
            let got4 = q4.withUnsafeBytes { w in y.withUnsafeBytes { PortableDot.q4_0(w.baseAddress!, $0.baseAddress!, blocks) } }
            XCTAssertEqual(got8.bitPattern, expected8.bitPattern, "Q8_0, \(blocks) blocks: \(got8) vs \(expected8)")
            XCTAssertEqual(got4.bitPattern, expected4.bitPattern, "Q4_0, \(blocks) blocks: \(got4) vs \(expected4)")
        }
    }

    func testF16MatchesBothSummationOrders() {
        var generator = SeededGenerator(seed: 42)
        for count in [1, 15, 16, 17, 48, 63, 64, 65, 127, 128, 200, 2048, 2049] {
            let x = (0..<count).map { _ in Float16(generator.gaussianLike(0.05)) }
            let y = (0..<count).map { _ in Float16(generator.gaussianLike(1)) }
            for batch in [false, true] {
                let order: Attention.SummationOrder = batch ? .chains16 : .singleToken(count)
                let expected = Attention.sum(count, order) { Float(x[$0]) * Float(y[$0]) }
                let got = x.withUnsafeBytes { a in y.withUnsafeBytes { PortableDot.f16(a.baseAddress!, $0.baseAddress!, count, batch: batch) } }
                XCTAssertEqual(got.bitPattern, expected.bitPattern, "F16 \(count) elements, batch \(batch): \(got) vs \(expected)")
            }
        }
    }

    typealias Kernel = (UnsafeRawPointer, UnsafeRawPointer, Int) -> Float

    /// The K-quants sum exactly in integers per super-block: ReferenceDot's result, bit for bit, on random
    /// blocks (every scale, min and quant value pattern) against quantized random activations.
    func testKQuantsMatchTheReference() {
        var generator = SeededGenerator(seed: 43)
        for blocks in [1, 2, 5, 16] {
            let count = 256 * blocks
            let y = quantizedActivations(.q8_K, count: count, using: &generator)
            let kernels: [(TensorType, Kernel, Kernel)] = [
                (.q2_K, PortableDot.q2_K, ReferenceDot.q2_K), (.q3_K, PortableDot.q3_K, ReferenceDot.q3_K),
                (.q4_K, PortableDot.q4_K, ReferenceDot.q4_K), (.q5_K, PortableDot.q5_K, ReferenceDot.q5_K),
                (.q6_K, PortableDot.q6_K, ReferenceDot.q6_K),
            ]
            for (type, portable, reference) in kernels {
                let w = RandomBlocks.weights(type, count: count, using: &generator)
                let (got, expected) = w.withUnsafeBytes { w in
                    y.withUnsafeBytes { (portable(w.baseAddress!, $0.baseAddress!, blocks), reference(w.baseAddress!, $0.baseAddress!, blocks)) }
                }
                XCTAssertEqual(got.bitPattern, expected.bitPattern, "\(type), \(blocks) blocks: \(got) vs \(expected)")
            }
        }
    }

    /// Q4_1 against Q8_1 activations: the AVX2 kernels' two chains bit for bit (exact integer sum per block).
    func testQ4_1MatchesTheChainOrder() {
        var generator = SeededGenerator(seed: 44)
        for blocks in [1, 2, 3, 8, 64] {
            let count = 32 * blocks
            let y = quantizedActivations(.q8_1, count: count, using: &generator)
            let w = RandomBlocks.weights(.q4_1, count: count, using: &generator)
            let got = w.withUnsafeBytes { w in y.withUnsafeBytes { PortableDot.q4_1(w.baseAddress!, $0.baseAddress!, blocks) } }
            let expected = NibbleChainTests.expected(.q4_1, w, y, blocks: blocks)
            XCTAssertEqual(got.bitPattern, expected.bitPattern, "Q4_1, \(blocks) blocks: \(got) vs \(expected)")
        }
    }
}
