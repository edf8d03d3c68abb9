import XCTest
@testable import Tokenizer

/// llama.cpp's own tokenizer test vectors: every string must give exactly the recorded ids.
final class VocabularyVectorTests: XCTestCase {
    private func check(_ name: String, _ tokenizer: Tokenizer) throws {
        let vectors = try TestSupport.vectors(name)
        XCTAssertEqual(vectors.count, 46)
        var passed = 0
        for (index, vector) in vectors.enumerated() {
            let ids = tokenizer.encode(vector.text, addBOS: false, parseSpecial: false)
            if ids == vector.ids {
                passed += 1
            } else {
                print("\(name) #\(index) \(vector.text.debugDescription)\n  expected \(vector.ids)\n  got      \(ids)")
            }
        }
        XCTAssertEqual(passed, vectors.count, "\(name): \(passed)/\(vectors.count) strings match")
    }

    func testLlamaBPEVectors() throws { try check("llama-bpe", try TestSupport.tokenizer(TestSupport.llamaBPE)) }

    func testLlamaSPMVectors() throws { try check("llama-spm", try TestSupport.tokenizer(TestSupport.llamaSPM)) }

    func testBPERoundTrip() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        for vector in try TestSupport.vectors("llama-bpe") {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(vector.text, addBOS: false, parseSpecial: false)), vector.text)
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(vector.text, addBOS: true, parseSpecial: false)), vector.text)
        }
    }

    func testSPMRoundTrip() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaSPM)
        for vector in try TestSupport.vectors("llama-spm") {
            let ids = tokenizer.encode(vector.text, addBOS: true, parseSpecial: false)
            // decode drops the one space that encoding put in front.
            XCTAssertEqual(tokenizer.decode(ids), vector.text)
            // Piece by piece the prefix space is still there.
            let joined = String(decoding: ids.flatMap { tokenizer.piece($0) }, as: UTF8.self)
            XCTAssertEqual(joined, vector.text.isEmpty ? "" : " " + vector.text)
        }
    }
}
