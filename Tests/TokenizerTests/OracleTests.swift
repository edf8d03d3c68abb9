import Foundation
import XCTest
@testable import Tokenizer

/// Compares with Hugging Face `tokenizers` (see Fixtures/make_oracle.py): the pre-tokenizer
/// state machines against its regex engine, and whole encodings against its BPE.
final class OracleTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let pieces: [String: [String]]
        let ids: [String: [Int]]?
    }

    private func cases() throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(OracleData.json.utf8))
    }

    static func pieces(_ preTokenizer: PreTokenizer, _ text: String) -> [String] {
        var text = text
        var result: [String] = []
        text.withUTF8 { bytes in
            preTokenizer.split(bytes, 0..<bytes.count) { range in
                result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
            }
        }
        return result
    }

    func testPreTokenizersMatchRegexEngine() throws {
        let cases = try cases()
        XCTAssertGreaterThan(cases.count, 250)
        for name in ["llama-bpe", "qwen2", "gpt2", "smollm", "default"] {
            let preTokenizer = try XCTUnwrap(PreTokenizer.named(name))
            var failures = 0
            for oracle in cases {
                guard let expected = oracle.pieces[name] else { continue }
                let got = Self.pieces(preTokenizer, oracle.text)
                if got != expected {
                    failures += 1
                    if failures <= 5 { print("\(name) \(oracle.text.debugDescription)\n  expected \(expected)\n  got      \(got)") }
                }
            }
            XCTAssertEqual(failures, 0, "\(name): \(failures) of \(cases.count) strings split differently")
        }
    }

    private func checkIds(_ name: String, _ tokenizer: Tokenizer) throws {
        var failures = 0
        var checked = 0
        for oracle in try cases() {
            guard let expected = oracle.ids?[name] else { continue }
            checked += 1
            let got = tokenizer.encode(oracle.text, addBOS: false, parseSpecial: false)
            if got != expected {
                failures += 1
                if failures <= 5 { print("\(name) \(oracle.text.debugDescription)\n  expected \(expected)\n  got      \(got)") }
            }
            XCTAssertEqual(tokenizer.decode(got), oracle.text, "round trip of \(oracle.text.debugDescription)")
        }
        XCTAssertGreaterThan(checked, 250)
        XCTAssertEqual(failures, 0, "\(name): \(failures) of \(checked) strings encode differently")
    }

    func testLlamaBPEMatchesHuggingFace() throws {
        try checkIds("llama-bpe", try TestSupport.tokenizer(TestSupport.llamaBPE))
    }

    func testSmolLMMatchesHuggingFace() throws {
        try checkIds("smollm", try TestSupport.tokenizer(TestSupport.smolLM))
    }
}
