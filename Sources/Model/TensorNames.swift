/// Canonical GGUF metadata keys, one place for all architectures (`a` is `general.architecture`).
enum MetadataKey {
    static let architecture = "general.architecture"
    static func blockCount(_ a: String) -> String { "\(a).block_count" }
    static func contextLength(_ a: String) -> String { "\(a).context_length" }
    static func embeddingLength(_ a: String) -> String { "\(a).embedding_length" }
    static func feedForwardLength(_ a: String) -> String { "\(a).feed_forward_length" }
    static func headCount(_ a: String) -> String { "\(a).attention.head_count" }
    static func headCountKV(_ a: String) -> String { "\(a).attention.head_count_kv" }
    static func keyLength(_ a: String) -> String { "\(a).attention.key_length" }
    static func valueLength(_ a: String) -> String { "\(a).attention.value_length" }
    static func slidingWindow(_ a: String) -> String { "\(a).attention.sliding_window" }
    static func slidingWindowPattern(_ a: String) -> String { "\(a).attention.sliding_window_pattern" }
    static func ropeFreqBase(_ a: String) -> String { "\(a).rope.freq_base" }
    static func ropeFreqBaseSWA(_ a: String) -> String { "\(a).rope.freq_base_swa" }
    static func ropeDimensionCount(_ a: String) -> String { "\(a).rope.dimension_count" }
    static func ropeScalingType(_ a: String) -> String { "\(a).rope.scaling.type" }
    static func ropeScalingFactor(_ a: String) -> String { "\(a).rope.scaling.factor" }
    static func ropeScaleLinear(_ a: String) -> String { "\(a).rope.scale_linear" }
    static func ropeScalingAttentionFactor(_ a: String) -> String { "\(a).rope.scaling.attn_factor" }
    static func ropeScalingOriginalContext(_ a: String) -> String { "\(a).rope.scaling.original_context_length" }
    static func rmsEpsilon(_ a: String) -> String { "\(a).attention.layer_norm_rms_epsilon" }
    static func finalLogitSoftcapping(_ a: String) -> String { "\(a).final_logit_softcapping" }
    static func attentionLogitSoftcapping(_ a: String) -> String { "\(a).attn_logit_softcapping" }
    static func vocabSize(_ a: String) -> String { "\(a).vocab_size" }
    static let tokens = "tokenizer.ggml.tokens"
}

/// Canonical GGUF tensor names, one place for all architectures.
public enum TensorName {
    public static let tokenEmbedding = "token_embd.weight"
    public static let outputNorm = "output_norm.weight"
    public static let output = "output.weight"
    public static let outputBias = "output.bias"
    public static let ropeFrequencies = "rope_freqs.weight"
    public static let ropeFactorsLong = "rope_factors_long.weight"
    public static let ropeFactorsShort = "rope_factors_short.weight"
    public static func attentionNorm(_ i: Int) -> String { "blk.\(i).attn_norm.weight" }
    public static func query(_ i: Int) -> String { "blk.\(i).attn_q.weight" }
    public static func key(_ i: Int) -> String { "blk.\(i).attn_k.weight" }
    public static func value(_ i: Int) -> String { "blk.\(i).attn_v.weight" }
    public static func queryKeyValue(_ i: Int) -> String { "blk.\(i).attn_qkv.weight" }
    public static func queryBias(_ i: Int) -> String { "blk.\(i).attn_q.bias" }
    public static func keyBias(_ i: Int) -> String { "blk.\(i).attn_k.bias" }
    public static func valueBias(_ i: Int) -> String { "blk.\(i).attn_v.bias" }
    public static func queryKeyValueBias(_ i: Int) -> String { "blk.\(i).attn_qkv.bias" }
    public static func queryNorm(_ i: Int) -> String { "blk.\(i).attn_q_norm.weight" }
    public static func keyNorm(_ i: Int) -> String { "blk.\(i).attn_k_norm.weight" }
    public static func attentionOutput(_ i: Int) -> String { "blk.\(i).attn_output.weight" }
    public static func attentionOutputBias(_ i: Int) -> String { "blk.\(i).attn_output.bias" }
    public static func postAttentionNorm(_ i: Int) -> String { "blk.\(i).post_attention_norm.weight" }
    public static func ffnNorm(_ i: Int) -> String { "blk.\(i).ffn_norm.weight" }
    public static func gate(_ i: Int) -> String { "blk.\(i).ffn_gate.weight" }
    public static func up(_ i: Int) -> String { "blk.\(i).ffn_up.weight" }
    public static func down(_ i: Int) -> String { "blk.\(i).ffn_down.weight" }
    public static func postFFNNorm(_ i: Int) -> String { "blk.\(i).post_ffw_norm.weight" }
}
