import GGUF

/// Llama-family hyper-parameters, validated so that every later shape computation is safe.
public struct HyperParameters: Sendable, Equatable {
    public var architecture: String
    public var blockCount: Int
    public var contextLength: Int        // trained context
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    public var ropeFreqBase: Float
    public var ropeDimensionCount: Int
    public var rmsEpsilon: Float
    public var vocabularySize: Int

    public var headDimension: Int { embeddingLength / headCount }
    public var kvDimension: Int { headDimension * headCountKV }

    /// Architectures computed by the llama forward pass.
    static let supported: Set<String> = ["llama", "mistral"]
    /// Sanity bounds far above any real model, low enough that products stay in Int range.
    static let maximumDimension = 1 << 20
    static let maximumBlocks = 4096

    public init(gguf: GGUFFile) throws {
        do { try self.init(checking: gguf) } catch let e as GGUFError { throw ModelError.metadata(e) }
    }

    private init(checking gguf: GGUFFile) throws {
        guard let arch = try gguf.string(LlamaKey.architecture) else { throw ModelError.missingKey(LlamaKey.architecture) }
        guard Self.supported.contains(arch) else { throw ModelError.unknownArchitecture(arch) }
        architecture = arch

        func required(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = try gguf.integer(key) else { throw ModelError.missingKey(key) }
            guard range.contains(v) else { throw ModelError.badHyperParameter(key: key, reason: "\(v) is outside \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        blockCount = try required(LlamaKey.blockCount(arch), 1...Self.maximumBlocks)
        contextLength = try required(LlamaKey.contextLength(arch), 1...(1 << 24))
        embeddingLength = try required(LlamaKey.embeddingLength(arch), 1...Self.maximumDimension)
        feedForwardLength = try required(LlamaKey.feedForwardLength(arch), 1...Self.maximumDimension)
        headCount = try required(LlamaKey.headCount(arch), 1...4096)
        headCountKV = try gguf.integer(LlamaKey.headCountKV(arch)) ?? headCount
        guard (1...headCount).contains(headCountKV), headCount % headCountKV == 0 else {
            throw ModelError.badHyperParameter(key: LlamaKey.headCountKV(arch), reason: "\(headCountKV) must divide the head count \(headCount)")
        }
        guard embeddingLength % headCount == 0 else {
            throw ModelError.badHyperParameter(key: LlamaKey.embeddingLength(arch), reason: "\(embeddingLength) is not divisible by the head count \(headCount)")
        }
        let headDim = embeddingLength / headCount
        guard headDim % 2 == 0 else {
            throw ModelError.badHyperParameter(key: LlamaKey.headCount(arch), reason: "head dimension \(headDim) must be even for RoPE")
        }
        ropeDimensionCount = try gguf.integer(LlamaKey.ropeDimensionCount(arch)) ?? headDim
        guard ropeDimensionCount > 0, ropeDimensionCount <= headDim, ropeDimensionCount % 2 == 0 else {
            throw ModelError.badHyperParameter(key: LlamaKey.ropeDimensionCount(arch), reason: "\(ropeDimensionCount) must be even and at most the head dimension \(headDim)")
        }
        let base = try gguf.float(LlamaKey.ropeFreqBase(arch)) ?? 10000
        guard base.isFinite, base > 1 else {
            throw ModelError.badHyperParameter(key: LlamaKey.ropeFreqBase(arch), reason: "\(base) must be a finite number above 1")
        }
        ropeFreqBase = Float(base)
        let eps = try gguf.float(LlamaKey.rmsEpsilon(arch)) ?? 1e-5
        guard eps.isFinite, eps > 0, eps < 1 else {
            throw ModelError.badHyperParameter(key: LlamaKey.rmsEpsilon(arch), reason: "\(eps) must be in (0, 1)")
        }
        rmsEpsilon = Float(eps)
        // The vocabulary size comes from the embedding matrix; the metadata key, when present, must agree.
        guard let embedding = gguf.tensor(named: LlamaTensor.tokenEmbedding) else { throw ModelError.missingTensor(LlamaTensor.tokenEmbedding) }
        guard embedding.dimensions.count == 2 else {
            throw ModelError.badShape(tensor: LlamaTensor.tokenEmbedding, expected: [embeddingLength, -1], found: embedding.dimensions)
        }
        vocabularySize = embedding.dimensions[1]
        if let v = try gguf.integer(LlamaKey.vocabSize(arch)), v != vocabularySize {
            throw ModelError.badHyperParameter(key: LlamaKey.vocabSize(arch), reason: "\(v) disagrees with \(LlamaTensor.tokenEmbedding) (\(vocabularySize) rows)")
        }
    }
}
