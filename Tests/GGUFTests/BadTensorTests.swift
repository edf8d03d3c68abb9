import XCTest
@testable import GGUF

/// docs/formats.md §4, tensor table part: names, shapes, types, sizes and offsets.
final class BadTensorTests: XCTestCase {
    /// One tensor info followed by an aligned data section of `dataBytes` bytes.
    func oneTensor(_ name: String = "t", dimensions: [UInt64], type: TensorType = .f32, typeID: UInt32? = nil,
                   offset: UInt64 = 0, dataBytes: Int = 64) -> [UInt8] {
        var raw = RawBytes()
        raw.header(tensors: 1, keys: 0)
        raw.tensorInfo(name, dimensions: dimensions, type: typeID ?? type.rawValue, offset: offset)
        raw.padAndData(count: dataBytes)
        return raw.bytes
    }

    func testTensorNameLengthMaxOrPastTheEnd() {
        var raw = RawBytes()
        raw.header(tensors: 1, keys: 0)
        raw.u64(UInt64.max)
        raw.bytes += Array(repeating: 0, count: 40)
        assertThrows(raw.bytes, .truncated(what: "tensor name #0 (string of 18446744073709551615 bytes)", offset: 32))
        raw.bytes.replaceSubrange(24..<32, with: [41, 0, 0, 0, 0, 0, 0, 0])
        assertThrows(raw.bytes, .truncated(what: "tensor name #0 (string of 41 bytes)", offset: 32))
    }

    func testDuplicateTensorName() {
        var writer = GGUFWriter()
        writer.addTensor("blk.0.attn_q.weight", dimensions: [8], type: .f32, data: Array(repeating: 0, count: 32))
        writer.addTensor("blk.0.attn_q.weight", dimensions: [8], type: .f32, data: Array(repeating: 0, count: 32))
        assertThrows(writer.bytes(), .duplicateTensor("blk.0.attn_q.weight"))
    }

    func testDimensionCountZeroOrAboveFour() {
        for count: UInt32 in [0, 5, 64, UInt32.max] {
            var raw = RawBytes()
            raw.header(tensors: 1, keys: 0)
            raw.string("t")
            raw.u32(count)
            raw.bytes += Array(repeating: 1, count: 64)
            assertThrows(raw.bytes, .badTensor(name: "t", reason: "dimension count \(count) (must be 1...4)"))
        }
    }

    func testZeroDimension() {
        assertThrows(oneTensor(dimensions: [0]), .badTensor(name: "t", reason: "dimension 0 is 0"))
        assertThrows(oneTensor(dimensions: [8, 1, 0]), .badTensor(name: "t", reason: "dimension 2 is 0"))
    }

    func testDimensionLargerThanInt() {
        assertThrows(oneTensor(dimensions: [1 << 63]), .badTensor(name: "t", reason: "dimension 0 is 9223372036854775808"))
        assertThrows(oneTensor(dimensions: [4, UInt64.max]), .badTensor(name: "t", reason: "dimension 1 is 18446744073709551615"))
    }

    func testElementCountOverflow() {
        for dimensions: [UInt64] in [[1 << 32, 1 << 32], [1 << 16, 1 << 16, 1 << 16, 1 << 16], [3, 1 << 62]] {
            assertThrows(oneTensor(dimensions: dimensions), .badTensor(name: "t", reason: "element count overflows"))
        }
    }

    func testByteSizeOverflowForABlockFormat() {
        // 2^62 elements fit in Int; as F32 (4 bytes) or F64 (8) they do not.
        assertThrows(oneTensor(dimensions: [1 << 31, 1 << 31], type: .f32), .badTensor(name: "t", reason: "byte size overflows"))
        assertThrows(oneTensor(dimensions: [1 << 30, 1 << 31], type: .f64), .badTensor(name: "t", reason: "byte size overflows"))
        // Q8_0 (34 bytes per 32 elements): 31·2^58 elements fit in Int, their 31·2^53 blocks × 34 bytes do not.
        assertThrows(oneTensor(dimensions: [32, 31 << 53], type: .q8_0), .badTensor(name: "t", reason: "byte size overflows"))
        // Q4_0 shrinks (18 bytes per 32 elements), so the same shape fits in Int but not in the file.
        assertBadTensor(oneTensor(dimensions: [1 << 31, 1 << 31], type: .q4_0), name: "t", reasonContains: "runs past the end")
    }

    func testRowLengthNotAMultipleOfTheBlock() {
        assertThrows(oneTensor(dimensions: [33], type: .q4_0),
                     .badTensor(name: "t", reason: "row length 33 is not a multiple of the Q4_0 block size 32"))
        // 32 × 8 = 256 elements is one Q4_K block in total, but rows must hold whole blocks.
        assertThrows(oneTensor(dimensions: [32, 8], type: .q4_K),
                     .badTensor(name: "t", reason: "row length 32 is not a multiple of the Q4_K block size 256"))
        assertThrows(oneTensor(dimensions: [16, 2], type: .q8_0),
                     .badTensor(name: "t", reason: "row length 16 is not a multiple of the Q8_0 block size 32"))
    }

    func testTensorTypeOutOfRange() {
        // 4 and 5 were Q4_2/Q4_3 (removed); 31 and above are not in our table.
        for type: UInt32 in [4, 5, 31, 39, 1000, UInt32.max] {
            assertThrows(oneTensor(dimensions: [8], typeID: type), .unknownTensorType(name: "t", type: type))
        }
    }

    func testOffsetNotAligned() {
        assertThrows(oneTensor(dimensions: [4], offset: 8),
                     .badTensor(name: "t", reason: "offset 8 is not a multiple of the alignment 32"))
        assertThrows(oneTensor(dimensions: [4], offset: 1),
                     .badTensor(name: "t", reason: "offset 1 is not a multiple of the alignment 32"))
        var raw = RawBytes()
        raw.header(tensors: 1, keys: 1)
        raw.keyU32("general.alignment", 64)
        raw.tensorInfo("t", dimensions: [4], type: TensorType.f32.rawValue, offset: 32)
        raw.padAndData(alignment: 64, count: 128)
        assertThrows(raw.bytes, .badTensor(name: "t", reason: "offset 32 is not a multiple of the alignment 64"))
    }

    func testOffsetOrSizePastTheEnd() {
        assertThrows(oneTensor(dimensions: [4], offset: 1 << 40),
                     .badTensor(name: "t", reason: "data (offset 1099511627776, 16 bytes) runs past the end of the file (data section holds 64 bytes)"))
        let highestAligned = UInt64.max & ~31
        assertThrows(oneTensor(dimensions: [4], offset: highestAligned),
                     .badTensor(name: "t", reason: "data (offset \(highestAligned), 16 bytes) runs past the end of the file (data section holds 64 bytes)"))
        // Offset inside, size past the end: 17 floats at offset 0 and 4 floats at offset 64.
        assertThrows(oneTensor(dimensions: [17]),
                     .badTensor(name: "t", reason: "data (offset 0, 68 bytes) runs past the end of the file (data section holds 64 bytes)"))
        assertThrows(oneTensor(dimensions: [1], offset: 64),
                     .badTensor(name: "t", reason: "data (offset 64, 4 bytes) runs past the end of the file (data section holds 64 bytes)"))
        // Exactly fitting is fine.
        XCTAssertNoThrow(try GGUFFile.parse(oneTensor(dimensions: [16])))
        XCTAssertNoThrow(try GGUFFile.parse(oneTensor(dimensions: [8], offset: 32)))
    }

    func testOverlappingTensors() {
        var raw = RawBytes()
        raw.header(tensors: 2, keys: 0)
        raw.tensorInfo("a", dimensions: [16], type: TensorType.f32.rawValue, offset: 0)  // bytes 0..<64
        raw.tensorInfo("b", dimensions: [8], type: TensorType.f32.rawValue, offset: 32)  // bytes 32..<64
        raw.padAndData(count: 128)
        assertThrows(raw.bytes, .badTensor(name: "b", reason: "data overlaps tensor \"a\""))

        var same = RawBytes()
        same.header(tensors: 2, keys: 0)
        same.tensorInfo("a", dimensions: [8], type: TensorType.f32.rawValue, offset: 0)
        same.tensorInfo("b", dimensions: [8], type: TensorType.f32.rawValue, offset: 0)
        same.padAndData(count: 64)
        assertThrows(same.bytes) { error in
            guard case .badTensor(_, let reason) = error else { return false }
            return reason.hasPrefix("data overlaps tensor")
        }
    }

    func testAdjacentTensorsDoNotOverlap() throws {
        var raw = RawBytes()
        raw.header(tensors: 2, keys: 0)
        raw.tensorInfo("b", dimensions: [8], type: TensorType.f32.rawValue, offset: 32)
        raw.tensorInfo("a", dimensions: [8], type: TensorType.f32.rawValue, offset: 0)
        raw.padAndData(count: 64)
        XCTAssertEqual(try GGUFFile.parse(raw.bytes).tensors.count, 2)
    }
}
