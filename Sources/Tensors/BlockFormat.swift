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
    /// Formats we can compute with (as weights).
    public static func isSupported(_ type: TensorType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
             .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs,
             .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s:
            return true
        default:
            return false
        }
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
        switch weightType {
        case .f16: return .f16
        case .bf16: return .bf16
        case .q4_0, .q5_0, .q8_0, .iq4_nl: return .q8_0
        case .q4_1, .q5_1: return .q8_1
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs,
             .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: return .q8_K
        default: return .f32
        }
    }

    /// Dequantize `count` elements (a multiple of type.blockSize) from `source` into `destination`.
    /// Also reads the activation-only formats Q8_1 and Q8_K (for tests).
    public static func dequantize(_ type: TensorType, _ source: UnsafeRawPointer,
                                  _ destination: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let perBlock: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void
        switch type {
        case .f32:
            for i in 0..<count { destination[i] = source.float(4 * i) }
            return
        case .f16:
            for i in 0..<count { destination[i] = source.half(2 * i) }
            return
        case .bf16:
            for i in 0..<count { destination[i] = source.brainFloat(2 * i) }
            return
        case .q4_0: perBlock = Dequantize.q4_0
        case .q4_1: perBlock = Dequantize.q4_1
        case .q5_0: perBlock = Dequantize.q5_0
        case .q5_1: perBlock = Dequantize.q5_1
        case .q8_0: perBlock = Dequantize.q8_0
        case .q8_1: perBlock = Dequantize.q8_1
        case .iq4_nl: perBlock = Dequantize.iq4_nl
        case .q2_K: perBlock = Dequantize.q2_K
        case .q3_K: perBlock = Dequantize.q3_K
        case .q4_K: perBlock = Dequantize.q4_K
        case .q5_K: perBlock = Dequantize.q5_K
        case .q6_K: perBlock = Dequantize.q6_K
        case .q8_K: perBlock = Dequantize.q8_K
        case .iq4_xs: perBlock = Dequantize.iq4_xs
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s:
            let blocks = count / 256
            IQuants.dequantize(type, source, destination, blocks: blocks)
            if 256 * blocks < count { (destination + 256 * blocks).update(repeating: .nan, count: count - 256 * blocks) }
            return
        default:
            destination.update(repeating: .nan, count: count)
            return
        }
        let blocks = count / type.blockSize
        for b in 0..<blocks {
            perBlock(source + b * type.blockBytes, destination + b * type.blockSize)
        }
        let done = blocks * type.blockSize
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
        guard count >= 0, count % weightType.blockSize == 0 else { return .nan }
        let blocks = count / weightType.blockSize
        switch weightType {
        case .f32: return ReferenceDot.f32(weights, activations, count)
        case .f16: return ReferenceDot.f16(weights, activations, count)
        case .bf16: return ReferenceDot.bf16(weights, activations, count)
        case .q4_0: return ReferenceDot.q4_0(weights, activations, blocks)
        case .q4_1: return ReferenceDot.q4_1(weights, activations, blocks)
        case .q5_0: return ReferenceDot.q5_0(weights, activations, blocks)
        case .q5_1: return ReferenceDot.q5_1(weights, activations, blocks)
        case .q8_0: return ReferenceDot.q8_0(weights, activations, blocks)
        case .iq4_nl: return ReferenceDot.iq4_nl(weights, activations, blocks)
        case .q2_K: return ReferenceDot.q2_K(weights, activations, blocks)
        case .q3_K: return ReferenceDot.q3_K(weights, activations, blocks)
        case .q4_K: return ReferenceDot.q4_K(weights, activations, blocks)
        case .q5_K: return ReferenceDot.q5_K(weights, activations, blocks)
        case .q6_K: return ReferenceDot.q6_K(weights, activations, blocks)
        case .iq4_xs: return ReferenceDot.iq4_xs(weights, activations, blocks)
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s:
            return IQuants.referenceDot(weightType, weights, activations, blocks: blocks)
        default: return .nan
        }
    }

    /// Dot product of one weight row with activations already in `activationType(for:)` format.
    /// The inner kernel of every matmul; dispatches to the fastest kernel this CPU runs
    /// (AVX2 when present; else PortableDot for F16, Q4_0, Q4_1, Q8_0 and Q2_K…Q6_K, the scalar reference for the rest:
    /// on other CPUs the grid I-quants are decoded to integers one super-block at a time, IQuants.referenceDot).
    public static func dot(_ weightType: TensorType, _ weights: UnsafeRawPointer,
                           _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, count >= 0, count % weightType.blockSize == 0 {
            let blocks = count / weightType.blockSize
            switch weightType {
            case .f32: return AVX2Dot.f32(weights, activations, count)
            case .f16: return AVX2Dot.f16(weights, activations, count)
            case .bf16: return AVX2Dot.bf16(weights, activations, count)
            case .q4_0: return AVX2Dot.q4_0(weights, activations, blocks)
            case .q4_1: return AVX2Dot.q4_1(weights, activations, blocks)
            case .q5_0: return AVX2Dot.q5_0(weights, activations, blocks)
            case .q5_1: return AVX2Dot.q5_1(weights, activations, blocks)
            case .q8_0: return AVX2Dot.q8_0(weights, activations, blocks)
            case .iq4_nl: return AVX2Dot.iq4_nl(weights, activations, blocks)
            case .q2_K: return AVX2Dot.q2_K(weights, activations, blocks)
            case .q3_K: return AVX2Dot.q3_K(weights, activations, blocks)
            case .q4_K: return AVX2Dot.q4_K(weights, activations, blocks)
            case .q5_K: return AVX2Dot.q5_K(weights, activations, blocks)
            case .q6_K: return AVX2Dot.q6_K(weights, activations, blocks)
            case .iq4_xs: return AVX2Dot.iq4_xs(weights, activations, blocks)
            default:
                if let format = PanelGEMM.superBlockFormat(weightType), format.isGrid {
                    return AVX2Dot.gridIQuant(format, weights, activations, blocks)
                }
            }
        }
        #endif
        if count >= 0, count % weightType.blockSize == 0 {
            switch weightType {
            case .f16: return PortableDot.f16(weights, activations, count, batch: false)
            case .q4_0: return PortableDot.q4_0(weights, activations, count / 32)
            case .q8_0: return PortableDot.q8_0(weights, activations, count / 32)
            case .q4_1: return PortableDot.q4_1(weights, activations, count / 32)
            case .q2_K: return PortableDot.q2_K(weights, activations, count / 256)
            case .q3_K: return PortableDot.q3_K(weights, activations, count / 256)
            case .q4_K: return PortableDot.q4_K(weights, activations, count / 256)
            case .q5_K: return PortableDot.q5_K(weights, activations, count / 256)
            case .q6_K: return PortableDot.q6_K(weights, activations, count / 256)
            default: break
            }
        }
        return referenceDot(weightType, weights, activations, count: count)
    }

    /// One weight row against several tokens' activations (prefill):
    /// results[t · resultStride] = dot(weightType, weights, activations + t · activationStride, count)
    /// for t in 0..<tokens. With AVX2, F16, Q4_0, Q4_1, Q8_0, Q4_K and Q6_K rows are read and
    /// unpacked once per four tokens; other formats (and leftover tokens) use `dot` per token.
    public static func dot(_ weightType: TensorType, _ weights: UnsafeRawPointer,
                           _ activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                           count: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var token = 0
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, count >= 0, count % weightType.blockSize == 0 {
            let blocks = count / weightType.blockSize
            let kernel: ((UnsafeRawPointer, UnsafeRawPointer, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void)?
            switch weightType {
            case .f16: kernel = { AVX2Dot.f16x4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            case .q4_0: kernel = { AVX2Dot.q4_0x4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            case .q4_1: kernel = { AVX2Dot.q4_1x4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            case .q8_0: kernel = { AVX2Dot.q8_0x4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            case .q4_K: kernel = { AVX2Dot.q4_Kx4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            case .q6_K: kernel = { AVX2Dot.q6_Kx4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
            default: kernel = nil
            }
            if let kernel {
                let length = weightType == .f16 ? count : blocks
                while token + 4 <= tokens {
                    kernel(weights, activations + token * activationStride, activationStride, length,
                           results + token * resultStride, resultStride)
                    token += 4
                }
            }
        }
        #endif
        while token < tokens {
            results[token * resultStride] = dot(weightType, weights, activations + token * activationStride, count: count)
            token += 1
        }
    }

    /// Several weight rows against one token's activations (decode's matrix × vector):
    /// results[r · resultStride] = dot(weightType, weights + r · rowStride, activations, count)
    /// for r in 0..<rows. With AVX2, Q4_0 and Q8_0 share each activation block's loads and per-block
    /// work across four rows; other formats use `dot` per row (a four-row Q4_K kernel halved decode
    /// speed on a Zen 4 host: four weight streams a row apart defeat its prefetching; one row at a time
    /// ran 1B Q4_K_M at 24 instead of 10 tokens/s on one thread).
    public static func dot(_ weightType: TensorType, rows: Int, _ weights: UnsafeRawPointer, rowStride: Int,
                           _ activations: UnsafeRawPointer, count: Int,
                           results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var row = 0
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, count >= 0, count % weightType.blockSize == 0 {
            let blocks = count / weightType.blockSize
            let kernel: ((UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void)?
            switch weightType {
            case .q4_0: kernel = { AVX2Dot.q4_0Rows4($0, rowStride: $1, $2, $3, $4, resultStride: $5) }
            case .q8_0: kernel = { AVX2Dot.q8_0Rows4($0, rowStride: $1, $2, $3, $4, resultStride: $5) }
            default: kernel = nil
            }
            if let kernel {
                while row + 4 <= rows {
                    kernel(weights + row * rowStride, rowStride, activations, blocks, results + row * resultStride, resultStride)
                    row += 4
                }
            }
        }
        #endif
        while row < rows {
            results[row * resultStride] = dot(weightType, weights + row * rowStride, activations, count: count)
            row += 1
        }
    }
}
