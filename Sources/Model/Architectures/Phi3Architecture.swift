extension Architecture {
    /// Phi-3 and Phi-3.5 (dense): one fused QKV matrix, gate and up rows fused in `ffn_up`, NeoX-style RoPE,
    /// LongRoPE factors for the 128k variants. Its sliding-window key is ignored, as llama.cpp ignores it.
    public static let phi3 = Architecture(name: "phi3", rope: .halves, fusedGateUp: true, contextDependentRopeFactors: true,
                                          scalesQuery: true)
}
