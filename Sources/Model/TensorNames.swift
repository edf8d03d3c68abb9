/// Canonical GGUF metadata keys and tensor names for the llama architecture, in one place.
enum LlamaKey {
    static let architecture = "general.architecture"
    static func blockCount(_ a: String) -> String { "\(a).block_count" }
    static func contextLength(_ a: String) -> String { "\(a).context_length" }
    static func embeddingLength(_ a: String) -> String { "\(a).embedding_length" }
    static func feedForwardLength(_ a: String) -> String { "\(a).feed_forward_length" }
    static func headCount(_ a: String) -> String { "\(a).attention.head_count" }
    static func headCountKV(_ a: String) -> String { "\(a).attention.head_count_kv" }
    static func ropeFreqBase(_ a: String) -> String { "\(a).rope.freq_base" }
    static func ropeDimensionCount(_ a: String) -> String { "\(a).rope.dimension_count" }
    static func rmsEpsilon(_ a: String) -> String { "\(a).attention.layer_norm_rms_epsilon" }
    static func vocabSize(_ a: String) -> String { "\(a).vocab_size" }
    static let tokens = "tokenizer.ggml.tokens"
}

public enum LlamaTensor {
    public static let tokenEmbedding = "token_embd.weight"
    public static let outputNorm = "output_norm.weight"
    public static let output = "output.weight"
    public static let ropeFrequencies = "rope_freqs.weight"
    public static func attentionNorm(_ i: Int) -> String { "blk.\(i).attn_norm.weight" }
    public static func query(_ i: Int) -> String { "blk.\(i).attn_q.weight" }
    public static func key(_ i: Int) -> String { "blk.\(i).attn_k.weight" }
    public static func value(_ i: Int) -> String { "blk.\(i).attn_v.weight" }
    public static func attentionOutput(_ i: Int) -> String { "blk.\(i).attn_output.weight" }
    public static func ffnNorm(_ i: Int) -> String { "blk.\(i).ffn_norm.weight" }
    public static func gate(_ i: Int) -> String { "blk.\(i).ffn_gate.weight" }
    public static func up(_ i: Int) -> String { "blk.\(i).ffn_up.weight" }
    public static func down(_ i: Int) -> String { "blk.\(i).ffn_down.weight" }
}
