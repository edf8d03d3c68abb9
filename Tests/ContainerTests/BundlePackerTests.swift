import Foundation
import XCTest
@testable import Container

final class BundlePackerTests: XCTestCase {
    func testByteCounts() {
        XCTAssertEqual(ByteCount.parse("50G"), 50 << 30)
        XCTAssertEqual(ByteCount.parse("2G"), 2 << 30)
        XCTAssertEqual(ByteCount.parse("10M"), 10 << 20)
        XCTAssertEqual(ByteCount.parse("1500K"), 1500 << 10)
        XCTAssertEqual(ByteCount.parse("123"), 123)
        XCTAssertEqual(ByteCount.parse("2GiB"), 2 << 30)
        XCTAssertEqual(ByteCount.parse("2gb"), 2 << 30)
        XCTAssertEqual(ByteCount.parse(" 7k "), 7 << 10)
        for bad in ["", "0", "G", "1.5G", "-1", "12X", "99999999999999999999999", "18446744073709551615K", "1 G B"] {
            XCTAssertNil(ByteCount.parse(bad), bad)
        }
        XCTAssertEqual(ByteCount.format(812), "812 B")
        XCTAssertEqual(ByteCount.format(1536), "1.50 KiB")
        XCTAssertEqual(ByteCount.format(3 << 30), "3.00 GiB")
    }

    func testManifestFormat() throws {
        let lines = [ChecksumManifest.Line(hexDigest: String(repeating: "ab", count: 32), name: "Model.gguf")]
        let text = ChecksumManifest.render(lines)
        XCTAssertEqual(text, String(repeating: "ab", count: 32) + "  Model.gguf\n")
        XCTAssertEqual(try ChecksumManifest.parse(text, archive: "x"), lines)
        XCTAssertEqual(try ChecksumManifest.parse(String(repeating: "AB", count: 32) + " *a b\r\n\n", archive: "x"),
                       [ChecksumManifest.Line(hexDigest: String(repeating: "ab", count: 32), name: "a b")])
        XCTAssertThrowsError(try ChecksumManifest.parse("xyz  a\n", archive: "x")) { error in
            XCTAssertEqual(error as? ContainerError, .badManifest(archive: "x", line: 1, reason: "expected 64 hex digits"))
        }
        XCTAssertThrowsError(try ChecksumManifest.parse("\n" + String(repeating: "0", count: 64) + "\n", archive: "x")) { error in
            XCTAssertEqual(error as? ContainerError, .badManifest(archive: "x", line: 2, reason: "expected two spaces and a member name"))
        }
    }

    func testPackListVerifyAndTamper() throws {
        let scratch = try ScratchDirectory()
        let runner = try scratch.write("runner", Array("\u{7F}ELF".utf8) + pseudoRandomBytes(count: 4000, seed: 1))
        let model = fakeGGUF(count: 90_000, seed: 2)
        let weights = try scratch.write("tiny.gguf", model)
        let extra = try scratch.write("LICENSE", Array("Apache-2.0".utf8))
        let output = scratch.file("Tiny.llamafile")
        let options = PackOptions(output: output, runner: runner, defaultArguments: "-c 512 ...\n", weights: weights, extraFiles: [extra])
        var reports = 0
        let result = try BundlePacker.pack(options) { done, total in
            XCTAssertLessThanOrEqual(done, total)
            reports += 1
        }
        XCTAssertGreaterThan(reports, 0)
        XCTAssertEqual(result.outputPaths, [output])
        XCTAssertEqual(result.members.map(\.name), [".args", "tiny.gguf", "LICENSE", ".sha256"])
        XCTAssertEqual(result.digests.map(\.name), [".args", "tiny.gguf", "LICENSE"])
        let attributes = try FileManager.default.attributesOfItem(atPath: output)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o755)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".tmp-") }, [])

        // What the runner will see.
        XCTAssertEqual(try OwnArchive.defaultArguments(executable: output), ["-c", "512", "..."])
        XCTAssertEqual(contents(try WeightsResolver.resolveOwnArchive(executable: output).region), model)
        let report = try ArchiveVerifier.verify(path: output)
        XCTAssertTrue(report.passed)
        XCTAssertTrue(report.hasManifest)
        XCTAssertEqual(report.results.map(\.outcome), [.ok(sha256Checked: true), .ok(sha256Checked: true), .ok(sha256Checked: true)])

        // The manifest holds real SHA-256 values (checked against sha256sum when present).
        if let sum = try runTool("sha256sum", [weights]) {
            let expected = String(sum.output.prefix(64))
            XCTAssertEqual(result.digests[1].hexDigest, expected)
        }

        // Same inputs → same bytes; refusing to overwrite without force.
        XCTAssertThrowsError(try BundlePacker.pack(options)) { error in
            XCTAssertEqual(error as? ContainerError, .outputExists(path: output))
        }
        let first = try scratch.read("Tiny.llamafile")
        var forced = options
        forced.force = true
        _ = try BundlePacker.pack(forced)
        XCTAssertEqual(try scratch.read("Tiny.llamafile"), first)

        // A flipped byte in the weights: the CRC-32 catches it.
        var tampered = first
        let dataOffset = Int(result.members[1].dataOffset)
        tampered[dataOffset + 1000] ^= 0x40
        let tamperedPath = try scratch.write("tampered.llamafile", tampered)
        let tamperedReport = try ArchiveVerifier.verify(path: tamperedPath)
        XCTAssertFalse(tamperedReport.passed)
        guard case .crcMismatch = tamperedReport.results[1].outcome else { return XCTFail("\(tamperedReport.results)") }

        // Data and CRC changed together (a consistent ZIP): only the pack-time SHA-256 catches it.
        var rewritten = tampered
        let newCRC = CRC32.checksum(Array(rewritten[dataOffset..<(dataOffset + model.count)]))
        let headerOffset = Int(result.members[1].localHeaderOffset)
        for index in 0..<4 { rewritten[headerOffset + 14 + index] = UInt8(truncatingIfNeeded: newCRC >> UInt32(8 * index)) }
        let archive = try rewritten.withUnsafeBytes { try ZipArchive(bytes: $0) }
        let centralDirectory = Int(archive.centralDirectoryOffset)
        let modelHeader = centralDirectory + 46 + ".args".utf8.count + 28
        for index in 0..<4 { rewritten[modelHeader + 16 + index] = UInt8(truncatingIfNeeded: newCRC >> UInt32(8 * index)) }
        let rewrittenPath = try scratch.write("rewritten.llamafile", rewritten)
        let rewrittenReport = try ArchiveVerifier.verify(path: rewrittenPath)
        XCTAssertFalse(rewrittenReport.passed)
        guard case .sha256Mismatch(let expected, _) = rewrittenReport.results[1].outcome else { return XCTFail("\(rewrittenReport.results)") }
        XCTAssertEqual(expected, result.digests[1].hexDigest)
    }

    func testPackRefusals() throws {
        let scratch = try ScratchDirectory()
        let weights = try scratch.write("m.gguf", fakeGGUF(count: 1000, seed: 3))
        let text = try scratch.write("m.bin", Array("not gguf".utf8))
        let output = scratch.file("o.llamafile")
        XCTAssertThrowsError(try BundlePacker.pack(PackOptions(output: output, runner: nil, weights: text))) { error in
            XCTAssertEqual(error as? ContainerError, .notWeights(path: text, member: nil))
        }
        XCTAssertThrowsError(try BundlePacker.pack(PackOptions(output: output, runner: nil, defaultArguments: "\"open", weights: weights))) { error in
            guard case ContainerError.argsSyntax = error else { return XCTFail("\(error)") }
        }
        let sneaky = try scratch.write(".sha256", [1])
        XCTAssertThrowsError(try BundlePacker.pack(PackOptions(output: output, runner: nil, weights: weights, extraFiles: [sneaky]))) { error in
            guard case ContainerError.invalidMemberName = error else { return XCTFail("\(error)") }
        }
        let big = try scratch.write("big.gguf", fakeGGUF(count: 200_000, seed: 4))
        XCTAssertThrowsError(try BundlePacker.pack(PackOptions(output: output, runner: nil, weights: big, splitSize: 1))) { error in
            guard case ContainerError.invalidPackRequest = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try BundlePacker.pack(PackOptions(output: output, runner: scratch.file("no-runner"), weights: weights)))
        // Nothing was left behind by the failures.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted(), [".sha256", "big.gguf", "m.bin", "m.gguf"])
    }

    func testSplitPackJoinsToUnsplit() throws {
        let scratch = try ScratchDirectory()
        let runner = try scratch.write("runner", Array("\u{7F}ELF".utf8) + pseudoRandomBytes(count: 10_000, seed: 1))
        let weights = try scratch.write("m.gguf", fakeGGUF(count: 300_000, seed: 4))
        let whole = try BundlePacker.pack(PackOptions(output: scratch.file("W.llamafile"), runner: runner, weights: weights))
        let split = try BundlePacker.pack(PackOptions(output: scratch.file("S.llamafile"), runner: runner, weights: weights, splitSize: 100_000))
        XCTAssertEqual(split.outputPaths, (0..<4).map { scratch.file("S.cat\($0).llamafile") })
        var joined: [UInt8] = []
        for path in split.outputPaths { joined += try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }
        XCTAssertEqual(joined, try scratch.read("W.llamafile"))
        XCTAssertEqual(whole.totalBytes, UInt64(joined.count))
        XCTAssertEqual(split.staleParts, [])
        // Repacking into fewer parts reports the leftover ones.
        let fewer = try BundlePacker.pack(PackOptions(output: scratch.file("S.llamafile"), runner: runner, weights: weights, splitSize: 200_000, force: true))
        XCTAssertEqual(fewer.outputPaths.count, 2)
        XCTAssertEqual(fewer.staleParts, [scratch.file("S.cat2.llamafile"), scratch.file("S.cat3.llamafile")])
    }
}
