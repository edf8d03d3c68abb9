import GGUF
import Tensors

/// A 2-D weight tensor used in place from the mapping: `rows` rows of `columns` elements, row-major blocks.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let data: UnsafeRawPointer
    public let type: TensorType
    public let columns: Int   // input length (GGUF dimension 0)
    public let rows: Int      // output length (GGUF dimension 1)
    public let rowBytes: Int

    public func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }
}

/// One transformer block's weights.
public struct LayerWeights: @unchecked Sendable {
    public let attentionNorm: [Float]   // (embeddingLength)
    public let query: WeightMatrix      // (embeddingLength) -> (headCount * headDimension)
    public let key: WeightMatrix        // (embeddingLength) -> (kvDimension)
    public let value: WeightMatrix      // (embeddingLength) -> (kvDimension)
    public let attentionOutput: WeightMatrix
    public let ffnNorm: [Float]         // (embeddingLength)
    public let gate: WeightMatrix       // (embeddingLength) -> (feedForwardLength)
    public let up: WeightMatrix
    public let down: WeightMatrix       // (feedForwardLength) -> (embeddingLength)
}

/// All weights bound by canonical name, every shape checked against the hyper-parameters.
public struct ModelWeights: @unchecked Sendable {
    public let tokenEmbedding: WeightMatrix
    public let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the model ties them.
    public let output: WeightMatrix
    public let outputIsTied: Bool
    /// Llama 3.1 long-context divisors, one per rotated pair; nil when absent.
    public let ropeFrequencies: [Float]?
    public let layers: [LayerWeights]

    public init(gguf: GGUFFile, hyper h: HyperParameters) throws {
        func info(_ name: String) throws -> GGUFTensorInfo {
            guard let t = gguf.tensor(named: name) else { throw ModelError.missingTensor(name) }
            return t
        }
        func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
            let t = try info(name)
            guard t.dimensions == [columns, rows] else { throw ModelError.badShape(tensor: name, expected: [columns, rows], found: t.dimensions) }
            guard BlockFormat.isSupported(t.type) else { throw ModelError.unsupportedType(tensor: name, type: t.type) }
            // byteCount was validated by the reader, so the row size is exact.
            return WeightMatrix(name: name, data: gguf.tensorData(t), type: t.type, columns: columns, rows: rows, rowBytes: t.byteCount / rows)
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let t = try info(name)
            guard t.dimensions == [count] else { throw ModelError.badShape(tensor: name, expected: [count], found: t.dimensions) }
            guard BlockFormat.isSupported(t.type) else { throw ModelError.unsupportedType(tensor: name, type: t.type) }
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { BlockFormat.dequantize(t.type, gguf.tensorData(t), $0.baseAddress!, count: count) }
            return out
        }

        let e = h.embeddingLength, kv = h.kvDimension, ff = h.feedForwardLength
        tokenEmbedding = try matrix(LlamaTensor.tokenEmbedding, columns: e, rows: h.vocabularySize)
        outputNorm = try vector(LlamaTensor.outputNorm, count: e)
        if gguf.tensor(named: LlamaTensor.output) != nil {
            output = try matrix(LlamaTensor.output, columns: e, rows: h.vocabularySize)
            outputIsTied = false
        } else {
            output = tokenEmbedding
            outputIsTied = true
        }
        ropeFrequencies = gguf.tensor(named: LlamaTensor.ropeFrequencies) == nil
            ? nil : try vector(LlamaTensor.ropeFrequencies, count: h.ropeDimensionCount / 2)
        var layers: [LayerWeights] = []
        for i in 0..<h.blockCount {
            layers.append(LayerWeights(
                attentionNorm: try vector(LlamaTensor.attentionNorm(i), count: e),
                query: try matrix(LlamaTensor.query(i), columns: e, rows: e),
                key: try matrix(LlamaTensor.key(i), columns: e, rows: kv),
                value: try matrix(LlamaTensor.value(i), columns: e, rows: kv),
                attentionOutput: try matrix(LlamaTensor.attentionOutput(i), columns: e, rows: e),
                ffnNorm: try vector(LlamaTensor.ffnNorm(i), count: e),
                gate: try matrix(LlamaTensor.gate(i), columns: e, rows: ff),
                up: try matrix(LlamaTensor.up(i), columns: e, rows: ff),
                down: try matrix(LlamaTensor.down(i), columns: ff, rows: e)))
        }
        self.layers = layers
    }
}
