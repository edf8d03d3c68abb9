/// Sampling settings, with llama.cpp's defaults.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0.8
    public var topK = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    public var repeatPenalty: Float = 1.0
    public var repeatLastN = 64
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// nil: a random seed.
    public var seed: UInt64?
    public init() {}
}

/// penalties → top-k → top-p → min-p → temperature → seeded draw; temperature ≤ 0 is greedy
/// (argmax after penalties, ties to the lowest id).
public struct SamplerChain {
    public let parameters: SamplingParameters
    private var random: SplitMix64
    public let seed: UInt64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        seed = parameters.seed ?? SplitMix64.entropy()
        random = SplitMix64(seed: seed)
    }

    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>) -> Int {
        let p = parameters
        let penalised = p.repeatPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0
        if p.temperature <= 0 && !penalised { return Self.argmax(logits) }
        return run(Candidates(logits: logits), history: history)
    }

    /// The same chain over only the tokens in `allowed` (a grammar's mask), without touching the others.
    public mutating func sample(allowed: [Int], logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>) -> Int {
        let ids = allowed.filter { logits.indices.contains($0) }.sorted()
        guard !ids.isEmpty else { return allowed.first ?? 0 }
        return run(Candidates(ids: ids, logits: ids.map { logits[$0] }), history: history)
    }

    private mutating func run(_ candidates: Candidates, history: ArraySlice<Int>) -> Int {
        let p = parameters
        var c = candidates
        let penalties = PenaltySampler(repeatPenalty: p.repeatPenalty, presencePenalty: p.presencePenalty, frequencyPenalty: p.frequencyPenalty, lastN: p.repeatLastN)
        penalties.apply(&c, history: history)
        if p.temperature <= 0 {
            c.sortDescending(keeping: 1)
            return c.ids.first ?? 0
        }
        TopKSampler(k: p.topK).apply(&c, history: history)
        TopPSampler(p: p.topP).apply(&c, history: history)
        MinPSampler(p: p.minP).apply(&c, history: history)
        TemperatureSampler(temperature: p.temperature).apply(&c, history: history)
        return draw(c)
    }

    /// Index of the largest logit; ties go to the lowest id. NaN logits never win.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, l) in logits.enumerated() where l > bestValue { best = i; bestValue = l }
        return best
    }

    private mutating func draw(_ c: Candidates) -> Int {
        let probs = c.probabilities()
        guard !probs.isEmpty else { return 0 }
        let u = Float(random.nextUnit())
        var acc: Float = 0
        for (i, q) in probs.enumerated() {
            acc += q
            if u < acc { return c.ids[i] }
        }
        return c.ids[probs.count - 1]
    }
}

/// A small, fast, seedable generator (SplitMix64): same seed → same sequence on every platform.
public struct SplitMix64 {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    public static func entropy() -> UInt64 { UInt64.random(in: 0...UInt64.max) }
}
