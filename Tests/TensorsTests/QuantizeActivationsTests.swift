import GGUF
import Tensors
import XCTest

final class QuantizeActivationsTests: XCTestCase {
    /// Byte-exact against gguf-py (F16, BF16, and Q4_0 for KV cache rows: its reference quantizer, as
    /// llama.cpp's) and the tool's numpy transcriptions of what llama.cpp's x86 backend computes (Q8_0, Q8_1:
    /// x·(127/amax) rounded half to even; Q8_K).
    func testActivationBytesMatchFixtures() throws {
        let activations = try Fixtures.activations()
        XCTAssertEqual(activations.count, Fixtures.elements)
        for type in [TensorType.q8_0, .q8_1, .q8_K, .f16, .bf16, .q4_0] {
            let expected = try Fixtures.bytes("activations.\(type.name).bin")
            let actual = BlockFormat.quantized(type, activations)
            XCTAssertEqual(actual.count, expected.count, "\(type)")
            let firstDifference = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }
            XCTAssertNil(firstDifference, "\(type): first differing byte at \(firstDifference?.offset ?? -1)")
        }
    }

    /// Q8_K keeps the extreme value at exactly −127 whatever its sign, and its bsums are the sums.
    func testQ8KSignTrickAndSums() {
        var values = [Float](repeating: 0.25, count: 256)
        values[3] = 3.0
        var block = BlockFormat.quantized(.q8_K, values)
        XCTAssertEqual(Int8(bitPattern: block[4 + 3]), -127)
        values[3] = -3.0
        block = BlockFormat.quantized(.q8_K, values)
        XCTAssertEqual(Int8(bitPattern: block[4 + 3]), -127)
        XCTAssertEqual(Int8(bitPattern: block[4 + 0]), 11)  // 0.25 · 127/3 = 10.58
        let firstSum = Int16(bitPattern: UInt16(block[260]) | UInt16(block[261]) << 8)
        XCTAssertEqual(firstSum, 15 * 11 - 127)
        // Equal magnitudes of both signs: the first one sets the sign (as ggml's loop), here the later −3.
        values[3] = 0.25
        values[100] = -3.0
        values[200] = 3.0
        block = BlockFormat.quantized(.q8_K, values)
        XCTAssertEqual(Int8(bitPattern: block[4 + 100]), -127)
        XCTAssertEqual(Int8(bitPattern: block[4 + 200]), 127)
        XCTAssertEqual(Int8(bitPattern: block[4 + 0]), 11)
    }

    /// Non-finite activations (from a corrupt model) must not trap.
    func testNonFiniteInputsDoNotTrap() {
        var values = [Float](repeating: 1, count: 256)
        values[0] = .nan
        values[1] = .infinity
        for type in [TensorType.q8_0, .q8_1, .q8_K, .f16, .bf16, .q4_0] {
            _ = BlockFormat.quantized(type, values)
        }
    }
}
