import GGUF
import XCTest
@testable import Tokenizer

/// Broken tokenizer metadata, built with GGUFWriter, must throw a TokenizerError naming the key.
final class BadMetadataTests: XCTestCase {
    private func strings(_ values: [String]) -> GGUFValue { .array(.string, values.map { .string($0) }) }
    private func int32s(_ values: [Int32]) -> GGUFValue { .array(.int32, values.map { .int32($0) }) }
    private func floats(_ values: [Float]) -> GGUFValue { .array(.float32, values.map { .float32($0) }) }

    /// A tiny working byte-level BPE vocabulary: a, b, ab, Ġ (space) and one merge.
    private func bpeWriter() -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        writer.set("tokenizer.ggml.pre", .string("gpt2"))
        writer.set("tokenizer.ggml.tokens", strings(["a", "b", "ab", "Ġ", "<|end|>"]))
        writer.set("tokenizer.ggml.token_type", int32s([1, 1, 1, 1, 3]))
        writer.set("tokenizer.ggml.merges", strings(["a b"]))
        return writer
    }

    /// A tiny SentencePiece vocabulary with byte fallback for 'x' only.
    private func spmWriter() -> GGUFWriter {
        var writer = GGUFWriter()
        writer.set("tokenizer.ggml.model", .string("llama"))
        writer.set("tokenizer.ggml.tokens", strings(["<unk>", "<s>", "</s>", "<0x78>", "▁", "a", "b", "▁a", "ab", "▁ab"]))
        writer.set("tokenizer.ggml.token_type", int32s([2, 3, 3, 6, 1, 1, 1, 1, 1, 1]))
        writer.set("tokenizer.ggml.scores", floats([0, 0, 0, 0, -1, -2, -2, -1.5, -3, -0.5]))
        return writer
    }

    private func load(_ writer: GGUFWriter) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile.parse(writer.bytes()))
    }

    private func assertThrows(_ writer: GGUFWriter, _ expected: TokenizerError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(writer), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, file: file, line: line)
            XCTAssertFalse("\(error)".isEmpty)
        }
    }

    func testTinyVocabulariesWork() throws {
        let bpe = try load(bpeWriter())
        XCTAssertEqual(bpe.encode("ab a", addBOS: true, parseSpecial: false), [2, 3, 0])  // no BOS in this vocabulary
        XCTAssertFalse(bpe.addBOS)
        XCTAssertEqual(bpe.endOfGenerationTokens, [4])  // found by its text
        XCTAssertEqual(bpe.eotToken, 4)
        XCTAssertEqual(bpe.decode([2, 3, 0]), "ab a")
        XCTAssertEqual(bpe.encode("ab<|end|>", addBOS: false, parseSpecial: true), [2, 4])
        // Bytes the vocabulary lacks are dropped (llama.cpp does the same).
        XCTAssertEqual(bpe.encode("abc", addBOS: false, parseSpecial: false), [2])

        let spm = try load(spmWriter())
        XCTAssertEqual(spm.encode("ab x", addBOS: true, parseSpecial: false), [1, 9, 4, 3])
        XCTAssertEqual(spm.decode([1, 9, 4, 3]), "ab x")
        // No byte token for 'y': the unknown token stands in.
        XCTAssertEqual(spm.encode("y", addBOS: false, parseSpecial: false), [4, 0])
    }

    func testMissingAndUnknownModel() {
        var writer = bpeWriter()
        writer.metadata.removeAll { $0.0 == "tokenizer.ggml.model" }
        assertThrows(writer, .missingKey("tokenizer.ggml.model"))
        writer = bpeWriter()
        writer.set("tokenizer.ggml.model", .string("wordpiece"))
        assertThrows(writer, .unknownModel(name: "wordpiece", supported: ["gpt2", "llama"]))
        writer.set("tokenizer.ggml.model", .uint32(2))
        XCTAssertThrowsError(try load(writer)) { error in
            guard case .wrongType(let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "tokenizer.ggml.model")
        }
    }

    func testUnknownPreTokenizerNamesItAndTheSupportedOnes() {
        var writer = bpeWriter()
        writer.set("tokenizer.ggml.pre", .string("klingon"))
        XCTAssertThrowsError(try load(writer)) { error in
            guard case .unknownPreTokenizer(let name, let supported)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "klingon")
            XCTAssertTrue(supported.contains("llama-bpe") && supported.contains("smollm"))
            XCTAssertTrue("\(error)".contains("klingon"))
        }
        // Absent: the "default" recipe, as llama.cpp.
        writer.metadata.removeAll { $0.0 == "tokenizer.ggml.pre" }
        XCTAssertEqual((try? load(writer))?.preTokenizerName, "default")
    }

    func testVocabularyArrays() {
        var writer = bpeWriter()
        writer.set("tokenizer.ggml.tokens", strings([]))
        assertThrows(writer, .emptyVocabulary(key: "tokenizer.ggml.tokens"))
        writer.set("tokenizer.ggml.tokens", int32s([1, 2]))
        XCTAssertThrowsError(try load(writer)) { error in
            guard case .wrongType(let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "tokenizer.ggml.tokens")
        }
        writer = bpeWriter()
        writer.metadata.removeAll { $0.0 == "tokenizer.ggml.tokens" }
        assertThrows(writer, .missingKey("tokenizer.ggml.tokens"))

        writer = bpeWriter()
        writer.set("tokenizer.ggml.token_type", int32s([1, 1, 1]))
        assertThrows(writer, .lengthMismatch(key: "tokenizer.ggml.token_type", count: 3, expected: 5))
        writer.set("tokenizer.ggml.token_type", int32s([1, 1, 9, 1, 1]))
        assertThrows(writer, .badTokenType(key: "tokenizer.ggml.token_type", id: 2, type: 9))
        writer.set("tokenizer.ggml.token_type", int32s([1, 1, -1, 1, 1]))
        assertThrows(writer, .badTokenType(key: "tokenizer.ggml.token_type", id: 2, type: -1))

        writer = spmWriter()
        writer.set("tokenizer.ggml.scores", floats([0, 1]))
        assertThrows(writer, .lengthMismatch(key: "tokenizer.ggml.scores", count: 2, expected: 10))
    }

    func testSpecialIdsOutOfRange() {
        for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                    "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            var writer = bpeWriter()
            writer.set(key, .uint32(5))
            assertThrows(writer, .tokenIdOutOfRange(key: key, id: 5, vocabularySize: 5))
            writer.set(key, .uint32(UInt32.max))
            assertThrows(writer, .tokenIdOutOfRange(key: key, id: Int(UInt32.max), vocabularySize: 5))
            writer.set(key, .int32(-1))
            assertThrows(writer, .tokenIdOutOfRange(key: key, id: -1, vocabularySize: 5))
            writer.set(key, .uint64(UInt64.max))  // does not fit an Int: a type error, still naming the key
            XCTAssertThrowsError(try load(writer)) { error in
                guard case .wrongType(let named, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(named, key)
            }
        }
        var writer = bpeWriter()
        writer.set("tokenizer.ggml.bos_token_id", .uint32(4))
        XCTAssertEqual((try? load(writer))?.bosToken, 4)
    }

    func testMalformedByteTokens() {
        for bad in ["<0xZZ>", "<0x4>", "<0x041>", "0x41", "<0X41>", "<0x41", "", "<0x4é>"] {
            var writer = spmWriter()
            var tokens = ["<unk>", "<s>", "</s>", bad, "▁", "a", "b", "▁a", "ab", "▁ab"]
            writer.set("tokenizer.ggml.tokens", strings(tokens))
            assertThrows(writer, .badByteToken(key: "tokenizer.ggml.tokens", id: 3, text: bad))
            tokens[3] = "<0xfe>"  // lower-case hex is accepted
            writer.set("tokenizer.ggml.tokens", strings(tokens))
            XCTAssertEqual((try? load(writer))?.piece(3), [0xFE])
        }
    }

    func testBadMerges() {
        let cases: [(String, String)] = [
            ("a c", "names \"c\", which is not in the vocabulary"),
            ("c a", "names \"c\", which is not in the vocabulary"),
            ("ab", "is not two tokens separated by a space"),
            ("a ", "is not two tokens separated by a space"),
            ("", "is not two tokens separated by a space"),
            ("b a", "names the merged token \"ba\", which is not in the vocabulary"),
        ]
        for (merge, reason) in cases {
            var writer = bpeWriter()
            writer.set("tokenizer.ggml.merges", strings(["a b", merge]))
            assertThrows(writer, .badMerge(key: "tokenizer.ggml.merges", index: 1, text: merge, reason: reason))
        }
        var writer = bpeWriter()
        writer.metadata.removeAll { $0.0 == "tokenizer.ggml.merges" }
        assertThrows(writer, .missingKey("tokenizer.ggml.merges"))
        // A repeated merge keeps its first rank.
        writer = bpeWriter()
        writer.set("tokenizer.ggml.merges", strings(["a b", "a b"]))
        XCTAssertEqual((try? load(writer))?.encode("ab", addBOS: false, parseSpecial: false), [2])
    }

    func testFlagsOfWrongType() {
        var writer = bpeWriter()
        writer.set("tokenizer.ggml.add_bos_token", .string("yes"))
        XCTAssertThrowsError(try load(writer)) { error in
            guard case .wrongType(let key, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "tokenizer.ggml.add_bos_token")
        }
        writer.set("tokenizer.ggml.add_bos_token", .bool(true))
        XCTAssertEqual((try? load(writer))?.addBOS, true)
    }
}
