import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GGUF
import Model
import XCTest

/// Weights interleaved at load against the same weights in place, also when the GGUF lives in a heap buffer
/// (there the original pages must not be released: that would zero them).
final class InterleaveTests: XCTestCase {
    /// Interleaved first, then in place from the same heap buffer (after the interleaving had its chance to
    /// release pages).
    static func bothLogits(_ name: String) throws -> (interleaved: [Float], inPlace: [Float]) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent("testdata")
        let bytes = try OwnedBytes.read(path: folder.appendingPathComponent("models/\(name).gguf").path)
        return (try logits(bytes, interleave: true), try logits(bytes, interleave: false))
    }

    static func logits(_ bytes: OwnedBytes, interleave: Bool) throws -> [Float] {
        let gguf = try GGUFFile(bytes: bytes.buffer, owner: bytes)
        let model = try TransformerModel(gguf: gguf, interleave: interleave)
        let context = InferenceContext(model: model, contextLength: 16, maxBatch: 8, threads: 1)
        var all: [Float] = []
        // A prompt batch (every row's logits), then two decode steps.
        let prompt = [128000, 791, 6864, 315, 9822]
        all += try context.forward(prompt.enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: true) })
        for (step, token) in [374, 12366].enumerated() {
            all += try context.forward([BatchEntry(token: token, position: prompt.count + step, wantsLogits: true)])
        }
        return all
    }

    /// Weights in a file mapping: formats without an interleaved layout (F32 here) are copied as they are (onto
    /// 2 MiB pages), and the original pages released; the copies give the in-place logits bit for bit.
    func testPlainCopiesOfAMappedFileGiveTheInPlaceLogits() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent("testdata")
        let path = folder.appendingPathComponent("models/tiny-llama3-f32.gguf").path
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0, path)
        defer { close(fd) }
        var info = stat()
        XCTAssertEqual(fstat(fd, &info), 0)
        let size = Int(info.st_size)
        let mapping = try XCTUnwrap(mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0))
        XCTAssertNotEqual(mapping, MAP_FAILED)
        defer { munmap(mapping, size) }
        func logits(copies: Bool) throws -> (logits: [Float], outputData: UnsafeRawPointer) {
            let gguf = try GGUFFile(bytes: UnsafeRawBufferPointer(start: mapping, count: size), pagesReloadable: true)
            let model = try TransformerModel(gguf: gguf, interleave: copies)
            let context = InferenceContext(model: model, contextLength: 16, maxBatch: 8, threads: 1)
            let prompt = [128000, 791, 6864, 315, 9822]
            var all: [Float] = []
            all += try context.forward(prompt.enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: true) })
            all += try context.forward([BatchEntry(token: 374, position: prompt.count, wantsLogits: true)])
            return (all, model.weights.output.data)
        }
        let copied = try logits(copies: true), inPlace = try logits(copies: false)
        let start = UnsafeRawPointer(mapping), end = start + size
        XCTAssertTrue(inPlace.outputData >= start && inPlace.outputData < end, "in place: the output matrix is in the mapping")
        XCTAssertFalse(copied.outputData >= start && copied.outputData < end, "copied: the output matrix is not")
        XCTAssertEqual(copied.logits.count, 6 * 128256)
        XCTAssertGreaterThan(inPlace.logits.map(abs).max() ?? 0, 1, "logits look empty")
        XCTAssertEqual(copied.logits.map(\.bitPattern), inPlace.logits.map(\.bitPattern))
    }

    /// Q8_0 matrices and output: the interleaved tiles keep the in-place kernel's 8 float chains per token, so
    /// every logit of a prompt batch and of decode steps agrees bit for bit.
    func testInterleavedQ8_0IsBitForBitTheInPlaceResult() throws {
        let (interleaved, inPlace) = try Self.bothLogits("tiny-llama3-q8_0")
        XCTAssertEqual(interleaved.count, 7 * 128256)
        XCTAssertGreaterThan(inPlace.map(abs).max() ?? 0, 1, "logits look empty")
        let differing = zip(interleaved, inPlace).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(differing) logits differ, worst by \(zip(interleaved, inPlace).map { abs($0 - $1) }.max() ?? 0)")
    }

    /// Q4_K matrices: a prompt batch's panels are unpacked from the copy into the same bytes the rows give, so
    /// its logits agree bit for bit. Decode steps sum each row's integers before the floats (the row dot keeps
    /// 8 lanes across super-blocks): the matrix products agree to 4e-7 (TensorsTests), but on this random
    /// 4-layer model a 1e-7 difference can carry an activation across a Q8_K rounding boundary and grow to a
    /// few hundredths (GoldenLogitTests.testKQuantModelMatchesFloat64Reference; measured here: 0.097 of
    /// logits up to 6.5). A wrong scale, block or offset moves logits by whole units.
    func testInterleavedQ4_KAgreesWithTheInPlaceResult() throws {
        let (interleaved, inPlace) = try Self.bothLogits("tiny-llama3-q4_k_m")
        let vocabulary = 128256
        XCTAssertEqual(interleaved.count, 7 * vocabulary)
        let largest = inPlace.map(abs).max() ?? 0
        XCTAssertGreaterThan(largest, 1, "logits look empty")
        let prompt = 5 * vocabulary
        let differing = zip(interleaved[..<prompt], inPlace[..<prompt]).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(differing) prompt logits differ")
        let worst = zip(interleaved[prompt...], inPlace[prompt...]).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, 0.25, "decode logits")
        XCTAssertGreaterThan(zip(interleaved[prompt...], inPlace[prompt...]).filter { $0.bitPattern != $1.bitPattern }.count, 0,
                             "decode took the same route both ways: was the copy made?")
    }

    /// A Q4_0 output matrix: interleaved and in place, each row sums its blocks' exact integer totals in one
    /// fused float chain (llama.cpp's repacked order), so prompt batch and decode logits agree bit for bit.
    func testInterleavedQ4_0IsBitForBitTheInPlaceResult() throws {
        let (interleaved, inPlace) = try Self.bothLogits("tiny-llama3-q8_0-q4emb")
        XCTAssertEqual(interleaved.count, 7 * 128256)
        XCTAssertGreaterThan(inPlace.map(abs).max() ?? 0, 1, "logits look empty")
        let differing = zip(interleaved, inPlace).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(differing) logits differ, worst by \(zip(interleaved, inPlace).map { abs($0 - $1) }.max() ?? 0)")
    }
}
