import GGUF
import Tensors
import XCTest

final class ReferenceDotTests: XCTestCase {
    /// The dot of a weight row with quantized activations equals the float64 dot of the dequantized
    /// weights with the dequantized activations: integer sums are exact, so only a few float
    /// roundings per block remain (bound: 1e-5 of Σ|w·a|). Q8_1's s field is d·Σq rounded to f16
    /// with the unrounded d, so for Q4_1/Q5_1 we also allow Σ |m · (s − d·Σq)| per block.
    func testReferenceDotMatchesDequantizedDot() throws {
        let activations = try Fixtures.activations()
        for type in Fixtures.weightTypes {
            let weights = try Fixtures.weights(type)
            let activationType = BlockFormat.activationType(for: type)
            let quantized = BlockFormat.quantized(activationType, activations)
            let w = BlockFormat.dequantized(type, weights, count: Fixtures.elements)
            let a = BlockFormat.dequantized(activationType, quantized, count: Fixtures.elements)
            var exact: Double = 0, magnitude: Double = 0
            for i in 0..<w.count {
                exact += Double(w[i]) * Double(a[i])
                magnitude += abs(Double(w[i]) * Double(a[i]))
            }
            var tolerance = 1e-5 * magnitude + 1e-12
            if activationType == .q8_1 { tolerance += q8_1SumSlack(type, weights, quantized) }
            for reference in [true, false] {
                let dot = BlockFormat.dot(type, weights, quantized, count: Fixtures.elements, reference: reference)
                XCTAssertEqual(Double(dot), exact, accuracy: tolerance, "\(type) reference=\(reference)")
            }
        }
    }

    /// Against an all-float dot (dequantized weights · original activations) the only extra error
    /// is the activations' rounding: half a step of the Q8 grid (amax/127 of the block) per
    /// element, 2^-11 relative for F16 and 2^-8 for BF16.
    func testDotAgainstAllFloatDot() throws {
        let activations = try Fixtures.activations()
        for type in Fixtures.weightTypes {
            let weights = try Fixtures.weights(type)
            let activationType = BlockFormat.activationType(for: type)
            let quantized = BlockFormat.quantized(activationType, activations)
            let w = BlockFormat.dequantized(type, weights, count: Fixtures.elements)
            var exact: Double = 0, bound: Double = 0
            let blockSize = activationType.blockSize
            for start in stride(from: 0, to: w.count, by: blockSize) {
                let amax = activations[start..<(start + blockSize)].map { abs(Double($0)) }.max() ?? 0
                for i in start..<(start + blockSize) {
                    exact += Double(w[i]) * Double(activations[i])
                    let step: Double
                    switch activationType {
                    case .f32: step = 0
                    case .f16: step = abs(Double(activations[i])) * 0x1p-11 + 0x1p-25
                    case .bf16: step = abs(Double(activations[i])) * 0x1p-8
                    default: step = amax / 127 * 0.5 * 1.001
                    }
                    bound += abs(Double(w[i])) * step + 1e-5 * abs(Double(w[i]) * Double(activations[i]))
                }
            }
            if activationType == .q8_1 { bound += q8_1SumSlack(type, weights, quantized) }
            let dot = BlockFormat.dot(type, weights, quantized, count: Fixtures.elements, reference: true)
            XCTAssertEqual(Double(dot), exact, accuracy: bound + 1e-9, "\(type)")
        }
    }

    /// Σ over blocks of |m · (s − d·Σq)|: what Q8_1's precomputed, f16-rounded s contributes.
    private func q8_1SumSlack(_ type: TensorType, _ weights: [UInt8], _ activations: [UInt8]) -> Double {
        var slack: Double = 0
        for block in 0..<(Fixtures.elements / 32) {
            let w = block * type.blockBytes, a = block * 40
            let m = Double(Float(Float16(bitPattern: UInt16(weights[w + 2]) | UInt16(weights[w + 3]) << 8)))
            let d = Double(float(activations, a)), s = Double(float(activations, a + 4))
            let sum = (0..<32).reduce(0) { $0 + Int(Int8(bitPattern: activations[a + 8 + $1])) }
            slack += abs(m * (s - d * Double(sum)))
        }
        return slack * 1.001
    }

    private func float(_ bytes: [UInt8], _ offset: Int) -> Float {
        Float(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
    }
}
