/// How one architecture's transformer differs from Llama's: the single value the one forward pass
/// (Transformer.swift) and the shape checks (HyperParameters, ModelWeights) consult. Everything that is
/// merely optional in a GGUF (q/k/v and output biases, a fused QKV matrix, a separate output matrix, Llama 3.1's
/// `rope_freqs`, linear RoPE scaling, logit soft-capping) is read for every architecture, as llama.cpp does;
/// this value holds what an architecture fixes.
///
/// Adding an architecture: a file in this folder with a `static let` description, and a line in `registry`.
public struct Architecture: Sendable, Equatable {
    /// Which elements RoPE rotates together: (x[2i], x[2i+1]) as Llama, or (x[i], x[i + n/2]) as GPT-NeoX,
    /// Qwen, Phi-3 and Gemma.
    public enum RopeStyle: Sendable, Equatable { case adjacentPairs, halves }
    /// The gate's nonlinearity: SiLU (SwiGLU) or GELU with the tanh approximation (GeGLU).
    public enum Activation: Sendable, Equatable { case silu, geluTanh }
    /// What `<arch>.attention.sliding_window` means.
    public enum SlidingWindow: Sendable, Equatable {
        /// The key is ignored (llama.cpp ignores it for this architecture too).
        case ignored
        /// Every layer attends to the last `window` positions only (Mistral 7B v0.1).
        case everyLayer
        /// `period - 1` sliding layers, then one global one (`<arch>.attention.sliding_window_pattern` may
        /// override the period); sliding layers rotate with `<arch>.rope.freq_base_swa` (default `swaRopeBase`).
        case pattern(period: Int, swaRopeBase: Float)
    }
    /// How the query is scaled before q·k.
    public enum AttentionScale: Sendable, Equatable {
        /// 1/√(head dimension).
        case perHeadDimension
        /// 1/√(embedding ÷ heads) for models of `blocks` layers, else 1/√(head dimension) (Gemma 3 27B's
        /// query_pre_attn_scalar).
        case perEmbeddingShareWhen(blocks: Int)
    }

    public let name: String
    public let rope: RopeStyle
    public let activation: Activation
    /// `attn_q_norm`/`attn_k_norm`: an RMSNorm over each head of the queries and keys, before RoPE.
    public let queryKeyNorms: Bool
    /// `post_attention_norm`/`post_ffw_norm`: an RMSNorm of each block's output before the residual add.
    public let postNorms: Bool
    /// The token embedding is multiplied by √(embedding length).
    public let scalesEmbedding: Bool
    /// `ffn_up` holds the gate rows then the up rows (2 × feed_forward_length), and there is no `ffn_gate`.
    public let fusedGateUp: Bool
    public let slidingWindow: SlidingWindow
    /// `rope_factors_long`/`rope_factors_short` (Phi-3 LongRoPE): the long ones when a sequence's context
    /// exceeds `rope.scaling.original_context_length`.
    public let contextDependentRopeFactors: Bool
    public let attentionScale: AttentionScale
    /// The scale multiplies the queries (before they are rounded to meet the F16 cache) rather than the
    /// scores: where the architecture's reference computes it so (Phi-3, Gemma 3), the same rounding follows.
    public let scalesQuery: Bool

    public init(name: String, rope: RopeStyle = .adjacentPairs, activation: Activation = .silu, queryKeyNorms: Bool = false,
                postNorms: Bool = false, scalesEmbedding: Bool = false, fusedGateUp: Bool = false,
                slidingWindow: SlidingWindow = .ignored, contextDependentRopeFactors: Bool = false,
                attentionScale: AttentionScale = .perHeadDimension, scalesQuery: Bool = false) {
        self.name = name; self.rope = rope; self.activation = activation; self.queryKeyNorms = queryKeyNorms
        self.postNorms = postNorms; self.scalesEmbedding = scalesEmbedding; self.fusedGateUp = fusedGateUp
        self.slidingWindow = slidingWindow; self.contextDependentRopeFactors = contextDependentRopeFactors
        self.attentionScale = attentionScale; self.scalesQuery = scalesQuery
    }

    /// Every architecture this build computes, by `general.architecture`.
    public static let registry: [String: Architecture] = Dictionary(uniqueKeysWithValues: [
        llama, mistral, qwen2, qwen3, phi3, gemma3,
    ].map { ($0.name, $0) })

    public static var supportedNames: [String] { registry.keys.sorted() }
}
