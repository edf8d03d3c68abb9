import GGUF
import Model
import XCTest

/// Model binding refuses inconsistent metadata and shapes with an error naming the key or tensor.
final class HyperParameterTests: XCTestCase {
    /// A tiny valid llama GGUF (F32 weights, 2 layers), with hooks to break one thing.
    func makeModel(edit: (inout GGUFWriter) -> Void = { _ in }) -> [UInt8] {
        var w = GGUFWriter()
        let e = 64, ff = 96, vocab = 32, kv = 32
        w.set("general.architecture", .string("llama"))
        w.set("llama.block_count", .uint32(2))
        w.set("llama.context_length", .uint32(128))
        w.set("llama.embedding_length", .uint32(UInt32(e)))
        w.set("llama.feed_forward_length", .uint32(UInt32(ff)))
        w.set("llama.attention.head_count", .uint32(4))
        w.set("llama.attention.head_count_kv", .uint32(2))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        func f32(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: 4 * n) }
        w.addTensor("token_embd.weight", dimensions: [e, vocab], type: .f32, data: f32(e * vocab))
        w.addTensor("output_norm.weight", dimensions: [e], type: .f32, data: f32(e))
        for i in 0..<2 {
            w.addTensor("blk.\(i).attn_norm.weight", dimensions: [e], type: .f32, data: f32(e))
            w.addTensor("blk.\(i).attn_q.weight", dimensions: [e, e], type: .f32, data: f32(e * e))
            w.addTensor("blk.\(i).attn_k.weight", dimensions: [e, kv], type: .f32, data: f32(e * kv))
            w.addTensor("blk.\(i).attn_v.weight", dimensions: [e, kv], type: .f32, data: f32(e * kv))
            w.addTensor("blk.\(i).attn_output.weight", dimensions: [e, e], type: .f32, data: f32(e * e))
            w.addTensor("blk.\(i).ffn_norm.weight", dimensions: [e], type: .f32, data: f32(e))
            w.addTensor("blk.\(i).ffn_gate.weight", dimensions: [e, ff], type: .f32, data: f32(e * ff))
            w.addTensor("blk.\(i).ffn_up.weight", dimensions: [e, ff], type: .f32, data: f32(e * ff))
            w.addTensor("blk.\(i).ffn_down.weight", dimensions: [ff, e], type: .f32, data: f32(e * ff))
        }
        edit(&w)
        return w.bytes()
    }

    func load(_ bytes: [UInt8]) throws -> TransformerModel { try TransformerModel(gguf: try GGUFFile.parse(bytes)) }

    func testValidModelBindsAndRuns() throws {
        let model = try load(makeModel())
        XCTAssertEqual(model.hyper.headDimension, 16)
        XCTAssertEqual(model.hyper.kvDimension, 32)
        XCTAssertEqual(model.hyper.vocabularySize, 32)
        XCTAssertTrue(model.weights.outputIsTied)
        let context = InferenceContext(model: model, contextLength: 8, maxBatch: 4, threads: 2)
        let logits = try context.forward([BatchEntry(token: 1, position: 0, wantsLogits: false), BatchEntry(token: 2, position: 1, wantsLogits: true)])
        XCTAssertEqual(logits.count, 32)
        XCTAssertTrue(logits.allSatisfy { $0 == 0 }, "zero weights give zero logits")
        XCTAssertThrowsError(try context.forward([BatchEntry(token: 32, position: 0, wantsLogits: true)])) {
            XCTAssertEqual($0 as? ModelError, .badToken(id: 32, vocabularySize: 32))
        }
        XCTAssertThrowsError(try context.forward([BatchEntry(token: 0, position: 8, wantsLogits: true)]))
        XCTAssertThrowsError(try context.forward(Array(repeating: BatchEntry(token: 0, position: 0, wantsLogits: false), count: 5)))
    }

    func expectError(_ expected: ModelError, _ edit: (inout GGUFWriter) -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(makeModel(edit: edit)), file: file, line: line) { error in
            XCTAssertEqual(error as? ModelError, expected, "\(error)", file: file, line: line)
        }
    }

    func testInconsistentHyperParametersAreRefused() {
        expectError(.unknownArchitecture("gpt-neox")) { $0.set("general.architecture", .string("gpt-neox")) }
        expectError(.missingKey("llama.block_count")) { $0.metadata.removeAll { $0.0 == "llama.block_count" } }
        expectError(.badHyperParameter(key: "llama.attention.head_count_kv", reason: "3 must divide the head count 4")) {
            $0.set("llama.attention.head_count_kv", .uint32(3))
        }
        expectError(.badHyperParameter(key: "llama.embedding_length", reason: "64 is not divisible by the head count 5")) {
            $0.set("llama.attention.head_count", .uint32(5)); $0.set("llama.attention.head_count_kv", .uint32(5))
        }
        expectError(.badHyperParameter(key: "llama.block_count", reason: "0 is outside 1...4096")) { $0.set("llama.block_count", .uint32(0)) }
        expectError(.badHyperParameter(key: "llama.attention.layer_norm_rms_epsilon", reason: "nan must be a finite number above 0 and below 1.0")) {
            $0.set("llama.attention.layer_norm_rms_epsilon", .float32(.nan))
        }
        expectError(.inArchitecture("llama", .missingTensor("blk.2.attn_norm.weight"))) { $0.set("llama.block_count", .uint32(3)) }
        expectError(.badHyperParameter(key: "llama.vocab_size", reason: "33 disagrees with token_embd.weight (32 rows)")) {
            $0.set("llama.vocab_size", .uint32(33))
        }
    }

    func testWrongShapeIsRefused() {
        expectError(.inArchitecture("llama", .badShape(tensor: "blk.1.ffn_up.weight", expected: [64, 96], found: [96, 64]))) { w in
            if let i = w.tensors.firstIndex(where: { $0.name == "blk.1.ffn_up.weight" }) { w.tensors[i].dimensions = [96, 64] }
        }
    }
}

/// What each architecture reads from the same keys.
final class ArchitectureHyperParameterTests: XCTestCase {
    func hyper(_ arch: String, blocks: Int = 12, _ edit: (inout GGUFWriter) -> Void = { _ in }) throws -> HyperParameters {
        var w = GGUFWriter()
        w.set("general.architecture", .string(arch))
        w.set("\(arch).block_count", .uint32(UInt32(blocks)))
        w.set("\(arch).context_length", .uint32(4096))
        w.set("\(arch).embedding_length", .uint32(64))
        w.set("\(arch).feed_forward_length", .uint32(96))
        w.set("\(arch).attention.head_count", .uint32(4))
        w.addTensor("token_embd.weight", dimensions: [64, 8], type: .f32, data: [UInt8](repeating: 0, count: 4 * 64 * 8))
        edit(&w)
        return try HyperParameters(gguf: try GGUFFile.parse(w.bytes()))
    }

    func testSlidingWindowLayers() throws {
        // Mistral-style: every layer slides.
        let mistral = try hyper("llama", blocks: 3) { $0.set("llama.attention.sliding_window", .uint32(4096)) }
        XCTAssertEqual(mistral.slidingWindow, 4096)
        XCTAssertEqual(mistral.slidingLayers, [true, true, true])
        XCTAssertNil(try hyper("llama").slidingWindow)
        // Gemma 3: five sliding layers, then a global one; the sliding ones rotate with base 10,000.
        let gemma = try hyper("gemma3") {
            $0.set("gemma3.attention.sliding_window", .uint32(512)); $0.set("gemma3.rope.freq_base", .float32(1e6))
            $0.set("gemma3.rope.scaling.type", .string("linear")); $0.set("gemma3.rope.scaling.factor", .float32(8))
        }
        XCTAssertEqual(gemma.slidingLayers, (0..<12).map { $0 % 6 != 5 })
        XCTAssertTrue(gemma.rope(layer: 0) == (10_000, 1))
        XCTAssertTrue(gemma.rope(layer: 5) == (1e6, 0.125), "the global layers take the linear scaling")
        let pattern = try hyper("gemma3", blocks: 4) {
            $0.set("gemma3.attention.sliding_window", .uint32(8)); $0.set("gemma3.attention.sliding_window_pattern", .uint32(2))
        }
        XCTAssertEqual(pattern.slidingLayers, [true, false, true, false])
        // Phi-3: llama.cpp ignores its window, so do we.
        XCTAssertNil(try hyper("phi3") { $0.set("phi3.attention.sliding_window", .uint32(2047)) }.slidingWindow)
    }

    func testHeadSizeAndScale() throws {
        let qwen3 = try hyper("qwen3") { $0.set("qwen3.attention.key_length", .uint32(32)) }
        XCTAssertEqual(qwen3.headDimension, 32)
        XCTAssertEqual(qwen3.queryDimension, 128)
        XCTAssertEqual(qwen3.attentionScale, 1 / Float(32).squareRoot())
        // Gemma 3 27B (62 layers) scales by the embedding share, not the head size.
        let big = try hyper("gemma3", blocks: 62) { $0.set("gemma3.attention.key_length", .uint32(32)) }
        XCTAssertEqual(big.attentionScale, 1 / Float(16).squareRoot())
        XCTAssertThrowsError(try hyper("qwen2") { $0.set("qwen2.rope.scaling.type", .string("yarn")) }) {
            XCTAssertEqual("\($0)", "model metadata \"qwen2.rope.scaling.type\": \"yarn\" RoPE scaling is not supported (none, linear, longrope)")
        }
        XCTAssertThrowsError(try hyper("gpt2")) {
            XCTAssertEqual("\($0)", "unsupported model architecture \"gpt2\" (supported: gemma3, llama, mistral, phi3, qwen2, qwen3)")
        }
    }
}
