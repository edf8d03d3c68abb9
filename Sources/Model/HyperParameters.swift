import GGUF

/// A model's hyper-parameters, read through its architecture's description and validated so that every later
/// shape computation is safe.
public struct HyperParameters: Sendable, Equatable {
    public var architecture: String
    /// What this architecture fixes (RoPE style, norms, activation, windows…).
    public var traits: Architecture
    public var blockCount: Int
    public var contextLength: Int        // trained context
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    /// Size of one attention head (`attention.key_length`, else embedding ÷ heads); values have the same size.
    public var headDimension: Int
    public var ropeFreqBase: Float
    /// Linear RoPE scaling: positions are multiplied by this (1 ÷ `rope.scaling.factor`).
    public var ropeFreqScale: Float
    /// `rope.scaling.attn_factor`: cos and sin are multiplied by it (LongRoPE's attention scaling).
    public var ropeAttentionFactor: Float
    /// The context the RoPE factors were trained for; longer sequences use `rope_factors_long` where present.
    public var ropeOriginalContext: Int
    public var ropeDimensionCount: Int
    public var rmsEpsilon: Float
    public var vocabularySize: Int
    /// Positions a sliding-window layer sees (itself included); nil when no layer slides.
    public var slidingWindow: Int?
    /// Which layers slide (all false without a window).
    public var slidingLayers: [Bool]
    /// RoPE base and position scale of the sliding layers.
    public var slidingRopeBase: Float
    public var slidingRopeScale: Float
    /// Logits become cap · tanh(logits / cap) (`final_logit_softcapping`); nil when absent or 0.
    public var finalLogitSoftcap: Float?
    /// Multiplies q·k before the softmax.
    public var attentionScale: Float

    public var queryDimension: Int { headDimension * headCount }
    public var kvDimension: Int { headDimension * headCountKV }

    /// Sanity bounds far above any real model, low enough that products stay in Int range.
    static let maximumDimension = 1 << 20
    static let maximumBlocks = 4096

    public init(gguf: GGUFFile) throws {
        do { try self.init(checking: gguf) } catch let e as GGUFError { throw ModelError.metadata(e) }
    }

    /// The RoPE base and position scale of `layer`.
    public func rope(layer: Int) -> (base: Float, scale: Float) {
        slidingLayers[layer] ? (slidingRopeBase, slidingRopeScale) : (ropeFreqBase, ropeFreqScale)
    }

    private init(checking gguf: GGUFFile) throws {
        guard let arch = try gguf.string(MetadataKey.architecture) else { throw ModelError.missingKey(MetadataKey.architecture) }
        guard let traits = Architecture.registry[arch] else { throw ModelError.unknownArchitecture(arch) }
        architecture = arch
        self.traits = traits

        func required(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = try gguf.integer(key) else { throw ModelError.missingKey(key) }
            guard range.contains(v) else { throw ModelError.badHyperParameter(key: key, reason: "\(v) is outside \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        func optional(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = try gguf.integer(key) else { return nil }
            guard range.contains(v) else { throw ModelError.badHyperParameter(key: key, reason: "\(v) is outside \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        func positive(_ key: String, default value: Double, below limit: Double = .infinity) throws -> Float {
            let v = try gguf.float(key) ?? value
            guard v.isFinite, v > 0, v < limit else {
                throw ModelError.badHyperParameter(key: key, reason: "\(v) must be a finite number above 0\(limit.isFinite ? " and below \(limit)" : "")")
            }
            return Float(v)
        }
        blockCount = try required(MetadataKey.blockCount(arch), 1...Self.maximumBlocks)
        contextLength = try required(MetadataKey.contextLength(arch), 1...(1 << 24))
        embeddingLength = try required(MetadataKey.embeddingLength(arch), 1...Self.maximumDimension)
        feedForwardLength = try required(MetadataKey.feedForwardLength(arch), 1...Self.maximumDimension)
        headCount = try required(MetadataKey.headCount(arch), 1...4096)
        headCountKV = try gguf.integer(MetadataKey.headCountKV(arch)) ?? headCount
        guard (1...headCount).contains(headCountKV), headCount % headCountKV == 0 else {
            throw ModelError.badHyperParameter(key: MetadataKey.headCountKV(arch), reason: "\(headCountKV) must divide the head count \(headCount)")
        }
        if let keyLength = try optional(MetadataKey.keyLength(arch), 1...65536) {
            headDimension = keyLength
        } else {
            guard embeddingLength % headCount == 0 else {
                throw ModelError.badHyperParameter(key: MetadataKey.embeddingLength(arch), reason: "\(embeddingLength) is not divisible by the head count \(headCount)")
            }
            headDimension = embeddingLength / headCount
        }
        if let valueLength = try optional(MetadataKey.valueLength(arch), 1...65536), valueLength != headDimension {
            throw ModelError.badHyperParameter(key: MetadataKey.valueLength(arch),
                                               reason: "\(valueLength) differs from the key length \(headDimension) (not supported)")
        }
        guard headDimension % 2 == 0 else {
            throw ModelError.badHyperParameter(key: MetadataKey.keyLength(arch), reason: "head dimension \(headDimension) must be even for RoPE")
        }
        guard headDimension * headCount <= Self.maximumDimension else {
            throw ModelError.badHyperParameter(key: MetadataKey.keyLength(arch), reason: "\(headCount) heads of \(headDimension) exceed \(Self.maximumDimension)")
        }
        ropeDimensionCount = try gguf.integer(MetadataKey.ropeDimensionCount(arch)) ?? headDimension
        guard ropeDimensionCount > 0, ropeDimensionCount <= headDimension, ropeDimensionCount % 2 == 0 else {
            throw ModelError.badHyperParameter(key: MetadataKey.ropeDimensionCount(arch), reason: "\(ropeDimensionCount) must be even and at most the head dimension \(headDimension)")
        }
        let base = try gguf.float(MetadataKey.ropeFreqBase(arch)) ?? 10000
        guard base.isFinite, base > 1 else {
            throw ModelError.badHyperParameter(key: MetadataKey.ropeFreqBase(arch), reason: "\(base) must be a finite number above 1")
        }
        ropeFreqBase = Float(base)

        // RoPE scaling: linear (a position scale) and LongRoPE (factor tensors) are computed; YaRN is not.
        let scaling = try gguf.string(MetadataKey.ropeScalingType(arch)) ?? "linear"
        guard ["none", "linear", "longrope"].contains(scaling) else {
            throw ModelError.badHyperParameter(key: MetadataKey.ropeScalingType(arch), reason: "\"\(scaling)\" RoPE scaling is not supported (none, linear, longrope)")
        }
        let factorKey = gguf.metadata[MetadataKey.ropeScalingFactor(arch)] != nil ? MetadataKey.ropeScalingFactor(arch) : MetadataKey.ropeScaleLinear(arch)
        let factor = try gguf.float(factorKey) ?? 0
        guard factor.isFinite, factor >= 0 else { throw ModelError.badHyperParameter(key: factorKey, reason: "\(factor) must be a finite number ≥ 0") }
        ropeFreqScale = factor == 0 || scaling != "linear" ? 1 : Float(1 / factor)
        ropeAttentionFactor = try positive(MetadataKey.ropeScalingAttentionFactor(arch), default: 1, below: 1e3)
        ropeOriginalContext = try optional(MetadataKey.ropeScalingOriginalContext(arch), 1...(1 << 24)) ?? contextLength

        rmsEpsilon = try positive(MetadataKey.rmsEpsilon(arch), default: 1e-5, below: 1)
        let cap = try gguf.float(MetadataKey.finalLogitSoftcapping(arch)) ?? 0
        guard cap.isFinite, cap >= 0 else { throw ModelError.badHyperParameter(key: MetadataKey.finalLogitSoftcapping(arch), reason: "\(cap) must be a finite number ≥ 0") }
        finalLogitSoftcap = cap > 0 ? Float(cap) : nil
        if let attentionCap = try gguf.float(MetadataKey.attentionLogitSoftcapping(arch)), attentionCap != 0 {
            throw ModelError.badHyperParameter(key: MetadataKey.attentionLogitSoftcapping(arch), reason: "attention soft-capping is not supported for \(arch)")
        }

        // Sliding windows, as the architecture reads the key.
        let window = try optional(MetadataKey.slidingWindow(arch), 0...(1 << 24)) ?? 0
        slidingRopeBase = ropeFreqBase
        slidingRopeScale = ropeFreqScale
        slidingLayers = Array(repeating: false, count: blockCount)
        slidingWindow = nil
        if window > 0 {
            switch traits.slidingWindow {
            case .ignored:
                break
            case .everyLayer:
                slidingWindow = window
                slidingLayers = Array(repeating: true, count: blockCount)
            case .pattern(let period, let swaBase):
                slidingWindow = window
                slidingLayers = try Self.slidingPattern(gguf, key: MetadataKey.slidingWindowPattern(arch), period: period, blocks: blockCount)
                let b = try gguf.float(MetadataKey.ropeFreqBaseSWA(arch)) ?? Double(swaBase)
                guard b.isFinite, b > 1 else {
                    throw ModelError.badHyperParameter(key: MetadataKey.ropeFreqBaseSWA(arch), reason: "\(b) must be a finite number above 1")
                }
                slidingRopeBase = Float(b)
                slidingRopeScale = 1
            }
        }
        switch traits.attentionScale {
        case .perHeadDimension:
            attentionScale = 1 / Float(headDimension).squareRoot()
        case .perEmbeddingShareWhen(let blocks):
            attentionScale = 1 / Float(blockCount == blocks ? embeddingLength / headCount : headDimension).squareRoot()
        }

        // The vocabulary size comes from the embedding matrix; the metadata key, when present, must agree.
        guard let embedding = gguf.tensor(named: TensorName.tokenEmbedding) else { throw ModelError.missingTensor(TensorName.tokenEmbedding) }
        guard embedding.dimensions.count == 2 else {
            throw ModelError.badShape(tensor: TensorName.tokenEmbedding, expected: [embeddingLength, -1], found: embedding.dimensions)
        }
        vocabularySize = embedding.dimensions[1]
        if let v = try gguf.integer(MetadataKey.vocabSize(arch)), v != vocabularySize {
            throw ModelError.badHyperParameter(key: MetadataKey.vocabSize(arch), reason: "\(v) disagrees with \(TensorName.tokenEmbedding) (\(vocabularySize) rows)")
        }
    }

    /// `sliding_window_pattern`: absent → the architecture's period; an integer n → n − 1 sliding layers then a
    /// global one; an array of booleans → one per layer.
    private static func slidingPattern(_ gguf: GGUFFile, key: String, period: Int, blocks: Int) throws -> [Bool] {
        var n = period
        switch gguf.metadata[key] {
        case nil:
            break
        case .array(.bool, let values)?:
            guard values.count == blocks else {
                throw ModelError.badHyperParameter(key: key, reason: "\(values.count) entries for \(blocks) layers")
            }
            return values.map { if case .bool(let b) = $0 { return b } else { return false } }
        case let value?:
            guard let v = value.integer, (0...Self.maximumBlocks).contains(v) else {
                throw ModelError.badHyperParameter(key: key, reason: "\(value.summary) is neither a layer count nor one boolean per layer")
            }
            n = v
        }
        return (0..<blocks).map { n == 0 || $0 % n < n - 1 }
    }
}
