import Foundation
import XCTest
@testable import GGUF

/// docs/formats.md §4, header part: empty and truncated files, magic, version, byte order, counts.
final class BadHeaderTests: XCTestCase {
    /// A small valid file touching every section: scalars, arrays, custom alignment, tensors, data.
    /// The last tensor fills its aligned slot exactly, so the file has no trailing padding and every
    /// shorter prefix is missing something the reader needs.
    static func smallValidFile() -> [UInt8] {
        var writer = GGUFWriter()
        writer.alignment = 64
        writer.set("general.architecture", .string("llama"))
        writer.set("general.alignment", .uint32(64))
        writer.set("llama.block_count", .uint32(4))
        writer.set("flag", .bool(true))
        writer.set("eps", .float32(1e-5))
        writer.set("tokens", .array(.string, [.string("a"), .string("bc")]))
        writer.set("types", .array(.int32, [.int32(1), .int32(2)]))
        writer.addTensor("embedding", dimensions: [32, 2], type: .q8_0, data: Array(repeating: 1, count: 68))
        writer.addTensor("norm", dimensions: [16], type: .f32, data: Array(repeating: 2, count: 64))
        return writer.bytes()
    }

    func testSmallValidFileParses() throws {
        let bytes = Self.smallValidFile()
        let file = try GGUFFile.parse(bytes)
        XCTAssertEqual(file.tensors.count, 2)
        XCTAssertEqual(file.dataOffset + 128 + 64, bytes.count, "no trailing padding")
    }

    func testEmptyFile() {
        assertThrows([], .truncated(what: "magic", offset: 0))
        // A caller's empty mapping may have no base address at all.
        XCTAssertThrowsError(try GGUFFile(bytes: UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    func testEveryPrefixOfAValidFileThrows() {
        let bytes = Self.smallValidFile()
        let start = Date()
        for length in 0..<bytes.count {
            do {
                _ = try GGUFFile.parse(Array(bytes.prefix(length)))
                XCTFail("prefix of \(length) of \(bytes.count) bytes parsed")
            } catch is GGUFError {
                // Expected; the specific cases for the fixed header are checked below.
            } catch {
                XCTFail("prefix \(length): \(error)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testTruncationInsideTheFixedHeaderNamesTheField() {
        let bytes = Self.smallValidFile()
        assertThrows(Array(bytes.prefix(3)), .truncated(what: "magic", offset: 0))
        assertThrows(Array(bytes.prefix(7)), .truncated(what: "version", offset: 4))
        assertThrows(Array(bytes.prefix(15)), .truncated(what: "tensor count", offset: 8))
        assertThrows(Array(bytes.prefix(23)), .truncated(what: "metadata count", offset: 16))
        // Header complete but no room for the declared 7 key/value pairs.
        assertThrows(Array(bytes.prefix(24)), .countTooLarge(what: "metadata count", count: 7))
    }

    func testTruncatedTensorDataIsBadTensor() {
        let bytes = Self.smallValidFile()
        assertBadTensor(Array(bytes.dropLast(1)), name: "norm", reasonContains: "runs past the end of the file")
    }

    func testTruncatedBeforeTheDataSection() throws {
        var raw = RawBytes()
        raw.header(tensors: 1, keys: 0)
        raw.tensorInfo("t", dimensions: [4], type: TensorType.f32.rawValue, offset: 0)
        // Infos end at 24 + 9 + 4 + 8 + 4 + 8 = 57; the data section would start at 64.
        assertThrows(raw.bytes, .truncated(what: "data section", offset: 64))
    }

    func testPrefixesOfARealVocabularyThrow() throws {
        let url = try testdataDirectory().appendingPathComponent("vocab/ggml-vocab-llama-spm.gguf")
        let bytes = try Array(Data(contentsOf: url))
        // The file has no tensors and ends right after its metadata, so every shorter prefix must fail.
        _ = try GGUFFile.parse(bytes)
        for length in Array(stride(from: 0, to: bytes.count, by: 3_557)) + [bytes.count - 1] {
            XCTAssertThrowsError(try GGUFFile.parse(Array(bytes.prefix(length))), "prefix \(length)")
        }
    }

    func testWrongMagic() {
        var bytes = Self.smallValidFile()
        bytes.replaceSubrange(0..<4, with: Array("GGML".utf8))
        assertThrows(bytes, .badMagic(found: "\"GGML\""))
        bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        assertThrows(bytes, .badMagic(found: "\"\\x7fELF\""))
        bytes.replaceSubrange(0..<4, with: [0x50, 0x4B, 0x03, 0x04])
        assertThrows(bytes, .badMagic(found: "\"PK\\x03\\x04\""))
        assertThrows(Array("FUGG".utf8) + Array(bytes.dropFirst(4)), .badMagic(found: "\"FUGG\""))
    }

    func testUnsupportedVersions() {
        for version: UInt32 in [0, 1, 4, 5, 0xFFFF_FFFF] {
            var raw = RawBytes()
            raw.header(version: version, tensors: 0, keys: 0)
            assertThrows(raw.bytes, .unsupportedVersion(version))
        }
    }

    func testBigEndianFileIsRecognised() {
        // A big-endian GGUF keeps the magic bytes but stores the version (and everything else) reversed.
        for version: UInt32 in [2, 3] {
            var bytes: [UInt8] = Array("GGUF".utf8)
            withUnsafeBytes(of: version.bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt64(0).bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt64(1).bigEndian) { bytes.append(contentsOf: $0) }
            assertThrows(bytes, .unsupportedVersion(version.byteSwapped))
            XCTAssertTrue(GGUFError.unsupportedVersion(version.byteSwapped).description.contains("big-endian"))
        }
    }

    func testMetadataCountLargerThanTheFile() {
        for count: UInt64 in [UInt64.max, UInt64.max / 13, 1 << 32, 8] {
            var raw = RawBytes()
            raw.header(tensors: 0, keys: count)
            raw.keyU32("a", 1)  // 17 bytes: room for one pair, not more
            raw.keyU32("b", 2)  // 34 bytes in all: at most 2 minimal pairs
            assertThrows(raw.bytes, .countTooLarge(what: "metadata count", count: count))
        }
    }

    func testMetadataCountLargerThanThePairsPresent() {
        // Plausible count, but the third pair is not there.
        var raw = RawBytes()
        raw.header(tensors: 0, keys: 3)
        raw.keyU32("alpha", 1)
        raw.keyU32("beta", 2)
        raw.bytes += Array(repeating: 0, count: 8)
        // 8 zero bytes are a key length of 0, then nothing: the empty key is seen first.
        assertThrows(raw.bytes, .emptyKey(index: 2))
        raw.bytes.removeLast(8)
        raw.u64(5)
        raw.bytes += Array("gam".utf8)
        assertThrows(raw.bytes, .truncated(what: "metadata key #2 (string of 5 bytes)", offset: raw.bytes.count - 3))
    }

    func testTensorCountLargerThanTheFile() {
        for count: UInt64 in [UInt64.max, UInt64.max / 32, 1 << 40, 3] {
            var raw = RawBytes()
            raw.header(tensors: count, keys: 0)
            raw.tensorInfo("t", dimensions: [8], type: TensorType.f32.rawValue, offset: 0)
            raw.padAndData(count: 32)
            assertThrows(raw.bytes, .countTooLarge(what: "tensor count", count: count))
        }
    }
}
