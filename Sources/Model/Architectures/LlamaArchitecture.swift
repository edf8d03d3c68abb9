extension Architecture {
    /// Llama 1–3.x, and models stored as `llama` (SmolLM2, Mistral, Mixtral-free Mistral derivatives).
    /// A `llama.attention.sliding_window` key is honoured as Mistral 7B v0.1's window over every layer
    /// (llama.cpp ignores it; the two agree up to that many positions).
    public static let llama = Architecture(name: "llama", slidingWindow: .everyLayer)
    /// Mistral files that name their own architecture; computed as Llama.
    public static let mistral = Architecture(name: "mistral", slidingWindow: .everyLayer)
}
