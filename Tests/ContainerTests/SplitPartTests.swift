import Foundation
import XCTest
@testable import Container

final class SplitPartTests: XCTestCase {
    func testPartNames() {
        XCTAssertEqual(SplitPartNames.partPath(for: "/x/Model.llamafile", index: 2), "/x/Model.cat2.llamafile")
        XCTAssertEqual(SplitPartNames.partPath(for: "out.bin", index: 0), "out.bin.cat0.llamafile")
        XCTAssertEqual(SplitPartNames.splitPartIndex(of: "/a/B.Q2_K.cat13.llamafile")?.index, 13)
        XCTAssertEqual(SplitPartNames.splitPartIndex(of: "/a/B.Q2_K.cat13.llamafile")?.stem, "/a/B.Q2_K")
        XCTAssertNil(SplitPartNames.splitPartIndex(of: "B.cat.llamafile"))
        XCTAssertNil(SplitPartNames.splitPartIndex(of: "B.catx1.llamafile"))
        XCTAssertNil(SplitPartNames.splitPartIndex(of: "B.cat1.gguf"))
    }

    /// Written split on the fly, the parts join (cat) into the exact unsplit bundle; each part alone
    /// is recognised as a piece of a split bundle.
    func testSplitOutputJoinsToTheSameBytes() throws {
        let scratch = try ScratchDirectory()
        let prefixPath = try scratch.write("runner", Array("\u{7F}ELF".utf8) + pseudoRandomBytes(count: 30_000, seed: 1))
        let modelPath = try scratch.write("m.gguf", fakeGGUF(count: 150_000, seed: 2))

        func pack(_ output: PartedOutput) throws {
            let writer = try ZipWriter(output: output)
            try writer.appendPrefix(fromFile: prefixPath)
            try writer.addMember(name: ".args", bytes: Array("-n 3".utf8))
            try writer.addMember(name: "m.gguf", fromFile: modelPath)
            try writer.finish()
            try output.close()
        }
        try pack(PartedOutput(path: scratch.file("whole.llamafile"), mode: 0o755))
        let whole = try scratch.read("whole.llamafile")
        let partSize = 70_000
        let parts = PartedOutput(partSize: UInt64(partSize), mode: 0o755) { index in
            SplitPartNames.partPath(for: scratch.file("Model.llamafile"), index: index)
        }
        try pack(parts)
        let expectedCount = (whole.count + partSize - 1) / partSize
        XCTAssertEqual(parts.partPaths.count, expectedCount)
        var joined: [UInt8] = []
        for (index, path) in parts.partPaths.enumerated() {
            XCTAssertEqual(path, scratch.file("Model.cat\(index).llamafile"))
            let part = try scratch.read("Model.cat\(index).llamafile")
            XCTAssertEqual(part.count, index < expectedCount - 1 ? partSize : whole.count - partSize * (expectedCount - 1))
            joined += part
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o755)
            XCTAssertThrowsError(try ZipArchive(path: path), "part \(index)") { error in
                guard case ContainerError.splitPart = error else { return XCTFail("part \(index): \(error)") }
                XCTAssertTrue("\(error)".contains("cat \(scratch.file("Model")).cat0.llamafile"), "\(error)")
            }
            XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: path))
        }
        XCTAssertEqual(joined, whole, "cat of the parts must restore the bundle byte for byte")

        // Renamed so the name gives no hint, the first and last parts are still recognised.
        for (index, name) in [(0, "first"), (expectedCount - 1, "last")] {
            let renamed = try scratch.write(name, try scratch.read("Model.cat\(index).llamafile"))
            XCTAssertThrowsError(try ZipArchive(path: renamed), name) { error in
                guard case ContainerError.splitPart = error else { return XCTFail("\(name): \(error)") }
            }
        }
        // Joined in the wrong order: an error, never a crash.
        if expectedCount >= 3 {
            var wrongOrder = try scratch.read("Model.cat1.llamafile") + scratch.read("Model.cat0.llamafile")
            for index in 2..<expectedCount { wrongOrder += try scratch.read("Model.cat\(index).llamafile") }
            let path = try scratch.write("wrong.llamafile", wrongOrder)
            XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: path)) { error in
                guard case ContainerError.splitPart(_, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("joined in order"), reason)
            }
            // A part missing from the middle.
            let missing = try scratch.read("Model.cat0.llamafile") + scratch.read("Model.cat\(expectedCount - 1).llamafile")
            let missingPath = try scratch.write("missing.llamafile", missing)
            XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: missingPath)) { error in
                guard case ContainerError.splitPart(_, let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("bytes are missing"), reason)
            }
        }
    }
}
