import Foundation
import GGUF
import Model
import XCTest

/// Weights interleaved at load give the logits of the in-place weights, also when the GGUF lives in a heap
/// buffer (there the original pages must not be released: that would zero them).
final class InterleaveTests: XCTestCase {
    func testInterleavedWeightsGiveTheSameLogitsFromAHeapBuffer() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = ProcessInfo.processInfo.environment["SWIFTFILE_TESTDATA"].map { URL(fileURLWithPath: $0) }
            ?? root.deletingLastPathComponent().appendingPathComponent("shared/testdata")
        let url = folder.appendingPathComponent("models/tiny-llama3-q8_0-q4emb.gguf")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("no test data at \(url.path)") }
        let bytes = try OwnedBytes.read(path: url.path)
        func logits(interleave: Bool) throws -> [Float] {
            let gguf = try GGUFFile(bytes: bytes.buffer, owner: bytes)
            let model = try LlamaModel(gguf: gguf, interleave: interleave)
            let context = InferenceContext(model: model, contextLength: 16, maxBatch: 8, threads: 1)
            let batch = [128000, 791, 6864].enumerated().map { BatchEntry(token: $0.element, position: $0.offset, wantsLogits: $0.offset == 2) }
            return Array(try context.forward(batch))
        }
        let interleaved = try logits(interleave: true)
        let inPlace = try logits(interleave: false)  // parsed again from the same buffer, after the interleaving
        XCTAssertEqual(interleaved.count, inPlace.count)
        XCTAssertGreaterThan(inPlace.map(abs).max() ?? 0, 1, "logits look empty")
        let worst = zip(interleaved, inPlace).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-3, "interleaved vs in-place logits")
    }
}
