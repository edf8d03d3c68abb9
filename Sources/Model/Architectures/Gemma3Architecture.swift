extension Architecture {
    /// Gemma 3 (text): √embedding input scale, q/k norms, post-attention and post-FFN norms, GeGLU,
    /// NeoX-style RoPE, five sliding-window layers (RoPE base 10,000) per global one (the file's base).
    public static let gemma3 = Architecture(name: "gemma3", rope: .halves, activation: .geluTanh, queryKeyNorms: true,
                                            postNorms: true, scalesEmbedding: true,
                                            slidingWindow: .pattern(period: 6, swaRopeBase: 10_000),
                                            attentionScale: .perEmbeddingShareWhen(blocks: 62), scalesQuery: true)
}
