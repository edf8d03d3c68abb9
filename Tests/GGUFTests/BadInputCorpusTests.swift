import Foundation
import XCTest
@testable import GGUF

/// Every gguf-* file of Tools/make_bad_inputs.py must be refused with a GGUFError, and the
/// valid-gguf control must parse: the corpus the end-to-end tests feed the runner is checked here
/// against the reader alone.
final class BadInputCorpusTests: XCTestCase {
    func testEveryGGUFFileOfTheCorpusIsRefused() throws {
        let root = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("Tools/make_bad_inputs.py")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-corpus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--no-models", folder.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 \(script.path) failed")

        let manifest = try String(contentsOf: folder.appendingPathComponent("manifest.tsv"), encoding: .utf8)
        var refused = 0
        for line in manifest.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { XCTFail("bad manifest line: \(line)"); continue }
            let (name, family, description) = (fields[0], fields[1], fields[2])
            let path = folder.appendingPathComponent(name).path
            switch family {
            case "gguf":
                do {
                    _ = try GGUFFile.load(path: path)
                    XCTFail("\(name) (\(description)) parsed")
                } catch let error as GGUFError {
                    XCTAssertFalse(error.description.isEmpty)
                    XCTAssertFalse(error.description.contains("\n"), "\(name): one line")
                    refused += 1
                }
            case "valid-gguf":
                XCTAssertNoThrow(try GGUFFile.load(path: path), name)
            default:
                continue
            }
        }
        XCTAssertGreaterThan(refused, 50)
    }
}
