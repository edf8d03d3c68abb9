import GGUF
import Tensors
import XCTest

final class DequantizeTests: XCTestCase {
    /// Every format's fixture bytes dequantize to what gguf-py's dequantizer says (1e-6 relative:
    /// essentially exact, the same float operations in the same order).
    func testDequantizeMatchesGGUFPy() throws {
        for type in Fixtures.weightTypes {
            let expected = try Fixtures.expected(type)
            let actual = BlockFormat.dequantized(type, try Fixtures.weights(type), count: Fixtures.elements)
            XCTAssertEqual(expected.count, Fixtures.elements, "\(type)")
            var worst: Float = 0, worstIndex = 0
            for i in 0..<expected.count {
                let error = abs(actual[i] - expected[i]) / max(abs(expected[i]), 1e-30)
                if error > worst { worst = error; worstIndex = i }
            }
            XCTAssertLessThanOrEqual(worst, 1e-6,
                "\(type): element \(worstIndex) is \(actual[worstIndex]), expected \(expected[worstIndex])")
            XCTAssertTrue(BlockFormat.isSupported(type), "\(type)")
        }
    }

    func testUnsupportedTypes() {
        for type in TensorType.allCases where !Fixtures.weightTypes.contains(type) {
            XCTAssertFalse(BlockFormat.isSupported(type), "\(type)")
        }
        XCTAssertFalse(BlockFormat.isSupported(.i16))
        XCTAssertFalse(BlockFormat.isSupported(.q8_K))  // activation format only
        // Unsupported formats do not trap: dequantize writes NaN, dot answers NaN.
        let bytes = [UInt8](repeating: 0x11, count: 66)
        let values = BlockFormat.dequantized(.i16, bytes, count: 32)
        XCTAssertTrue(values.allSatisfy(\.isNaN))
        XCTAssertTrue(BlockFormat.dot(.i16, bytes, bytes, count: 32, reference: false).isNaN)
        XCTAssertTrue(BlockFormat.dot(.q4_0, bytes, bytes, count: 31, reference: false).isNaN)
    }

    func testActivationTypes() {
        let expected: [TensorType: TensorType] = [
            .f32: .f32, .f16: .f16, .bf16: .bf16, .q4_0: .q8_0, .q5_0: .q8_0, .q8_0: .q8_0,
            .iq4_nl: .q8_0, .q4_1: .q8_1, .q5_1: .q8_1, .q2_K: .q8_K, .q3_K: .q8_K, .q4_K: .q8_K,
            .q5_K: .q8_K, .q6_K: .q8_K, .iq4_xs: .q8_K, .iq1_s: .q8_K, .iq1_m: .q8_K, .iq2_xxs: .q8_K,
            .iq2_xs: .q8_K, .iq2_s: .q8_K, .iq3_xxs: .q8_K, .iq3_s: .q8_K,
        ]
        for (weight, activation) in expected {
            XCTAssertEqual(BlockFormat.activationType(for: weight), activation, "\(weight)")
        }
    }

    /// F16 and BF16 conversions at the edges: ties to even, overflow to infinity, subnormals.
    func testHalfConversions() {
        let inputs: [Float] = [1.00048828125, 1.00146484375, 65520, -65504, 5.9604645e-8, 2.9802322e-8, -0.0,
                               1.00390625, 1.01171875, .infinity]
        let half = BlockFormat.quantized(.f16, inputs)
        let halfBits = stride(from: 0, to: half.count, by: 2).map { UInt16(half[$0]) | UInt16(half[$0 + 1]) << 8 }
        XCTAssertEqual(Array(halfBits[0..<7]), [0x3C00, 0x3C02, 0x7C00, 0xFBFF, 0x0001, 0x0000, 0x8000])
        let brain = BlockFormat.quantized(.bf16, inputs)
        let brainBits = stride(from: 0, to: brain.count, by: 2).map { UInt16(brain[$0]) | UInt16(brain[$0 + 1]) << 8 }
        XCTAssertEqual(Array(brainBits[7..<10]), [0x3F80, 0x3F82, 0x7F80])  // 1+2^-8 ties to 1; 1+3·2^-8 to 1+2^-6
    }
}

final class HalfWideningTests: XCTestCase {
    /// All 65,536 half bit patterns widen exactly like the standard library's Float16.
    func testEveryHalfBitPattern() {
        var bytes = [UInt8](repeating: 0, count: 2 * 65536)
        for bits in 0..<65536 {
            bytes[2 * bits] = UInt8(bits & 0xFF)
            bytes[2 * bits + 1] = UInt8(bits >> 8)
        }
        let values = BlockFormat.dequantized(.f16, bytes, count: 65536)
        for bits in 0..<65536 {
            let expected = Float(Float16(bitPattern: UInt16(bits)))
            if expected.isNaN {
                XCTAssertTrue(values[bits].isNaN, "bits \(bits)")
            } else {
                XCTAssertEqual(values[bits].bitPattern, expected.bitPattern, "bits \(bits)")
            }
        }
    }
}
