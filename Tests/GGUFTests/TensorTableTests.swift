import XCTest
@testable import GGUF

/// The tensor table: shapes, types, sizes, alignment of the data section and `tensorData` pointers.
final class TensorTableTests: XCTestCase {
    /// Deterministic distinct bytes so a pointer at the wrong place reads the wrong content.
    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }

    func makeWriter(alignment: Int?) -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("test"))
        if let alignment {
            writer.alignment = alignment
            writer.set("general.alignment", .uint32(UInt32(alignment)))
        }
        // Sizes chosen so that every tensor needs padding after it (none is a multiple of 32 or 64 bytes
        // except the last).
        writer.addTensor("f32.vector", dimensions: [5], type: .f32, data: Self.pattern(20, seed: 1))
        writer.addTensor("f16.matrix", dimensions: [3, 2], type: .f16, data: Self.pattern(12, seed: 2))
        writer.addTensor("q4_0.matrix", dimensions: [64, 3], type: .q4_0, data: Self.pattern(2 * 3 * 18, seed: 3))
        writer.addTensor("q8_0.cube", dimensions: [32, 2, 2], type: .q8_0, data: Self.pattern(4 * 34, seed: 4))
        writer.addTensor("q4_k.row", dimensions: [256], type: .q4_K, data: Self.pattern(144, seed: 5))
        writer.addTensor("bf16.4d", dimensions: [2, 2, 2, 2], type: .bf16, data: Self.pattern(32, seed: 6))
        return writer
    }

    func check(alignment: Int?) throws {
        let writer = makeWriter(alignment: alignment)
        let bytes = writer.bytes()
        let file = try GGUFFile.parse(bytes)
        let expectedAlignment = alignment ?? 32
        XCTAssertEqual(file.alignment, expectedAlignment)
        XCTAssertEqual(file.dataOffset % expectedAlignment, 0)
        XCTAssertEqual(file.byteCount, bytes.count)
        XCTAssertEqual(file.tensors.map(\.name), writer.tensors.map(\.name))
        XCTAssertEqual(file.tensors.map(\.dimensions), writer.tensors.map(\.dimensions))
        XCTAssertEqual(file.tensors.map(\.type), [.f32, .f16, .q4_0, .q8_0, .q4_K, .bf16])
        XCTAssertEqual(file.tensors.map(\.byteCount), [20, 12, 108, 136, 144, 32])
        XCTAssertEqual(file.tensors.map(\.elementCount), [5, 6, 192, 128, 256, 16])
        XCTAssertEqual(file.tensorBytes, 20 + 12 + 108 + 136 + 144 + 32)

        // Offsets: each tensor starts at the next multiple of the alignment after the previous one.
        var expectedOffset = 0
        for (info, written) in zip(file.tensors, writer.tensors) {
            XCTAssertEqual(info.offset, expectedOffset, info.name)
            XCTAssertEqual(info.offset % expectedAlignment, 0, info.name)
            let pointer = file.tensorData(info)
            XCTAssertEqual(pointer, file.base + file.dataOffset + expectedOffset, info.name)
            XCTAssertEqual(Int(bitPattern: pointer) % expectedAlignment, 0, "\(info.name) is aligned in memory")
            let content = Array(UnsafeRawBufferPointer(start: pointer, count: info.byteCount))
            XCTAssertEqual(content, written.data, info.name)
            // The same bytes sit at the same place in the file image.
            XCTAssertEqual(Array(bytes[(file.dataOffset + info.offset)...].prefix(info.byteCount)), written.data, info.name)
            expectedOffset += (info.byteCount + expectedAlignment - 1) / expectedAlignment * expectedAlignment
        }
        XCTAssertEqual(file.tensor(named: "q8_0.cube"), file.tensors[3])
        XCTAssertNil(file.tensor(named: "missing"))
        withExtendedLifetime(file) {}
    }

    func testDefaultAlignment32() throws { try check(alignment: nil) }
    func testCustomAlignment64() throws { try check(alignment: 64) }
    func testAlignmentOne() throws { try check(alignment: 1) }

    func testDataOffsetIsTheFirstMultipleOfTheAlignmentAfterTheInfos() throws {
        var raw = RawBytes()
        raw.header(tensors: 1, keys: 1)
        raw.keyU32("general.alignment", 64)
        raw.tensorInfo("t", dimensions: [4], type: TensorType.f32.rawValue, offset: 0)
        let infosEnd = raw.bytes.count
        raw.padAndData(alignment: 64, count: 16)
        let file = try GGUFFile.parse(raw.bytes)
        XCTAssertEqual(file.dataOffset, (infosEnd + 63) / 64 * 64)
        XCTAssertEqual(file.dataOffset, raw.bytes.count - 16)
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: file.tensorData(file.tensors[0]), count: 16)), Array(0..<16))
    }

    func testTensorsMayBeListedOutOfOffsetOrder() throws {
        var raw = RawBytes()
        raw.header(tensors: 2, keys: 0)
        raw.tensorInfo("second", dimensions: [8], type: TensorType.f32.rawValue, offset: 32)
        raw.tensorInfo("first", dimensions: [8], type: TensorType.f32.rawValue, offset: 0)
        raw.padAndData(count: 64)
        let file = try GGUFFile.parse(raw.bytes)
        XCTAssertEqual(file.tensors.map(\.name), ["second", "first"])
        XCTAssertEqual(file.tensor(named: "second")?.offset, 32)
        XCTAssertEqual(file.tensorData(file.tensors[0]).load(as: UInt8.self), 32)
    }

    func testByteCountsOfEveryBlockFormat() {
        // Geometry from docs/formats.md §2: (elements per block, bytes per block).
        let expected: [TensorType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22),
            .q5_1: (32, 24), .q8_0: (32, 34), .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144),
            .q5_K: (256, 176), .q6_K: (256, 210), .iq2_xxs: (256, 66), .iq2_xs: (256, 74), .iq3_xxs: (256, 98),
            .iq1_s: (256, 50), .iq4_nl: (32, 18), .iq3_s: (256, 110), .iq2_s: (256, 82), .iq4_xs: (256, 136),
            .iq1_m: (256, 56), .q8_K: (256, 292), .q8_1: (32, 40),
        ]
        for (type, (block, bytes)) in expected {
            XCTAssertEqual(type.blockSize, block, type.name)
            XCTAssertEqual(type.blockBytes, bytes, type.name)
            XCTAssertEqual(type.byteCount(elements: block * 3), bytes * 3, type.name)
            if block > 1 { XCTAssertNil(type.byteCount(elements: block + 1), type.name) }
        }
        XCTAssertNil(TensorType.f32.byteCount(elements: Int.max), "overflow is reported, not trapped")
        XCTAssertNil(TensorType.f32.byteCount(elements: -4))
    }
}
