import Foundation
import XCTest
@testable import Container

final class WeightsResolverTests: XCTestCase {
    func testPlainGGUFFile() throws {
        let scratch = try ScratchDirectory()
        let data = fakeGGUF(count: 5000, seed: 1)
        let path = try scratch.write("m.gguf", data)
        let weights = try WeightsResolver.resolve(modelArgument: path)
        XCTAssertEqual(contents(weights.region), data)
        XCTAssertEqual(weights.origin, .file(path: path))
        XCTAssertGreaterThanOrEqual(weights.mapSeconds, 0)
    }

    func testBundleSingleMemberAndExplicitMember() throws {
        let scratch = try ScratchDirectory()
        let model = fakeGGUF(count: 20_000, seed: 2)
        let other = fakeGGUF(count: 300, seed: 3)
        let bundle = scratch.file("b.llamafile")
        try writeBundle(to: bundle, prefix: Array("\u{7F}ELF runner".utf8),
                        members: [(".args", Array("-n 4 ...".utf8)), ("Model.gguf", model), ("extra.bin", other)], scratch: scratch)
        let weights = try WeightsResolver.resolve(modelArgument: bundle)
        XCTAssertEqual(contents(weights.region), model)
        XCTAssertEqual(weights.origin, .archiveMember(archive: bundle, member: "Model.gguf"))
        XCTAssertEqual(weights.region.fileOffset % 65_536, 0)

        let explicit = try WeightsResolver.resolve(modelArgument: bundle + "@extra.bin")
        XCTAssertEqual(contents(explicit.region), other)
        XCTAssertEqual(explicit.origin.description, bundle + "@extra.bin")

        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: bundle + "@nope.gguf")) { error in
            XCTAssertEqual(error as? ContainerError, .memberNotFound(archive: bundle, member: "nope.gguf", available: [".args", "Model.gguf", "extra.bin"]))
        }
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: bundle + "@.args")) { error in
            XCTAssertEqual(error as? ContainerError, .notWeights(path: bundle, member: ".args"))
        }

        // The bundle as the running executable: embedded weights and default arguments.
        let own = try WeightsResolver.resolveOwnArchive(executable: bundle)
        XCTAssertEqual(contents(own.region), model)
        XCTAssertEqual(own.origin, .ownArchive(executable: bundle, member: "Model.gguf"))
        XCTAssertEqual(try OwnArchive.defaultArguments(executable: bundle), ["-n", "4", "..."])
    }

    func testAtSignsInPaths() throws {
        let scratch = try ScratchDirectory()
        let model = fakeGGUF(count: 1000, seed: 4)
        // A GGUF whose own name contains '@' and whose prefix before '@' also exists as a GGUF.
        try scratch.write("v", fakeGGUF(count: 10, seed: 9))
        let direct = try scratch.write("v@2.gguf", model)
        XCTAssertEqual(try WeightsResolver.resolve(modelArgument: direct).origin, .file(path: direct))
        // An archive whose path contains '@', with a member containing '@'.
        let bundle = scratch.file("dir@x.zip")
        try writeBundle(to: bundle, prefix: [], members: [("a@b.gguf", model)], scratch: scratch)
        let resolved = try WeightsResolver.resolve(modelArgument: bundle + "@a@b.gguf")
        XCTAssertEqual(resolved.origin, .archiveMember(archive: bundle, member: "a@b.gguf"))
        XCTAssertEqual(contents(resolved.region), model)
        XCTAssertEqual(try WeightsResolver.resolve(modelArgument: bundle).origin, .archiveMember(archive: bundle, member: "a@b.gguf"))
    }

    func testMemberCountErrorsAndNonWeights() throws {
        let scratch = try ScratchDirectory()
        let none = scratch.file("none.zip")
        try writeBundle(to: none, prefix: [], members: [("a.txt", [1]), ("b.bin", [2])], scratch: scratch)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: none)) { error in
            XCTAssertEqual(error as? ContainerError, .noWeightsMember(archive: none, members: ["a.txt", "b.bin"]))
        }
        let two = scratch.file("two.zip")
        try writeBundle(to: two, prefix: [], members: [("a.gguf", fakeGGUF(count: 8, seed: 1)), ("B.GGUF", fakeGGUF(count: 8, seed: 2))], scratch: scratch)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: two)) { error in
            XCTAssertEqual(error as? ContainerError, .severalWeightsMembers(archive: two, members: ["a.gguf", "B.GGUF"]))
            XCTAssertTrue("\(error)".contains("a.gguf, B.GGUF"))
        }
        XCTAssertEqual(try WeightsResolver.resolve(modelArgument: two + "@B.GGUF").region.count, 8)
        let notGGUF = scratch.file("bad.zip")
        try writeBundle(to: notGGUF, prefix: [], members: [("m.gguf", Array("GGML not really".utf8))], scratch: scratch)
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: notGGUF)) { error in
            XCTAssertEqual(error as? ContainerError, .notWeights(path: notGGUF, member: "m.gguf"))
        }
        let text = try scratch.write("notes.txt", Array("hello there, not weights at all".utf8))
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: text)) { error in
            XCTAssertEqual(error as? ContainerError, .notWeights(path: text, member: nil))
        }
        let empty = try scratch.write("empty.gguf", [])
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: empty)) { error in
            XCTAssertEqual(error as? ContainerError, .emptyFile(path: empty))
        }
        let missing = scratch.file("missing.gguf")
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: missing)) { error in
            XCTAssertEqual(error as? ContainerError, .fileNotFound(path: missing))
        }
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: scratch.path)) { error in
            XCTAssertEqual(error as? ContainerError, .cannotOpen(path: scratch.path, reason: "not a regular file"))
        }
    }

    func testRunnerWithoutWeights() throws {
        let scratch = try ScratchDirectory()
        let runner = try scratch.write("runner", Array("\u{7F}ELF".utf8) + pseudoRandomBytes(count: 100_000, seed: 6))
        XCTAssertThrowsError(try WeightsResolver.resolveOwnArchive(executable: runner)) { error in
            XCTAssertEqual(error as? ContainerError, .noEmbeddedWeights(executable: runner))
            XCTAssertTrue("\(error)".contains("-m model.gguf"), "\(error)")
        }
        XCTAssertEqual(try OwnArchive.defaultArguments(executable: runner), [])
        // Given as -m, the same file reads as the first piece of a split bundle.
        XCTAssertThrowsError(try WeightsResolver.resolve(modelArgument: runner)) { error in
            guard case ContainerError.splitPart = error else { return XCTFail("\(error)") }
        }
        // A bundle holding only .args still has no weights.
        let argsOnly = scratch.file("argsonly.llamafile")
        try writeBundle(to: argsOnly, prefix: [], members: [(".args", Array("--server 'x".utf8))], scratch: scratch)
        XCTAssertThrowsError(try WeightsResolver.resolveOwnArchive(executable: argsOnly)) { error in
            XCTAssertEqual(error as? ContainerError, .noEmbeddedWeights(executable: argsOnly))
        }
        XCTAssertThrowsError(try OwnArchive.defaultArguments(executable: argsOnly)) { error in
            guard case ContainerError.argsSyntax = error else { return XCTFail("\(error)") }
        }
        // The running test binary has no archive: no default arguments.
        XCTAssertEqual(try OwnArchive.defaultArguments(), [])
    }
}
