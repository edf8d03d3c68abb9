import GGUF
#if arch(x86_64)
import TensorsAVX2
#endif

/// The numeric side of ggml's block formats: dequantization, activation quantization and the dot
/// product every matmul is built from.
///
/// Contract for all pointer functions: `count` is a multiple of the type's blockSize and the
/// buffers hold that many elements' bytes. Callers check `isSupported` (and tensor sizes) when a
/// model is loaded; a call that breaks the contract anyway does not trap: elements it cannot
/// compute come out as NaN.
public enum BlockFormat {
    /// Formats we can compute with (as weights): those with an entry in FormatKernels' table.
    public static func isSupported(_ type: TensorType) -> Bool {
        FormatKernels.of(type) != nil
    }

    /// Formats `quantizeActivations` can write.
    public static func isActivationFormat(_ type: TensorType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q8_0, .q8_1, .q8_K: return true
        default: return false
        }
    }

    /// The activation format llama.cpp's CPU backend pairs with a weight type (its vec_dot_type).
    /// Unsupported weight types map to F32 (and `dot` answers NaN for them).
    public static func activationType(for weightType: TensorType) -> TensorType {
        FormatKernels.of(weightType)?.activationType ?? .f32
    }

    /// Dequantize `count` elements (a multiple of type.blockSize) from `source` into `destination`.
    /// Also reads the activation-only formats Q8_1 and Q8_K (for tests). Elements of a trailing partial
    /// block, or of a format nothing here reads, come out as NaN.
    public static func dequantize(_ type: TensorType, _ source: UnsafeRawPointer,
                                  _ destination: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        guard let dequantize = FormatKernels.of(type)?.dequantize ?? FormatKernels.dequantizer(type) else {
            destination.update(repeating: .nan, count: count)
            return
        }
        let done = count / type.blockSize * type.blockSize
        dequantize(source, destination, done)
        if done < count { (destination + done).update(repeating: .nan, count: count - done) }
    }

    /// Quantize float activations into `activationType` blocks (Q8_0, Q8_1, Q8_K, F16, BF16, and Q4_0 for
    /// KV cache rows; F32 = copy). Other types, or a trailing partial block, leave those destination bytes as they were.
    public static func quantizeActivations(_ activationType: TensorType, _ source: UnsafePointer<Float>,
                                           _ destination: UnsafeMutableRawPointer, count: Int) {
        guard count > 0 else { return }
        let perBlock: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
        switch activationType {
        case .f32:
            destination.copyMemory(from: source, byteCount: 4 * count)
            return
        case .f16:
            for i in 0..<count {
                destination.storeBytes(of: Float16(source[i]).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
            }
            return
        case .bf16:
            for i in 0..<count {
                destination.storeBytes(of: brainFloatBits(source[i]), toByteOffset: 2 * i, as: UInt16.self)
            }
            return
        case .q8_0:
            #if arch(x86_64)
            if CPUFeatures.current.hasAVX2 {
                AVX2Quantize.q8_0(source, destination, blocks: count / 32) { Float16($0).bitPattern }
                return
            }
            #endif
            perBlock = QuantizeActivations.q8_0
        case .q8_1:
            #if arch(x86_64)
            if CPUFeatures.current.hasAVX2 {
                AVX2Quantize.q8_1(source, destination, blocks: count / 32) { Float(Float16($0)) }
                return
            }
            #endif
            perBlock = QuantizeActivations.q8_1
        case .q8_K:
            #if arch(x86_64)
            if CPUFeatures.current.hasAVX2 {
                AVX2Quantize.q8_K(source, destination, blocks: count / 256)
                return
            }
            #endif
            perBlock = QuantizeActivations.q8_K
        case .q4_0:
            perBlock = QuantizeActivations.q4_0
        default: return
        }
        for b in 0..<(count / activationType.blockSize) {
            perBlock(source + b * activationType.blockSize, destination + b * activationType.blockBytes)
        }
    }

    /// The scalar reference dot product of one weight row (weightType blocks) with activations in
    /// `activationType(for: weightType)` format. NaN for unsupported types or a partial block.
    public static func referenceDot(_ weightType: TensorType, _ weights: UnsafeRawPointer,
                                    _ activations: UnsafeRawPointer, count: Int) -> Float {
        guard count >= 0, count % weightType.blockSize == 0, let kernels = FormatKernels.of(weightType) else { return .nan }
        return kernels.referenceDot(weights, activations, count)
    }

    /// Dot product of one weight row with activations already in `activationType(for:)` format: the
    /// fastest kernel this CPU runs (FormatKernels.dot). NaN for unsupported types or a partial block.
    public static func dot(_ weightType: TensorType, _ weights: UnsafeRawPointer,
                           _ activations: UnsafeRawPointer, count: Int) -> Float {
        guard count >= 0, count % weightType.blockSize == 0, let kernels = FormatKernels.of(weightType) else { return .nan }
        return kernels.dot(weights, activations, count)
    }

    /// One weight row against several tokens' activations (prefill):
    /// results[t · resultStride] = dot(weightType, weights, activations + t · activationStride, count)
    /// for t in 0..<tokens: four tokens at a time where the format has a kernel for it (FormatKernels.fourTokens),
    /// `dot` per token for the rest.
    public static func dot(_ weightType: TensorType, _ weights: UnsafeRawPointer,
                           _ activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                           count: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        guard count >= 0, count % weightType.blockSize == 0, let kernels = FormatKernels.of(weightType) else {
            for t in 0..<max(tokens, 0) { results[t * resultStride] = .nan }
            return
        }
        var token = 0
        if let fourTokens = kernels.fourTokens {
            while token + 4 <= tokens {
                fourTokens(weights, activations + token * activationStride, activationStride, count,
                           results + token * resultStride, resultStride)
                token += 4
            }
        }
        let dot = kernels.dot
        while token < tokens {
            results[token * resultStride] = dot(weights, activations + token * activationStride, count)
            token += 1
        }
    }

    /// Several weight rows against one token's activations (decode's matrix × vector):
    /// results[r · resultStride] = dot(weightType, weights + r · rowStride, activations, count)
    /// for r in 0..<rows: in one call where the format has a kernel for it (FormatKernels.manyRows), else four rows
    /// at a time where it has a kernel for that (FormatKernels.fourRows).
    public static func dot(_ weightType: TensorType, rows: Int, _ weights: UnsafeRawPointer, rowStride: Int,
                           _ activations: UnsafeRawPointer, count: Int,
                           results: UnsafeMutablePointer<Float>, resultStride: Int) {
        guard count >= 0, count % weightType.blockSize == 0, let kernels = FormatKernels.of(weightType) else {
            for r in 0..<max(rows, 0) { results[r * resultStride] = .nan }
            return
        }
        if let manyRows = kernels.manyRows {
            manyRows(weights, rowStride, rows, activations, count, results, resultStride)
            return
        }
        var row = 0
        if let fourRows = kernels.fourRows {
            while row + 4 <= rows {
                fourRows(weights + row * rowStride, rowStride, activations, count, results + row * resultStride, resultStride)
                row += 4
            }
        }
        let dot = kernels.dot
        while row < rows {
            results[row * resultStride] = dot(weights + row * rowStride, activations, count)
            row += 1
        }
    }
}
