import Foundation
import XCTest
@testable import Container

final class ZipReaderTests: XCTestCase {
    func testRoundTripOfOurBundle() throws {
        let scratch = try ScratchDirectory()
        let members: [(String, [UInt8])] = [
            (".args", Array("-n 8\n".utf8)), ("Model.gguf", fakeGGUF(count: 100_000, seed: 11)), ("dir/ü.bin", [7, 8]),
        ]
        let path = scratch.file("r.llamafile")
        let written = try writeBundle(to: path, prefix: pseudoRandomBytes(count: 70_000, seed: 1), members: members, scratch: scratch)
        let archive = try ZipArchive(path: path)
        XCTAssertTrue(archive.isZip64)
        XCTAssertEqual(archive.prefixBias, 0)
        XCTAssertEqual(archive.entries.map(\.name), [".args", "Model.gguf", "dir/ü.bin"])
        let file = try scratch.read("r.llamafile")
        for (entry, member) in zip(archive.entries, written) {
            XCTAssertEqual(entry.dataOffset, member.dataOffset)
            XCTAssertEqual(entry.localHeaderOffset, member.localHeaderOffset)
            XCTAssertEqual(entry.compressedSize, member.size)
            XCTAssertEqual(entry.uncompressedSize, member.size)
            XCTAssertEqual(entry.crc32, member.crc32)
            XCTAssertEqual(entry.method, 0)
            XCTAssertEqual(entry.flags, 0x0800)
        }
        XCTAssertEqual(archive.weightsEntries.map(\.name), ["Model.gguf"])
        // The in-memory entry point agrees with the file one.
        let fromBytes = try file.withUnsafeBytes { try ZipArchive(bytes: $0, name: "memory") }
        XCTAssertEqual(fromBytes.entries, archive.entries)
    }

    func testPythonForcedZip64Archive() throws {
        let scratch = try ScratchDirectory()
        let data = fakeGGUF(count: 50_000, seed: 21)
        try scratch.write("source.bin", data)
        let script = """
        import sys, zipfile
        data = open(sys.argv[2], 'rb').read()
        with zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.ZIP_STORED) as archive:
            with archive.open('model.gguf', 'w', force_zip64=True) as member:
                member.write(data)
            info = zipfile.ZipInfo('notes.txt', date_time=(2024, 1, 2, 3, 4, 6))
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, 'hello')
        """
        guard let result = try runTool("python3", ["-c", script, scratch.file("py.zip"), scratch.file("source.bin")]) else {
            throw MissingTool(name: "python3")
        }
        XCTAssertEqual(result.status, 0, result.output)
        let archive = try ZipArchive(path: scratch.file("py.zip"))
        XCTAssertEqual(archive.entries.map(\.name), ["model.gguf", "notes.txt"])
        let weights = try WeightsResolver.resolve(modelArgument: scratch.file("py.zip"))
        XCTAssertEqual(contents(weights.region), data)
        XCTAssertEqual(weights.origin, .archiveMember(archive: scratch.file("py.zip"), member: "model.gguf"))
        XCTAssertEqual(archive.entries[0].crc32, CRC32.checksum(data))
    }

    func testInfoZipStoredArchivesPlainZip64AndPrepended() throws {
        let scratch = try ScratchDirectory()
        let data = fakeGGUF(count: 30_000, seed: 31)
        try scratch.write("m.gguf", data)
        try scratch.write("readme.txt", Array(String(repeating: "text ", count: 400).utf8))
        for (archiveName, flags) in [("plain.zip", ["-q", "-0"]), ("forced64.zip", ["-q", "-0", "-fz"])] {
            guard let made = try runTool("zip", flags + [archiveName, "m.gguf", "readme.txt"], currentDirectory: scratch.path) else {
                throw MissingTool(name: "zip")
            }
            XCTAssertEqual(made.status, 0, made.output)
            let archive = try ZipArchive(path: scratch.file(archiveName))
            XCTAssertEqual(archive.isZip64, archiveName == "forced64.zip")
            XCTAssertEqual(archive.entries.map(\.name), ["m.gguf", "readme.txt"])
            let weights = try WeightsResolver.resolve(modelArgument: scratch.file(archiveName))
            XCTAssertEqual(contents(weights.region), data, archiveName)
            XCTAssertEqual(weights.origin.description, "\(scratch.file(archiveName))@m.gguf")

            // An archive made separately and glued behind a binary with cat: offsets are short by the prefix.
            let glued = pseudoRandomBytes(count: 9_999, seed: 5) + (try scratch.read(archiveName))
            try scratch.write("glued-" + archiveName, glued)
            let gluedArchive = try ZipArchive(path: scratch.file("glued-" + archiveName))
            XCTAssertEqual(gluedArchive.prefixBias, 9_999)
            let gluedWeights = try WeightsResolver.resolve(modelArgument: scratch.file("glued-" + archiveName))
            XCTAssertEqual(contents(gluedWeights.region), data)
        }
        // Deflated weights are refused with a message that says how to fix it.
        try scratch.write("z.gguf", Array("GGUF".utf8) + [UInt8](repeating: 0, count: 30_000)) // compressible
        let deflated = try runTool("zip", ["-q", "-9", "deflated.zip", "z.gguf"], currentDirectory: scratch.path)
        XCTAssertEqual(deflated?.status, 0)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: scratch.file("deflated.zip"))) { error in
            XCTAssertEqual(error as? ContainerError, .compressedMember(archive: scratch.file("deflated.zip"), member: "z.gguf", method: 8))
            XCTAssertTrue("\(error)".contains("stored uncompressed"), "\(error)")
        }
    }

    func testMappedRegionSkewAndBounds() throws {
        let scratch = try ScratchDirectory()
        let bytes = pseudoRandomBytes(count: 3 * 4096 + 17, seed: 8)
        let path = try scratch.write("f.bin", bytes)
        let file = try MappedFile(path: path)
        XCTAssertEqual(file.size, UInt64(bytes.count))
        let region = try file.map(offset: 4095, count: 4100)
        XCTAssertEqual(region.count, 4100)
        XCTAssertEqual(contents(region), Array(bytes[4095..<8195]))
        region.adviseWillNeed()
        var reports = 0
        region.touchPages(reportEvery: 4096) { done, total in
            XCTAssertLessThanOrEqual(done, total)
            reports += 1
        }
        XCTAssertGreaterThan(reports, 0)
        XCTAssertThrowsError(try file.map(offset: 1, count: UInt64(bytes.count)))
        XCTAssertThrowsError(try file.map(offset: UInt64.max, count: 2))
        XCTAssertThrowsError(try file.map(offset: 0, count: 0))
        XCTAssertThrowsError(try MappedFile(path: scratch.path)) // a directory
        XCTAssertTrue(try MappedFile.executablePath().hasPrefix("/"))
    }
}
