import Foundation
import GGUF
import XCTest

/// Pack → split → cat → run: the three ways users run a bundle, with the real executables.
final class BundleTests: XCTestCase {
    func testPackSplitJoinAndRunEveryWay() throws {
        let runner = try E2E.runner(), packer = try E2E.packer()
        let gguf = try E2E.testdataFile("models/tiny-llama3-f16-q4emb.gguf")
        let dir = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundle = dir.appendingPathComponent("Tiny.llamafile")

        // One file.
        var r = try E2E.run(packer, ["-o", bundle.path, "--runner", runner.path, "--args", "-n 4 --temp 0", gguf.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let attributes = try FileManager.default.attributesOfItem(atPath: bundle.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0 & 0o777, 0o755)
        r = try E2E.run(bundle, ["--info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("architecture: llama"), r.stdout)
        XCTAssertTrue(r.stdout.contains("layers:       4"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Tiny.llamafile"), "origin names the bundle: \(r.stdout)")

        // Split under a size limit (never below the runner's size, which the first part must hold); cat restores
        // the exact bytes.
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let runnerSize = (try FileManager.default.attributesOfItem(atPath: runner.path)[.size] as? NSNumber)?.intValue ?? 0
        let limit = max(size / 3 + 1, runnerSize)
        let partCount = (size + limit - 1) / limit
        XCTAssertGreaterThanOrEqual(partCount, 2)
        let parts = dir.appendingPathComponent("Split.llamafile")
        r = try E2E.run(packer, ["-o", parts.path, "--runner", runner.path, "--args", "-n 4 --temp 0", "--split", "\(limit)", gguf.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        var joined = Data()
        for i in 0..<partCount {
            let part = dir.appendingPathComponent("Split.cat\(i).llamafile")
            let data = try Data(contentsOf: part)
            XCTAssertLessThanOrEqual(data.count, limit)
            joined.append(data)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("Split.cat\(partCount).llamafile").path))
        XCTAssertEqual(joined, try Data(contentsOf: bundle), "cat of the parts must equal the unsplit bundle")
        let catted = dir.appendingPathComponent("Joined.llamafile")
        try joined.write(to: catted)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: catted.path)
        r = try E2E.run(catted, ["--info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("architecture: llama"))

        // A lone part explains itself in one line.
        r = try E2E.run(runner, ["--info", "-m", dir.appendingPathComponent("Split.cat0.llamafile").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("part of a split llamafile"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)

        // A bare runner with external weights: plain GGUF, a bundle, bundle@member.
        for model in [gguf.path, bundle.path, bundle.path + "@tiny-llama3-f16-q4emb.gguf"] {
            r = try E2E.run(runner, ["--info", "-m", model])
            XCTAssertEqual(r.status, 0, "\(model): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("vocabulary:   128256"), r.stdout)
        }
        r = try E2E.run(runner, ["--info", "-m", bundle.path + "@missing.gguf"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing.gguf"), r.stderr)
    }

    func testBareRunnerSaysHowToSupplyWeights() throws {
        let r = try E2E.run(try E2E.runner(), ["-p", "hi"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("-m"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    func testMappingIsInPlaceNotCopied() throws {
        // A bundle holding a 256 MiB tensor: resident memory after --info stays far below it, because the
        // weights are mapped in place, not read or copied.
        let runner = try E2E.runner(), packer = try E2E.packer()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { throw E2E.MissingFixture(path: "/usr/bin/time", hint: "apt-get install time (Tools/setup-venv.sh does)") }
        let dir = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.addTensor("big.weight", dimensions: [8192, 8192], type: .f32, data: [UInt8](repeating: 1, count: 8192 * 8192 * 4))
        let gguf = dir.appendingPathComponent("big.gguf")
        try Data(writer.bytes()).write(to: gguf)
        let bundle = dir.appendingPathComponent("Big.llamafile")
        XCTAssertEqual(try E2E.run(packer, ["-o", bundle.path, "--runner", runner.path, gguf.path]).status, 0)
        let r = try E2E.run(URL(fileURLWithPath: "/usr/bin/time"), ["-f", "RSS_KB=%M", bundle.path, "--info"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("268435456 bytes"), r.stdout)
        let rss = r.stderr.split(separator: "\n").compactMap { $0.hasPrefix("RSS_KB=") ? Int($0.dropFirst(7)) : nil }.first ?? -1
        XCTAssertGreaterThan(rss, 0)
        XCTAssertLessThan(rss, 64 * 1024, "RSS \(rss) KB for a 256 MiB bundle: weights must stay in the mapping")
    }
}
