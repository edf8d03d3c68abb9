import XCTest
@testable import GGUF

/// docs/formats.md §4, metadata part: strings, keys, value types, arrays, general.alignment.
final class BadMetadataTests: XCTestCase {
    /// Header for one key/value pair followed by `body`, padded so the pair count itself is plausible.
    func onePair(_ body: (inout RawBytes) -> Void, padding: Int = 16) -> [UInt8] {
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 1)
        body(&raw)
        raw.bytes += Array(repeating: 0, count: padding)
        return raw.bytes
    }

    func testKeyLengthMaxOrPastTheEnd() {
        assertThrows(onePair { $0.u64(UInt64.max) },
                     .truncated(what: "metadata key #0 (string of 18446744073709551615 bytes)", offset: 32))
        assertThrows(onePair { $0.u64(17) },  // 16 bytes of padding follow
                     .truncated(what: "metadata key #0 (string of 17 bytes)", offset: 32))
        assertThrows(onePair { $0.u64(1 << 63) },
                     .truncated(what: "metadata key #0 (string of 9223372036854775808 bytes)", offset: 32))
    }

    func testStringValueLengthMaxOrPastTheEnd() {
        // Key "k" at 24..<33, type at 33..<37, length at 37..<45: the string would start at 45.
        for length: UInt64 in [UInt64.max, 1 << 62, 17] {
            let bytes = onePair { raw in
                raw.string("k")
                raw.u32(GGUFValueType.string.rawValue)
                raw.u64(length)
            }
            assertThrows(bytes, .truncated(what: "k (string of \(length) bytes)", offset: 45))
        }
    }

    func testEmptyKey() {
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 2)
        raw.keyU32("a", 1)
        raw.keyU32("", 2)
        assertThrows(raw.bytes, .emptyKey(index: 1))
    }

    func testDuplicateKey() {
        var writer = GGUFWriter()
        writer.metadata = [("general.name", .string("a")), ("x", .uint8(1)), ("general.name", .string("b"))]
        assertThrows(writer.bytes(), .duplicateKey("general.name"))
    }

    func testValueTypeOutOfRange() {
        for type: UInt32 in [13, 14, 255, 0x8000_0000, UInt32.max] {
            let bytes = onePair { raw in raw.string("k"); raw.u32(type); raw.u32(0) }
            assertThrows(bytes, .badValueType(key: "k", type: type))
        }
    }

    func testArrayElementTypeOutOfRange() {
        for type: UInt32 in [13, UInt32.max] {
            let bytes = onePair { raw in
                raw.string("tokens")
                raw.u32(GGUFValueType.array.rawValue)
                raw.u32(type)
                raw.u64(1)
            }
            assertThrows(bytes, .badValueType(key: "tokens", type: type))
        }
    }

    func testNestedArrays() {
        var writer = GGUFWriter()
        writer.set("nested", .array(.array, [.array(.uint8, [.uint8(1)])]))
        assertThrows(writer.bytes(), .nestedArray(key: "nested"))
        // Even an empty nested array is refused: the element type alone is invalid.
        writer.set("nested", .array(.array, []))
        assertThrows(writer.bytes(), .nestedArray(key: "nested"))
    }

    func testArrayCountsWhoseByteSizeOverflowsOrExceedsTheFile() {
        // count × element size: 2^64−1 × 1, 2^61 × 8 (= 2^64), 2^62 × 4, 2^63 strings of ≥ 8 bytes.
        let cases: [(GGUFValueType, UInt64)] = [
            (.uint8, UInt64.max), (.uint64, 1 << 61), (.float64, UInt64.max / 8 + 1), (.uint32, 1 << 62),
            (.string, 1 << 63), (.bool, 1 << 40), (.int16, 9),  // 9 × 2 > 16 bytes of padding
        ]
        for (element, count) in cases {
            let bytes = onePair { raw in
                raw.string("k")
                raw.u32(GGUFValueType.array.rawValue)
                raw.u32(element.rawValue)
                raw.u64(count)
            }
            assertThrows(bytes, .countTooLarge(what: "array length of k", count: count))
        }
    }

    func testArrayOfStringsTruncatedInsideAnElement() {
        let bytes = onePair({ raw in
            raw.string("k")
            raw.u32(GGUFValueType.array.rawValue)
            raw.u32(GGUFValueType.string.rawValue)
            raw.u64(2)
            raw.string("ok")
            raw.u64(100)  // the second string claims 100 bytes
        }, padding: 4)
        // key 24..<33, type ..<37, element type ..<41, count ..<49, "ok" ..<59, length ..<67.
        assertThrows(bytes, .truncated(what: "k (string of 100 bytes)", offset: 67))
    }

    func testBoolOtherThanZeroOrOne() {
        let bytes = onePair { raw in raw.string("flag"); raw.u32(GGUFValueType.bool.rawValue); raw.u8(2) }
        assertThrows(bytes, .wrongType(key: "flag", expected: "bool 0 or 1", found: "2"))
    }

    func alignmentFile(_ value: GGUFValue) -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.alignment", value)
        writer.addTensor("t", dimensions: [8], type: .f32, data: Array(repeating: 0, count: 32))
        return writer.bytes()
    }

    func testAlignmentZeroNotPowerOfTwoOrHuge() {
        for value: UInt32 in [0, 3, 13, 48, 1 << 21, 1 << 31, UInt32.max] {
            assertThrows(alignmentFile(.uint32(value)), .badAlignment("\(value) is not a power of two between 1 and 1048576"))
        }
    }

    func testAlignmentOfTheWrongType() {
        assertThrows(alignmentFile(.uint64(32)), .badAlignment("expected u32, found u64"))
        assertThrows(alignmentFile(.int32(32)), .badAlignment("expected u32, found i32"))
        assertThrows(alignmentFile(.string("32")), .badAlignment("expected u32, found string"))
        assertThrows(alignmentFile(.array(.uint32, [.uint32(32)])), .badAlignment("expected u32, found array"))
    }

    func testLargestAcceptedAlignment() throws {
        var writer = GGUFWriter()
        writer.alignment = 1 << 20
        writer.set("general.alignment", .uint32(1 << 20))
        writer.addTensor("t", dimensions: [8], type: .f32, data: Array(repeating: 0, count: 32))
        let file = try GGUFFile.parse(writer.bytes())
        XCTAssertEqual(file.dataOffset, 1 << 20)
    }
}
