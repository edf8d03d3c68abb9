import Foundation
import XCTest
@testable import Container

final class ZipWriterTests: XCTestCase {
    func testCRC32KnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        // Chunked updates at odd boundaries give the same value as one pass.
        let bytes = pseudoRandomBytes(count: 10_007, seed: 3)
        var chunked = CRC32()
        var start = 0
        for length in [1, 7, 8, 9, 1000, 3, 4096] + [Int](repeating: 977, count: 20) where start < bytes.count {
            let end = min(bytes.count, start + length)
            bytes[start..<end].withUnsafeBytes { chunked.update($0) }
            start = end
        }
        bytes[start...].withUnsafeBytes { chunked.update($0) }
        XCTAssertEqual(chunked.value, CRC32.checksum(bytes))
        XCTAssertEqual(CRC32.checksum(bytes), bitwiseCRC(bytes))
    }

    func testLayoutAlignmentAndDeterminism() throws {
        let scratch = try ScratchDirectory()
        let prefix = pseudoRandomBytes(count: 12_345, seed: 1)
        let members: [(String, [UInt8])] = [
            (".args", Array("-m\nModel.gguf\n...\n".utf8)),
            ("Model.gguf", fakeGGUF(count: 200_003, seed: 2)),
            ("notes/readme.txt", Array("héllo".utf8)),
        ]
        let written = try writeBundle(to: scratch.file("a.llamafile"), prefix: prefix, members: members, scratch: scratch)
        try writeBundle(to: scratch.file("b.llamafile"), prefix: prefix, members: members, scratch: scratch)
        let first = try scratch.read("a.llamafile")
        XCTAssertEqual(first, try scratch.read("b.llamafile"), "same inputs must give the same bytes")
        XCTAssertEqual(Array(first[0..<prefix.count]), prefix, "the prefix is copied verbatim")

        XCTAssertEqual(written.map(\.name), members.map(\.0))
        for (member, (_, bytes)) in zip(written, members) {
            XCTAssertEqual(member.dataOffset % 65_536, 0, "\(member.name) data must start on a 64 KiB boundary")
            let start = Int(member.dataOffset)
            XCTAssertEqual(Array(first[start..<(start + bytes.count)]), bytes)
            XCTAssertEqual(member.crc32, CRC32.checksum(bytes))
            // Local header: signature, UTF-8 flag, stored, CRC, saturated 32-bit sizes, ZIP64 extra with sizes.
            let header = Int(member.localHeaderOffset)
            XCTAssertEqual(Array(first[header..<(header + 4)]), [0x50, 0x4B, 0x03, 0x04])
            XCTAssertEqual(littleEndian(first, header + 6, 2), 0x0800)
            XCTAssertEqual(littleEndian(first, header + 8, 2), 0)
            XCTAssertEqual(littleEndian(first, header + 14, 4), UInt64(member.crc32))
            XCTAssertEqual(littleEndian(first, header + 18, 4), 0xFFFF_FFFF)
            XCTAssertEqual(littleEndian(first, header + 22, 4), 0xFFFF_FFFF)
            let nameLength = Int(littleEndian(first, header + 26, 2))
            let extra = header + 30 + nameLength
            XCTAssertEqual(littleEndian(first, extra, 2), 1)
            XCTAssertEqual(littleEndian(first, extra + 4, 8), UInt64(bytes.count))
            XCTAssertEqual(littleEndian(first, extra + 12, 8), UInt64(bytes.count))
            // Everything between the previous record and this header is zero padding.
        }
        // The file ends with the classic end record with saturated fields and no comment.
        let end = first.count - 22
        XCTAssertEqual(Array(first[end..<(end + 4)]), [0x50, 0x4B, 0x05, 0x06])
        XCTAssertEqual(littleEndian(first, end + 16, 4), 0xFFFF_FFFF)
        XCTAssertEqual(Array(first[(end - 20)..<(end - 16)]), [0x50, 0x4B, 0x06, 0x07])
    }

    func testUnzipAcceptsOutput() throws {
        let scratch = try ScratchDirectory()
        let members: [(String, [UInt8])] = [
            (".args", Array("-n\n16\n".utf8)),
            ("Model.gguf", fakeGGUF(count: 150_000, seed: 5)),
        ]
        let bundle = scratch.file("x.llamafile")
        try writeBundle(to: bundle, prefix: Array("#!/bin/sh\nexit 0\n".utf8), members: members, scratch: scratch)
        guard let list = try runTool("unzip", ["-l", bundle]), let test = try runTool("unzip", ["-t", bundle]) else {
            throw MissingTool(name: "unzip")
        }
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("Model.gguf"), list.output)
        XCTAssertTrue(list.output.contains("150000"), list.output)
        XCTAssertTrue(list.output.contains(".args"), list.output)
        XCTAssertEqual(test.status, 0, test.output)
        XCTAssertTrue(test.output.contains("No errors detected"), test.output)
        // Extraction gives back the exact bytes.
        let extractDirectory = scratch.file("out")
        let extract = try runTool("unzip", ["-q", "-d", extractDirectory, bundle])
        XCTAssertEqual(extract?.status, 0, extract?.output ?? "")
        XCTAssertEqual(try scratch.read("out/Model.gguf"), members[1].1)
    }

    func testPythonZipfileAcceptsOutput() throws {
        let scratch = try ScratchDirectory()
        let gguf = fakeGGUF(count: 70_000, seed: 9)
        let bundle = scratch.file("p.llamafile")
        try writeBundle(to: bundle, prefix: pseudoRandomBytes(count: 5000, seed: 4),
                        members: [("Model.gguf", gguf), ("é.txt", [1, 2, 3])], scratch: scratch)
        let script = """
        import sys, zipfile, zlib
        with zipfile.ZipFile(sys.argv[1]) as archive:
            assert archive.testzip() is None
            for info in archive.infolist():
                data = archive.read(info)
                print(info.filename, info.file_size, info.compress_type, info.flag_bits, zlib.crc32(data) == info.CRC)
        """
        guard let result = try runTool("python3", ["-c", script, bundle]) else {
            throw MissingTool(name: "python3")
        }
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "Model.gguf 70000 0 2048 True\né.txt 3 0 2048 True\n")
    }

    func testRejectsBadNamesAndMisuse() throws {
        let scratch = try ScratchDirectory()
        let writer = try ZipWriter(output: PartedOutput(path: scratch.file("n.zip")))
        for bad in ["", "/etc/passwd", "../up", "a/../../b", "nul\u{0}x", "back\\slash"] {
            XCTAssertThrowsError(try writer.addMember(name: bad, bytes: [1])) { error in
                guard case ContainerError.invalidMemberName = error else { return XCTFail("\(error)") }
            }
        }
        try writer.addMember(name: "a", bytes: [1])
        XCTAssertThrowsError(try writer.addMember(name: "a", bytes: [2]))
        XCTAssertThrowsError(try writer.appendPrefix(fromFile: scratch.write("p", [1])))
        XCTAssertThrowsError(try ZipWriter(output: PartedOutput(path: scratch.file("m.zip")), alignment: 3))
        XCTAssertThrowsError(try writer.addMember(name: "missing", fromFile: scratch.file("does-not-exist"))) { error in
            XCTAssertEqual(error as? ContainerError, .fileNotFound(path: scratch.file("does-not-exist")))
        }
    }

    func testOutputRefusesToClobber() throws {
        let scratch = try ScratchDirectory()
        let existing = try scratch.write("exists.llamafile", [9])
        let writer = try ZipWriter(output: PartedOutput(path: existing))
        XCTAssertThrowsError(try writer.addMember(name: "a", bytes: [1]))
        XCTAssertEqual(try scratch.read("exists.llamafile"), [9])
    }

    /// Appending in place to a runner gives the same bytes as copying it first.
    func testAppendingInPlace() throws {
        let scratch = try ScratchDirectory()
        let runner = pseudoRandomBytes(count: 9000, seed: 12)
        let model = fakeGGUF(count: 5000, seed: 13)
        try writeBundle(to: scratch.file("copied"), prefix: runner, members: [("m.gguf", model)], scratch: scratch)
        let inPlace = try scratch.write("in-place", runner)
        let output = try PartedOutput.appending(to: inPlace)
        XCTAssertEqual(output.length, 9000)
        let writer = try ZipWriter(output: output)
        try writer.addMember(name: "m.gguf", fromFile: scratch.write("m.gguf", model))
        try writer.finish()
        try output.close()
        XCTAssertEqual(try scratch.read("in-place"), try scratch.read("copied"))

        // A failure while appending restores the runner instead of deleting it.
        let second = try scratch.write("second", runner)
        let failing = try PartedOutput.appending(to: second)
        let failingWriter = try ZipWriter(output: failing)
        try failingWriter.addMember(name: "a", bytes: [1, 2, 3])
        failing.discard()
        XCTAssertEqual(try scratch.read("second"), runner)
        XCTAssertThrowsError(try PartedOutput.appending(to: scratch.file("absent"))) { error in
            XCTAssertEqual(error as? ContainerError, .fileNotFound(path: scratch.file("absent")))
        }
    }

    private func bitwiseCRC(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

func littleEndian(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<count { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
    return value
}
