import XCTest
@testable import Tokenizer

/// Special tokens in text, BOS, end-of-generation sets, ids out of range.
final class SpecialTokenTests: XCTestCase {
    func testLlama3SpecialTokensParsedOnlyWhenAsked() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        let eot = 128009
        XCTAssertEqual(tokenizer.encode("<|eot_id|>", addBOS: false, parseSpecial: true), [eot])
        let plain = tokenizer.encode("<|eot_id|>", addBOS: false, parseSpecial: false)
        XCTAssertFalse(plain.contains(eot))
        XCTAssertFalse(plain.contains { tokenizer.isControl($0) })
        XCTAssertEqual(tokenizer.decode(plain), "<|eot_id|>")

        let hello = tokenizer.encode("Hello", addBOS: false, parseSpecial: false)
        let world = tokenizer.encode("world", addBOS: false, parseSpecial: false)
        XCTAssertEqual(hello, [9906])
        XCTAssertEqual(tokenizer.encode("Hello<|eot_id|>world", addBOS: false, parseSpecial: true), hello + [eot] + world)
        // Chat-template shape: header tokens around plain text.
        let chat = tokenizer.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addBOS: true, parseSpecial: true)
        XCTAssertEqual(chat, [128000, 128006, 882, 128007, 271, 13347, 128009])
        // A prompt that names BOS itself.
        XCTAssertEqual(tokenizer.encode("<|begin_of_text|>Hello", addBOS: false, parseSpecial: true), [128000, 9906])
        XCTAssertEqual(tokenizer.encode("Hello", addBOS: true, parseSpecial: false), [128000, 9906])
    }

    func testLlama3Metadata() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        XCTAssertEqual(tokenizer.model, .bytePairEncoding)
        XCTAssertEqual(tokenizer.preTokenizerName, "llama-bpe")
        XCTAssertEqual(tokenizer.vocabularySize, 128_256)
        XCTAssertEqual(tokenizer.bosToken, 128_000)
        XCTAssertEqual(tokenizer.eosToken, 128_001)
        XCTAssertEqual(tokenizer.eotToken, 128_009)
        XCTAssertNil(tokenizer.eomToken)  // this is the Llama 3.0 vocabulary: 128008 is still reserved
        XCTAssertTrue(tokenizer.addBOS)  // key absent: Llama 3 expects BOS
        XCTAssertEqual(tokenizer.endOfGenerationTokens, [128_001, 128_009])
        XCTAssertTrue(tokenizer.isEndOfGeneration(128_009))
        XCTAssertFalse(tokenizer.isEndOfGeneration(128_000))
        XCTAssertFalse(tokenizer.isEndOfGeneration(9906))
        XCTAssertTrue(tokenizer.isControl(128_000))
        XCTAssertFalse(tokenizer.isControl(9906))
        XCTAssertEqual(tokenizer.tokenText(22691), "ĠHello")
        XCTAssertEqual(tokenizer.piece(22691), Array(" Hello".utf8))
        // Control tokens render as nothing unless asked.
        XCTAssertEqual(tokenizer.piece(128_009), [])
        XCTAssertEqual(tokenizer.piece(128_009, includeSpecial: true), Array("<|eot_id|>".utf8))
        XCTAssertEqual(tokenizer.decode([9906, 128_009]), "Hello")
        XCTAssertEqual(tokenizer.decode([9906, 128_009], includeSpecial: true), "Hello<|eot_id|>")
    }

    func testIdsOutOfRangeAreEmpty() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaBPE)
        for id in [-1, -5, 128_256, Int.max, Int.min] {
            XCTAssertEqual(tokenizer.piece(id), [])
            XCTAssertNil(tokenizer.tokenText(id))
            XCTAssertFalse(tokenizer.isControl(id))
            XCTAssertFalse(tokenizer.isEndOfGeneration(id))
        }
        XCTAssertEqual(tokenizer.decode([-1, 9906, 1 << 40, Int.min]), "Hello")
    }

    func testSentencePieceSpecialTokensAndSpacePrefix() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.llamaSPM)
        XCTAssertEqual(tokenizer.model, .sentencePiece)
        XCTAssertEqual(tokenizer.bosToken, 1)
        XCTAssertEqual(tokenizer.eosToken, 2)
        XCTAssertEqual(tokenizer.unknownToken, 0)
        XCTAssertTrue(tokenizer.addBOS)
        XCTAssertEqual(tokenizer.endOfGenerationTokens, [2])
        XCTAssertEqual(tokenizer.encode("Hello world", addBOS: true, parseSpecial: false), [1, 15043, 3186])
        // After a special token the text gets the space prefix again, as in llama.cpp.
        XCTAssertEqual(tokenizer.encode("<s>Hello", addBOS: false, parseSpecial: true), [1, 15043])
        XCTAssertFalse(tokenizer.encode("<s>Hello", addBOS: false, parseSpecial: false).contains(1))
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("</s>", addBOS: false, parseSpecial: false)), "</s>")
        // Byte fallback: a character the vocabulary lacks becomes <0xNN> tokens, and decodes back.
        let clef = tokenizer.encode("𝄞", addBOS: false, parseSpecial: false)
        XCTAssertEqual(clef, [29871, 3 + 0xF0, 3 + 0x9D, 3 + 0x84, 3 + 0x9E])
        XCTAssertEqual(tokenizer.decode(clef), "𝄞")
        XCTAssertEqual(tokenizer.piece(3 + 0x41), [0x41])
    }

    func testNulAndControlCharacters() throws {
        for tokenizer in [try TestSupport.tokenizer(TestSupport.llamaBPE), try TestSupport.tokenizer(TestSupport.llamaSPM)] {
            for text in ["a\u{0}b", "\u{0}\u{0}\u{0}", "\u{1}\u{7F}\u{FEFF}x", "\r\r\n\u{2028}"] {
                let ids = tokenizer.encode(text, addBOS: false, parseSpecial: true)
                XCTAssertFalse(ids.isEmpty)
                XCTAssertEqual(tokenizer.decode(ids), text)
            }
            XCTAssertEqual(tokenizer.encode("", addBOS: false, parseSpecial: true), [])
            XCTAssertEqual(tokenizer.encode("", addBOS: true, parseSpecial: true), [try XCTUnwrap(tokenizer.bosToken)])
        }
    }

    func testSmolLM() throws {
        let tokenizer = try TestSupport.tokenizer(TestSupport.smolLM)
        XCTAssertEqual(tokenizer.preTokenizerName, "smollm")
        XCTAssertEqual(tokenizer.vocabularySize, 49_152)
        XCTAssertFalse(tokenizer.addBOS)
        XCTAssertEqual(tokenizer.bosToken, 1)
        XCTAssertEqual(tokenizer.eosToken, 2)
        XCTAssertEqual(tokenizer.eotToken, 2)  // <|im_end|>
        XCTAssertEqual(tokenizer.endOfGenerationTokens, [0, 2])  // <|endoftext|>, <|im_end|>
        // Digits split one by one, and the space before a number stays its own piece.
        let digits = "12345".map { try? XCTUnwrap(tokenizer.tokenId(forText: String($0))) }
        XCTAssertEqual(tokenizer.encode("12345", addBOS: false, parseSpecial: false), digits.compactMap { $0 })
        XCTAssertEqual(tokenizer.encode("Hello world! 123", addBOS: false, parseSpecial: false), [19556, 905, 17, 216, 33, 34, 35])
        XCTAssertEqual(tokenizer.encode("The capital of France is", addBOS: false, parseSpecial: false), [504, 3575, 282, 4649, 314])
        let chat = tokenizer.encode("<|im_start|>user\nHi<|im_end|>\n", addBOS: false, parseSpecial: true)
        XCTAssertEqual(chat.first, 1)
        XCTAssertTrue(chat.contains(2))
        XCTAssertFalse(tokenizer.encode("<|im_start|>", addBOS: false, parseSpecial: false).contains(1))
    }
}
