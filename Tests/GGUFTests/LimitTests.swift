import XCTest
@testable import GGUF

/// Counts a file could hold but that would cost far more memory than any real model needs
/// (docs/formats.md §4: bounded memory): refused with .countOverLimit, just below the limit accepted.
final class LimitTests: XCTestCase {
    func byteArray(_ key: String, count: Int) -> [UInt8] {
        var raw = RawBytes()
        raw.string(key)
        raw.u32(GGUFValueType.array.rawValue)
        raw.u32(GGUFValueType.uint8.rawValue)
        raw.u64(UInt64(count))
        raw.bytes += Array(repeating: 7, count: count)
        return raw.bytes
    }

    func testOneArrayOverTheElementLimit() {
        let limit = GGUFFile.maximumArrayElements
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 1)
        raw.bytes += byteArray("k", count: limit + 1)
        assertThrows(raw.bytes, .countOverLimit(what: "total array length (through k)", count: UInt64(limit + 1), limit: limit))
    }

    func testArraysTogetherOverTheElementLimit() throws {
        let limit = GGUFFile.maximumArrayElements
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 2)
        raw.bytes += byteArray("first", count: limit / 2)
        raw.bytes += byteArray("second", count: limit / 2)
        let atLimit = try GGUFFile.parse(raw.bytes)
        guard case .array(.uint8, let values)? = atLimit.metadata["second"] else { return XCTFail("second array missing") }
        XCTAssertEqual(values.count, limit / 2)

        raw.bytes.replaceSubrange(16..<24, with: [3, 0, 0, 0, 0, 0, 0, 0])
        raw.bytes += byteArray("third", count: 1)
        assertThrows(raw.bytes, .countOverLimit(what: "total array length (through third)", count: UInt64(limit + 1), limit: limit))
    }

    func testKeyCountOverTheLimit() {
        let limit = GGUFFile.maximumKeyCount
        var raw = RawBytes()
        raw.header(tensors: 0, keys: UInt64(limit + 1))
        raw.bytes += Array(repeating: 0, count: (limit + 1) * 13)  // enough bytes that the count is plausible
        assertThrows(raw.bytes, .countOverLimit(what: "metadata count", count: UInt64(limit + 1), limit: limit))
    }

    func testTensorCountOverTheLimit() {
        let limit = GGUFFile.maximumTensorCount
        var raw = RawBytes()
        raw.header(tensors: UInt64(limit + 1), keys: 0)
        raw.bytes += Array(repeating: 0, count: (limit + 1) * 32)
        assertThrows(raw.bytes, .countOverLimit(what: "tensor count", count: UInt64(limit + 1), limit: limit))
    }

    func testLimitsLeaveRoomForRealVocabularies() {
        // Llama 3 needs 536,659 array elements; the largest published vocabularies are about twice that.
        XCTAssertGreaterThan(GGUFFile.maximumArrayElements, 4 * 536_659)
        XCTAssertGreaterThan(GGUFFile.maximumTensorCount, 100_000)
    }
}
