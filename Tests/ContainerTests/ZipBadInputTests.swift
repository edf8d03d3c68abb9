import Foundation
import XCTest
@testable import Container

/// docs/formats.md §4, ZIP items: records lying about sizes or offsets, a compressed or encrypted `.gguf`,
/// zero or two `.gguf` members (see WeightsResolverTests), truncated archives and split parts, counts
/// that overflow, garbage end records. Every case must end in a thrown ContainerError, never a crash.
final class ZipBadInputTests: XCTestCase {
    /// A valid bundle image and the offsets of its records.
    struct Image {
        var bytes: [UInt8]
        let endOffset: Int
        let locatorOffset: Int
        let zip64EndOffset: Int
        let centralDirectoryOffset: Int
        /// Central directory header of Model.gguf (the second and last member).
        let modelHeaderOffset: Int
        let modelLocalHeaderOffset: Int

        var modelExtraOffset: Int { modelHeaderOffset + 46 + "Model.gguf".utf8.count }

        mutating func set(_ offset: Int, _ value: UInt64, width: Int) {
            for index in 0..<width { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index)) }
        }
    }

    private func makeImage() throws -> Image {
        let scratch = try ScratchDirectory()
        let path = scratch.file("good.llamafile")
        let written = try writeBundle(
            to: path, prefix: Array("\u{7F}ELF".utf8) + pseudoRandomBytes(count: 3000, seed: 1),
            members: [(".args", Array("-n 1".utf8)), ("Model.gguf", fakeGGUF(count: 40_000, seed: 2))], scratch: scratch)
        let bytes = try scratch.read("good.llamafile")
        let end = bytes.count - 22
        let locator = end - 20
        let zip64End = locator - 56
        let centralDirectory = Int(littleEndian(bytes, zip64End + 48, 8))
        let firstNameLength = Int(littleEndian(bytes, centralDirectory + 28, 2))
        let modelHeader = centralDirectory + 46 + firstNameLength + 28
        return Image(bytes: bytes, endOffset: end, locatorOffset: locator, zip64EndOffset: zip64End,
                     centralDirectoryOffset: centralDirectory, modelHeaderOffset: modelHeader,
                     modelLocalHeaderOffset: Int(written[1].localHeaderOffset))
    }

    private func parse(_ bytes: [UInt8]) throws -> ZipArchive {
        try bytes.withUnsafeBytes { try ZipArchive(bytes: $0, name: "image") }
    }

    /// Asserts that parsing throws a ContainerError matching `expected` (when given).
    private func assertRejects(_ image: Image, _ label: String, file: StaticString = #filePath, line: UInt = #line,
                               _ expected: ((ContainerError) -> Bool)? = nil) {
        do {
            let archive = try parse(image.bytes)
            XCTFail("\(label): parsed with \(archive.entries.count) entries", file: file, line: line)
        } catch let error as ContainerError {
            if let expected, !expected(error) { XCTFail("\(label): unexpected error \(error)", file: file, line: line) }
            XCTAssertFalse(error.description.contains("\n"), "one-line errors", file: file, line: line)
        } catch {
            XCTFail("\(label): not a ContainerError: \(error)", file: file, line: line)
        }
    }

    private func isBadField(_ field: String) -> (ContainerError) -> Bool {
        { if case .badField(_, _, let name, _, _) = $0 { return name.contains(field) } else { return false } }
    }

    private func isBadSignature(_ error: ContainerError) -> Bool {
        if case .badSignature = error { return true } else { return false }
    }

    private func isSplitPart(_ error: ContainerError) -> Bool {
        if case .splitPart = error { return true } else { return false }
    }

    func testTheGoodImageParses() throws {
        let image = try makeImage()
        XCTAssertEqual(try parse(image.bytes).entries.map(\.name), [".args", "Model.gguf"])
        XCTAssertEqual(littleEndian(image.bytes, image.modelExtraOffset, 2), 1, "test offsets are right")
    }

    func testLyingCounts() throws {
        let good = try makeImage()
        for (label, total, onDisk) in [("2^64-1", UInt64.max, UInt64.max), ("2^32", UInt64(1) << 32, UInt64(1) << 32),
                                       ("3 (one too many)", 3, 3)] {
            var image = good
            image.set(image.zip64EndOffset + 24, onDisk, width: 8)
            image.set(image.zip64EndOffset + 32, total, width: 8)
            assertRejects(image, "entry count \(label)")
        }
        var mismatch = good
        mismatch.set(mismatch.zip64EndOffset + 24, 1, width: 8)
        assertRejects(mismatch, "entries on disk", isBadField("entries on this disk"))
    }

    func testLyingCentralDirectorySizeAndOffset() throws {
        let good = try makeImage()
        let cases: [(String, Int, UInt64, ((ContainerError) -> Bool)?)] = [
            ("size 2^64-1", 40, .max, isBadField("central directory size")),
            ("size one too big", 40, littleEndian(good.bytes, good.zip64EndOffset + 40, 8) + 1, isBadField("central directory size")),
            ("size 0", 40, 0, nil),
            ("offset 2^64-6", 48, .max - 5, nil),
            ("offset past EOF", 48, 1 << 40, isSplitPart),
            ("offset one short", 48, UInt64(good.centralDirectoryOffset - 1), isBadSignature),
            ("offset 0", 48, 0, nil),
            ("record size 3", 4, 3, isBadField("record size")),
        ]
        for (label, field, value, expected) in cases {
            var image = good
            image.set(image.zip64EndOffset + field, value, width: 8)
            assertRejects(image, label, expected)
        }
    }

    func testLyingLocator() throws {
        let good = try makeImage()
        for value: UInt64 in [.max, 1 << 40, 100, 0, UInt64(good.zip64EndOffset + 1)] {
            var image = good
            image.set(image.locatorOffset + 8, value, width: 8)
            assertRejects(image, "locator offset \(value)")
        }
        var multiDisk = good
        multiDisk.set(multiDisk.locatorOffset + 16, 3, width: 4)
        assertRejects(multiDisk, "locator disks") { $0 == .multiDiskArchive(path: "image") }
    }

    func testLyingMemberRecords() throws {
        let good = try makeImage()
        let extra = good.modelExtraOffset
        var cases: [(String, (inout Image) -> Void, ((ContainerError) -> Bool)?)] = [
            ("compressed size 2^64-1", { $0.set(extra + 12, .max, width: 8) }, isBadField("compressed size")),
            ("sizes one too big", { $0.set(extra + 4, 40_001, width: 8); $0.set(extra + 12, 40_001, width: 8) }, isBadField("compressed size")),
            ("stored with different sizes", { $0.set(extra + 4, 39_999, width: 8) }, isBadField("size")),
            ("local header offset 2^64-1", { $0.set(extra + 20, .max, width: 8) }, nil),
            ("local header offset 1", { $0.set(extra + 20, 1, width: 8) }, isBadSignature),
            ("local header offset in central directory", { $0.set(extra + 20, UInt64(good.centralDirectoryOffset), width: 8) }, isBadField("local header offset")),
            ("name length 0xFFFF", { $0.set(good.modelHeaderOffset + 28, 0xFFFF, width: 2) }, isBadField("name/extra/comment length")),
            ("extra length 0xFFFF", { $0.set(good.modelHeaderOffset + 30, 0xFFFF, width: 2) }, isBadField("name/extra/comment length")),
            ("ZIP64 extra missing", { $0.set(extra, 0x9999, width: 2) }, isBadField("without a ZIP64 extra field")),
            ("ZIP64 extra too short", { $0.set(extra + 2, 8, width: 2) }, isBadField("ZIP64 extra length")),
            ("ZIP64 extra longer than the extra field", { $0.set(extra + 2, 200, width: 2) }, isBadField("extra field length")),
            ("central header signature", { $0.set(good.modelHeaderOffset, 0x12345678, width: 4) }, isBadSignature),
            ("local header signature", { $0.set(good.modelLocalHeaderOffset, 0, width: 4) }, isBadSignature),
            ("local name length", { $0.set(good.modelLocalHeaderOffset + 26, 3, width: 2) }, isBadField("name")),
            ("local extra length huge", { $0.set(good.modelLocalHeaderOffset + 28, 0xFFFF, width: 2) }, nil),
            ("disk start", { $0.set(good.modelHeaderOffset + 34, 2, width: 2) }, { $0 == .multiDiskArchive(path: "image") }),
        ]
        cases.append(("end record disk", { $0.set(good.endOffset + 4, 1, width: 2) }, { $0 == .multiDiskArchive(path: "image") }))
        for (label, mutate, expected) in cases {
            var image = good
            mutate(&image)
            assertRejects(image, label, expected)
        }
    }

    func testGarbageEndRecordsAndTruncation() throws {
        let good = try makeImage()
        var noEnd = good
        for index in noEnd.endOffset..<noEnd.bytes.count { noEnd.bytes[index] = 0xA5 }
        assertRejects(noEnd, "end record garbage") { $0 == .notAnArchive(path: "image") }
        assertRejects(Image(bytes: [], endOffset: 0, locatorOffset: 0, zip64EndOffset: 0, centralDirectoryOffset: 0,
                            modelHeaderOffset: 0, modelLocalHeaderOffset: 0), "empty") { $0 == .notAnArchive(path: "image") }
        // Every cut in the tail, and a sample of cuts elsewhere: always an error.
        let tailStart = good.centralDirectoryOffset - 8
        var cuts = Array(tailStart..<good.bytes.count)
        cuts += Array(stride(from: 0, to: tailStart, by: 4093))
        for cut in cuts {
            let truncated = Array(good.bytes[0..<cut])
            XCTAssertThrowsError(try parse(truncated), "cut at \(cut)") { error in
                XCTAssertTrue(error is ContainerError, "cut at \(cut): \(error)")
            }
        }
        // A comment length pointing past the end: the record is not accepted.
        var comment = good
        comment.set(comment.endOffset + 20, 5, width: 2)
        assertRejects(comment, "comment past end") { $0 == .notAnArchive(path: "image") }
    }

    func testMissingStartIsASplitPart() throws {
        let good = try makeImage()
        for dropped in [1, 4096, 65_536, good.modelLocalHeaderOffset + 100] {
            let tail = Array(good.bytes[dropped...])
            XCTAssertThrowsError(try parse(tail), "dropped \(dropped)") { error in
                XCTAssertTrue(isSplitPart(error as? ContainerError ?? .notAnArchive(path: "")), "dropped \(dropped): \(error)")
            }
        }
    }

    /// Every byte of the central directory and end records set to a few values: no crash, and an
    /// archive that still parses has every member inside the file.
    func testByteFlipsInTheTail() throws {
        let good = try makeImage()
        for offset in good.centralDirectoryOffset..<good.bytes.count {
            for value: UInt8 in [0x00, 0xFF, 0x80, good.bytes[offset] ^ 0x01] {
                var bytes = good.bytes
                bytes[offset] = value
                do {
                    let archive = try parse(bytes)
                    for entry in archive.entries {
                        XCTAssertLessThanOrEqual(entry.dataOffset + entry.compressedSize, UInt64(bytes.count))
                    }
                } catch {
                    XCTAssertTrue(error is ContainerError, "offset \(offset): \(error)")
                }
            }
        }
    }

    func testCompressedAndEncryptedWeightsAreRefused() throws {
        let scratch = try ScratchDirectory()
        var compressed = try makeImage()
        compressed.set(compressed.modelHeaderOffset + 10, 8, width: 2)
        let compressedPath = try scratch.write("compressed.llamafile", compressed.bytes)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: compressedPath)) { error in
            XCTAssertEqual(error as? ContainerError, .compressedMember(archive: compressedPath, member: "Model.gguf", method: 8))
        }
        var encrypted = try makeImage()
        encrypted.set(encrypted.modelHeaderOffset + 8, 0x0801, width: 2)
        let encryptedPath = try scratch.write("encrypted.llamafile", encrypted.bytes)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: encryptedPath)) { error in
            XCTAssertEqual(error as? ContainerError, .encryptedMember(archive: encryptedPath, member: "Model.gguf"))
        }
    }

    func testClassicArchiveLies() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("m.gguf", fakeGGUF(count: 1000, seed: 3))
        guard let made = try runTool("zip", ["-q", "-0", "c.zip", "m.gguf"], currentDirectory: scratch.path) else {
            throw MissingTool(name: "zip")
        }
        XCTAssertEqual(made.status, 0)
        let good = try scratch.read("c.zip")
        let end = good.count - 22
        func mutated(_ field: Int, _ value: UInt64, _ width: Int) -> [UInt8] {
            var bytes = good
            for index in 0..<width { bytes[end + field + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index)) }
            return bytes
        }
        XCTAssertNoThrow(try parse(good))
        for (label, bytes) in [("count 0xFFFF", mutated(10, 0xFFFF, 2)), ("size past end", mutated(12, 0xFFFF_FFFF, 4)),
                               ("size too big", mutated(12, littleEndian(good, end + 12, 4) + 1, 4)),
                               ("offset 0xFFFFFFFF", mutated(16, 0xFFFF_FFFF, 4)), ("on-disk count", mutated(8, 7, 2))] {
            XCTAssertThrowsError(try parse(bytes), label) { error in
                XCTAssertTrue(error is ContainerError, "\(label): \(error)")
            }
        }
    }
}
