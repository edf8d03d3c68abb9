extension Architecture {
    /// Qwen 2 and 2.5: Llama with q/k/v biases (bound wherever present) and NeoX-style RoPE.
    public static let qwen2 = Architecture(name: "qwen2", rope: .halves)
    /// Qwen 3 (dense): no biases, an RMSNorm over each query and key head, head size from `key_length`.
    public static let qwen3 = Architecture(name: "qwen3", rope: .halves, queryKeyNorms: true)
}
