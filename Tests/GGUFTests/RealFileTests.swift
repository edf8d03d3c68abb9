import XCTest
@testable import GGUF

/// The shared fixtures parse, with the counts, types and metadata the gguf Python package reports.
final class RealFileTests: XCTestCase {
    func load(_ relative: String) throws -> GGUFFile {
        let url = try testdataDirectory().appendingPathComponent(relative)
        return try GGUFFile.load(path: url.path)
    }

    func checkTinyLlamaMetadata(_ file: GGUFFile) throws {
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.keys.count, 22)
        XCTAssertEqual(try file.string("general.architecture"), "llama")
        XCTAssertEqual(try file.integer("llama.block_count"), 4)
        XCTAssertEqual(try file.integer("llama.embedding_length"), 256)
        XCTAssertEqual(try file.integer("llama.feed_forward_length"), 768)
        XCTAssertEqual(try file.integer("llama.attention.head_count"), 8)
        XCTAssertEqual(try file.integer("llama.attention.head_count_kv"), 4)
        XCTAssertEqual(try file.integer("llama.context_length"), 2048)
        XCTAssertEqual(try file.integer("llama.rope.dimension_count"), 32)
        XCTAssertEqual(try file.float("llama.rope.freq_base"), 500000)
        XCTAssertEqual(try file.float("llama.attention.layer_norm_rms_epsilon"), Double(Float(1e-5)))
        XCTAssertEqual(try file.integer("tokenizer.ggml.bos_token_id"), 128000)
        XCTAssertEqual(try file.integer("tokenizer.ggml.eos_token_id"), 128001)
        XCTAssertEqual(try file.string("tokenizer.ggml.pre"), "llama-bpe")
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.tokens")?.count, 128256)
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.tokens")?.first, "!")
        XCTAssertEqual(try file.integerArray("tokenizer.ggml.token_type")?.count, 128256)
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.merges")?.count, 280147)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.dataOffset, 7_820_608)
        XCTAssertEqual(file.tensors.count, 39)
        XCTAssertNil(file.tensor(named: "output.weight"), "embeddings are tied")
        for layer in 0..<4 {
            for part in ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"] {
                XCTAssertNotNil(file.tensor(named: "blk.\(layer).\(part).weight"), "blk.\(layer).\(part).weight")
            }
        }
        XCTAssertEqual(file.tensor(named: "blk.2.attn_k.weight")?.dimensions, [256, 128])
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_down.weight")?.dimensions, [768, 256])
        XCTAssertEqual(file.tensor(named: "rope_freqs.weight")?.dimensions, [16])
        // The last tensor ends exactly at the end of the file.
        let end = file.tensors.map { $0.offset + $0.byteCount }.max() ?? 0
        XCTAssertEqual(file.dataOffset + end, file.byteCount)
    }

    func testTinyLlamaF16WithQ4Embedding() throws {
        let file = try load("models/tiny-llama3-f16-q4emb.gguf")
        try checkTinyLlamaMetadata(file)
        XCTAssertEqual(file.byteCount, 32_590_208)
        XCTAssertEqual(Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count), [.f16: 28, .f32: 10, .q4_0: 1])
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.dimensions, [256, 128256])
        XCTAssertEqual(embedding.type, .q4_0)
        XCTAssertEqual(embedding.offset, 0)
        XCTAssertEqual(embedding.byteCount, 18_468_864)
        let attentionQ = try XCTUnwrap(file.tensor(named: "blk.0.attn_q.weight"))
        XCTAssertEqual(attentionQ.offset, 18_470_976)
        XCTAssertEqual(attentionQ.byteCount, 131_072)
        // rope_freqs: Llama 3.1 scaling divisors (8 ones, one interpolated value, 7 × 32).
        let rope = try XCTUnwrap(file.tensor(named: "rope_freqs.weight"))
        XCTAssertEqual(rope.offset, 18_469_888)
        let divisors = UnsafeRawBufferPointer(start: file.tensorData(rope), count: rope.byteCount).bindMemory(to: Float.self)
        XCTAssertEqual(Array(divisors.prefix(8)), Array(repeating: 1, count: 8))
        XCTAssertEqual(divisors[8], 3.2922628, accuracy: 1e-6)
        XCTAssertEqual(Array(divisors.suffix(7)), Array(repeating: 32, count: 7))
        // output_norm's first bytes as the Python reader shows them.
        let norm = try XCTUnwrap(file.tensor(named: "output_norm.weight"))
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: file.tensorData(norm), count: 8)), [0xb7, 0x6b, 0x88, 0x40, 0x66, 0xa2, 0x99, 0x40])
        withExtendedLifetime(file) {}
    }

    func testTinyLlamaQ8_0() throws {
        let file = try load("models/tiny-llama3-q8_0-q4emb.gguf")
        try checkTinyLlamaMetadata(file)
        XCTAssertEqual(Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count), [.q8_0: 28, .f32: 10, .q4_0: 1])
        XCTAssertEqual(file.tensor(named: "blk.0.attn_q.weight")?.byteCount, 256 * 256 / 32 * 34)
    }

    func testTinyLlamaKQuantMix() throws {
        let file = try load("models/tiny-llama3-q4_k_m.gguf")
        try checkTinyLlamaMetadata(file)
        XCTAssertEqual(Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count), [.q4_K: 24, .f32: 10, .q6_K: 5])
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.type, .q6_K)
        XCTAssertEqual(embedding.offset, 0, "the generator writes token_embd first")
        XCTAssertEqual(embedding.byteCount, 256 * 128256 / 256 * 210)
        // llama.cpp's Q4_K_M mix for 4 layers: attn_v and ffn_down get Q6_K in layers 2 and 3.
        for layer in 0..<4 {
            for part in ["attn_v", "ffn_down", "attn_q", "ffn_up"] {
                let expected: TensorType = layer >= 2 && (part == "attn_v" || part == "ffn_down") ? .q6_K : .q4_K
                XCTAssertEqual(file.tensor(named: "blk.\(layer).\(part).weight")?.type, expected, "blk.\(layer).\(part)")
            }
        }
    }

    func testLlama3BPEVocabulary() throws {
        let file = try load("vocab/ggml-vocab-llama-bpe.gguf")
        XCTAssertEqual(file.keys.count, 20)
        XCTAssertTrue(file.tensors.isEmpty)
        XCTAssertEqual(try file.integer("llama.block_count"), 32)
        XCTAssertEqual(try file.string("tokenizer.ggml.model"), "gpt2")
        let tokens = try XCTUnwrap(try file.stringArray("tokenizer.ggml.tokens"))
        XCTAssertEqual(tokens.count, 128256)
        XCTAssertEqual(tokens[128000], "<|begin_of_text|>")
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.merges")?.first, "Ġ Ġ")
    }

    func testLlama2SentencePieceVocabulary() throws {
        let file = try load("vocab/ggml-vocab-llama-spm.gguf")
        XCTAssertEqual(file.keys.count, 22)
        XCTAssertTrue(file.tensors.isEmpty)
        XCTAssertEqual(try file.string("tokenizer.ggml.model"), "llama")
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.tokens")?.count, 32000)
        XCTAssertEqual(try file.stringArray("tokenizer.ggml.tokens")?[1], "<s>")
        XCTAssertEqual(try file.floatArray("tokenizer.ggml.scores")?.count, 32000)
        XCTAssertEqual(try file.bool("tokenizer.ggml.add_bos_token"), true)
        XCTAssertEqual(try file.bool("tokenizer.ggml.add_eos_token"), false)
        XCTAssertEqual(try file.integer("tokenizer.ggml.unknown_token_id"), 0)
    }

    func testMissingFileIsCannotOpen() {
        XCTAssertThrowsError(try GGUFFile.load(path: "/nonexistent/model.gguf")) { error in
            guard case .cannotOpen(let path, _)? = error as? GGUFError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/model.gguf")
        }
        XCTAssertThrowsError(try GGUFFile.load(path: "/"), "a directory cannot be read as a file")
    }
}
