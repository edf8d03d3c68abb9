import Foundation
import XCTest

/// docs/formats.md §4 against the built runner: every file of Tools/make_bad_inputs.py must be refused
/// with exactly one line on stderr, a non-zero exit (not a signal), in under a second and 200 MB.
final class BadInputTests: XCTestCase {
    static let wallLimitSeconds = 1.0
    static let memoryLimitKilobytes = 200 * 1024

    struct CorpusFile {
        let url: URL
        let family: String  // gguf | valid-gguf | zip | model | valid | arch | valid-arch
        let description: String
        /// arch family: the key or tensor the refusal must name.
        var names: String? = nil
        var label: String { "\(url.lastPathComponent) (\(description))" }
    }

    /// What one run of the runner did.
    struct Outcome {
        let status: Int32
        let signalled: Bool
        /// stderr without `note:` lines and without the measuring tool's own lines.
        let errorLines: [String]
        let seconds: Double
        /// Peak resident memory, when /usr/bin/time could measure it.
        let peakKilobytes: Int?
    }

    /// Generates the files of `families` (Tools/make_bad_inputs.py) into a fresh folder, which `body`
    /// gets with the manifest; removed afterwards (the model family alone is 1.4 GB). `expecting`: the exact
    /// number of files, so a generator that quietly makes fewer fails here.
    func withCorpus(_ families: [String], expecting expected: Int, _ body: ([CorpusFile]) throws -> Void) throws {
        let model = try E2E.testdataFile("models/tiny-llama3-f16-q4emb.gguf")
        let archModels = try E2E.testdataFile("models/tiny-gemma3.gguf").deletingLastPathComponent()
        let folder = try E2E.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = E2E.packageRoot.appendingPathComponent("Tools/make_bad_inputs.py")
        let arguments = ["python3", script.path, "--model", model.path, "--arch-models", archModels.path,
                         "--families", families.joined(separator: ","), folder.path]
        let result = try E2E.run(URL(fileURLWithPath: "/usr/bin/env"), arguments, timeout: 300)
        guard result.status == 0 else {
            return XCTFail("python3 \(script.path) failed (\(result.status)): \(result.stderr)")
        }
        let manifest = try String(contentsOf: folder.appendingPathComponent("manifest.tsv"), encoding: .utf8)
        let corpus: [CorpusFile] = manifest.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 || fields.count == 4 else { return nil }
            return CorpusFile(url: folder.appendingPathComponent(fields[0]), family: fields[1], description: fields[2],
                              names: fields.count == 4 ? fields[3] : nil)
        }
        XCTAssertEqual(corpus.count, expected, "corpus size for \(families)")
        try body(corpus)
    }

    /// Runs the runner under /usr/bin/time (apt package `time`) when present, to read its peak RSS.
    func run(_ arguments: [String]) throws -> Outcome {
        let runner = try E2E.runner()
        let timeTool = URL(fileURLWithPath: "/usr/bin/time")
        let measured = FileManager.default.isExecutableFile(atPath: timeTool.path)
        let marker = "swiftfile-peak-rss-kb="
        let result = measured
            ? try E2E.run(timeTool, ["-f", "\(marker)%M", runner.path] + arguments, timeout: 30)
            : try E2E.run(runner, arguments, timeout: 30)
        var peak: Int?
        var signalled = result.signalled
        var lines: [String] = []
        for line in result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if measured && line.hasPrefix(marker) { peak = Int(line.dropFirst(marker.count)); continue }
            // GNU time's own reports about the child.
            if measured && line.hasPrefix("Command terminated by signal") { signalled = true; continue }
            if measured && line.hasPrefix("Command exited with non-zero status") { continue }
            if line.hasPrefix("note:") || line.isEmpty { continue }
            lines.append(line)
        }
        return Outcome(status: result.status, signalled: signalled, errorLines: lines, seconds: result.seconds, peakKilobytes: peak)
    }

    /// The common promises of §7: no crash, bounded time and memory.
    func assertBounded(_ outcome: Outcome, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(outcome.signalled, "\(what): killed by a signal (status \(outcome.status))", file: file, line: line)
        XCTAssertLessThan(outcome.seconds, Self.wallLimitSeconds, "\(what): took \(outcome.seconds) s", file: file, line: line)
        if let peak = outcome.peakKilobytes {
            XCTAssertLessThan(peak, Self.memoryLimitKilobytes, "\(what): peak RSS \(peak / 1024) MB", file: file, line: line)
        }
    }

    /// Refused: non-zero exit, not by a signal, one `error: …` line, bounded.
    func assertRefused(_ outcome: Outcome, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        assertBounded(outcome, what, file: file, line: line)
        XCTAssertNotEqual(outcome.status, 0, "\(what): accepted", file: file, line: line)
        XCTAssertEqual(outcome.errorLines.count, 1, "\(what): stderr should be one line, got \(outcome.errorLines)", file: file, line: line)
        if let first = outcome.errorLines.first {
            XCTAssertTrue(first.hasPrefix("error:"), "\(what): \(first)", file: file, line: line)
        }
    }

    func testMalformedGGUFFilesAreRefused() throws {
        _ = try E2E.runner()
        try withCorpus(["gguf"], expecting: 60) { corpus in
            for corpusFile in corpus where corpusFile.family == "gguf" {
                assertRefused(try run(["--info", "-m", corpusFile.url.path]), corpusFile.label)
            }
            // A well-formed GGUF that is not a model: described or refused, never a crash.
            for corpusFile in corpus where corpusFile.family == "valid-gguf" {
                let outcome = try run(["--info", "-m", corpusFile.url.path])
                assertBounded(outcome, corpusFile.label)
                XCTAssertLessThanOrEqual(outcome.errorLines.count, outcome.status == 0 ? 0 : 1, corpusFile.label)
            }
        }
    }

    func testMalformedContainersAreRefused() throws {
        _ = try E2E.runner()
        try withCorpus(["zip"], expecting: 28) { corpus in
            for corpusFile in corpus {
                assertRefused(try run(["--info", "-m", corpusFile.url.path]), corpusFile.label)
            }
        }
    }

    /// Model-level defects live in a well-formed GGUF: `--info` may describe the file, but must not crash
    /// and, if it refuses, must say so in one line; generating must refuse.
    func testInconsistentModelsAreRefused() throws {
        _ = try E2E.runner()
        try withCorpus(["model"], expecting: 43) { corpus in
            for corpusFile in corpus {
                let info = try run(["--info", "-m", corpusFile.url.path])
                assertBounded(info, "--info \(corpusFile.label)")
                if info.status != 0 {
                    XCTAssertEqual(info.errorLines.count, 1, "--info \(corpusFile.label): \(info.errorLines)")
                }
                assertRefused(try run(["-m", corpusFile.url.path, "-p", "hi", "-n", "1"]), corpusFile.label)
            }
        }
    }

    /// Defects of the other architectures' models: one line naming the architecture and the key or tensor at
    /// fault; each unchanged model loads and generates, so the refusals are about the defects.
    func testArchitectureDefectsAreRefusedByName() throws {
        _ = try E2E.runner()
        try withCorpus(["arch"], expecting: 25) { corpus in
            for corpusFile in corpus {
                let arch = corpusFile.url.lastPathComponent.split(separator: "-")[1].replacingOccurrences(of: ".gguf", with: "")
                let outcome = try run(["-m", corpusFile.url.path, "-p", "hi", "-n", "1"])
                if corpusFile.family == "valid-arch" {
                    assertBounded(outcome, corpusFile.label)
                    XCTAssertEqual(outcome.status, 0, "\(corpusFile.label): \(outcome.errorLines)")
                    continue
                }
                assertRefused(outcome, corpusFile.label)
                let line = outcome.errorLines.first ?? ""
                XCTAssertTrue(line.contains(arch), "\(corpusFile.label): \(line) does not name \(arch)")
                XCTAssertTrue(line.contains(corpusFile.names ?? "?"), "\(corpusFile.label): \(line) does not name \(corpusFile.names ?? "?")")
            }
        }
    }

    /// Controls: the base model rewritten unchanged, and bundled the way the zip-* files are, must load,
    /// so the refusals above are about the defects and not about how the corpus was written.
    func testControlsLoad() throws {
        _ = try E2E.runner()
        try withCorpus(["valid"], expecting: 2) { corpus in
            for corpusFile in corpus {
                let outcome = try run(["--info", "-m", corpusFile.url.path])
                assertBounded(outcome, corpusFile.label)
                XCTAssertEqual(outcome.status, 0, "\(corpusFile.label): \(outcome.errorLines)")
                let generation = try run(["-m", corpusFile.url.path, "-p", "hi", "-n", "1"])
                XCTAssertEqual(generation.status, 0, "\(corpusFile.label): \(generation.errorLines)")
            }
        }
    }
}
