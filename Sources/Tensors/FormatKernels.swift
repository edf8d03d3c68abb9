import GGUF
#if arch(x86_64)
import TensorsAVX2
import TensorsAVX512
#endif

/// Everything the CPU does with one weight format, in one place (ggml's type traits): its activation format,
/// dequantization, the row kernels and the batch kernels (interleaved copies, prompt panels). The table is
/// built once per process from the CPU's features; `matmul`, `BlockFormat` and the KV cache read it, so a
/// format's kernels are chosen here (the kernels' own entry points keep a CPU-feature default only for tests
/// that compare the AVX2 and AVX-512 paths).
///
/// Pointer contract for every entry: `count` is a multiple of the format's block size and the buffers hold
/// that many elements (callers check once, when a model is loaded).
public final class FormatKernels: @unchecked Sendable {
    /// weights (one row), activations (one token), count → the dot product.
    public typealias RowDot = (UnsafeRawPointer, UnsafeRawPointer, Int) -> Float
    /// rows (four, rowStride apart), activations (one token), count, results (resultStride apart).
    public typealias FourRows = (UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
    /// rows (rowStride apart), row count, activations (one token), count, results (resultStride apart).
    public typealias ManyRows = (UnsafeRawPointer, Int, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
    /// one row, activations (four tokens, activationStride apart), count, results (resultStride apart).
    public typealias FourTokens = (UnsafeRawPointer, UnsafeRawPointer, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void

    public let type: TensorType
    /// The format the activations are quantized into for this weight type (llama.cpp's vec_dot_type).
    public let activationType: TensorType
    /// `count` elements from source into floats.
    public let dequantize: (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void
    /// The scalar definition of one row · one token's activations.
    public let referenceDot: RowDot
    /// The fastest kernel for one row · one token.
    public let dot: RowDot
    /// Four rows · one token sharing each activation load (matrix × vector), where the format has one.
    public let fourRows: FourRows?
    /// Any number of rows · one token in one call (matrix × vector), where a row is too short for a call per row.
    public let manyRows: ManyRows?
    /// One row · four tokens, the row read and unpacked once (prompt batches without panels).
    public let fourTokens: FourTokens?
    /// 8-row interleaved copies made at load, for decode and prefill.
    public let interleaved: InterleavedKernels?
    /// Prompt batches as panels of rows repacked once and multiplied with every token.
    public let panels: PanelKernels?
    /// F16 rows through FloatWeights (rows × tokens float tiles) where the CPU and the row length allow; the
    /// tiles on 512-bit registers where the CPU has AVX-512.
    public let floatTiles: Bool
    public let wideFloatTiles: Bool
    /// Prompt batches without panels or tiles, where their summation order differs from `dot`'s: F16 in
    /// llama.cpp's batch order (tinyBLAS's 16 chains) when the row is whole chains (PortableDot).
    public let batchDot: RowDot?
    /// Prompt batches without interleaving or panels go token by token (as decode) instead of row by row:
    /// Q8_0, whose row-major batch kernels sum each block's integers before scaling while llama.cpp (and our
    /// interleaved tiles) keep 8 chains per token.
    public let batchesTokenByToken: Bool

    init(type: TensorType, activationType: TensorType, dequantize: @escaping (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void,
         referenceDot: @escaping RowDot, dot: @escaping RowDot, fourRows: FourRows?, manyRows: ManyRows?, fourTokens: FourTokens?,
         interleaved: InterleavedKernels?, panels: PanelKernels?, floatTiles: Bool, wideFloatTiles: Bool,
         batchDot: RowDot?, batchesTokenByToken: Bool) {
        self.type = type
        self.activationType = activationType
        self.dequantize = dequantize
        self.referenceDot = referenceDot
        self.dot = dot
        self.fourRows = fourRows
        self.manyRows = manyRows
        self.fourTokens = fourTokens
        self.interleaved = interleaved
        self.panels = panels
        self.floatTiles = floatTiles
        self.wideFloatTiles = wideFloatTiles
        self.batchDot = batchDot
        self.batchesTokenByToken = batchesTokenByToken
    }

    /// The kernels of `type` on this CPU; nil for a format nothing here computes. (A class: a lookup retains one
    /// object, not each kernel's closure.)
    public static func of(_ type: TensorType) -> FormatKernels? {
        let index = Int(type.rawValue)
        return index < table.count ? table[index] : nil
    }

    private static let table: [FormatKernels?] = {
        let features = CPUFeatures.current
        var entries = [FormatKernels?](repeating: nil, count: Int((TensorType.allCases.map(\.rawValue).max() ?? 0) + 1))
        for type in TensorType.allCases {
            entries[Int(type.rawValue)] = make(type, features)
        }
        return entries
    }()
}

/// Interleaved weights: 8 rows at a time rearranged at load so one activation broadcast serves 8 rows.
public struct InterleavedKernels: @unchecked Sendable {
    /// Bytes of one 8-row panel of `columns` columns (the copy is as large as the original).
    public let panelBytes: (Int) -> Int
    /// rows (8, rowStride apart), rowStride, columns, destination: writes one panel.
    public let interleave: (UnsafeRawPointer, Int, Int, UnsafeMutableRawPointer) -> Void
    /// Per-batch work on the quantized activations (activations, activationStride, tokens, columns, prepared),
    /// where the format needs it.
    public let prepare: ((UnsafeRawPointer, Int, Int, Int, UnsafeMutableRawPointer) -> Void)?
    /// panels (consecutive, from the given one), panel count, columns, activations, activationStride, prepared,
    /// tokens, results (row 8·p + i of token t at results[t · resultStride + 8·p + i]), resultStride.
    public let multiply: (UnsafeRawPointer, Int, Int, UnsafeRawPointer, Int, UnsafeRawPointer, Int,
                          UnsafeMutablePointer<Float>, Int) -> Void
    /// Prompt batches (≥ 4 tokens) as panels unpacked from the copy, where the format has them (the decode
    /// layout of the super-block formats is no prompt tile): rows = the copy's 8-row panel of the first row,
    /// rowStride = `panelBytes`.
    public var panels: PanelKernels? = nil

    /// Scratch bytes `prepare` needs (the most: one byte per activation, IQ4_NL's flipped bytes on VNNI).
    public static func preparedBytes(tokens: Int, columns: Int) -> Int { tokens * columns }
}

/// Prompt batches as matrix × matrix work: up to `rowsPerMultiply` rows repacked into a panel (per call,
/// into the caller's buffer) and multiplied with every token.
public struct PanelKernels: @unchecked Sendable {
    public let rowsPerMultiply: Int
    /// Bytes of the panel buffer one `multiply` call uses for `columns` columns.
    public let panelBytes: (Int) -> Int
    /// Once per batch: activations, activationStride, tokens, columns, prepared.
    public let prepare: (UnsafeRawPointer, Int, Int, Int, UnsafeMutableRawPointer) -> Void
    /// rows, rowStride, rowCount (≤ rowsPerMultiply), columns, panel buffer, activations, activationStride,
    /// prepared, tokens, results (row r of token t at results[t · resultStride + r]), resultStride.
    public let multiply: (UnsafeRawPointer, Int, Int, Int, UnsafeMutableRawPointer, UnsafeRawPointer, Int,
                          UnsafeMutableRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
}

extension FormatKernels {
    /// The table entry of `type` for a CPU with `features`.
    static func make(_ type: TensorType, _ features: CPUFeatures) -> FormatKernels? {
        guard let activationType = activationFormat(type), let dequantize = dequantizer(type),
              let reference = referenceKernel(type) else { return nil }
        var dot = reference
        var fourRows: FourRows? = nil, manyRows: ManyRows? = nil, fourTokens: FourTokens? = nil
        var interleaved: InterleavedKernels? = nil, panels: PanelKernels? = nil
        if let portable = portableKernel(type) { dot = portable }
        #if arch(x86_64)
        if features.hasAVX2 {
            if let avx2 = AVX2Kernels.dot(type) { dot = avx2 }
            fourRows = AVX2Kernels.fourRows(type)
            manyRows = AVX2Kernels.manyRows(type, vnni: features.hasAVX512VNNI)
            fourTokens = AVX2Kernels.fourTokens(type)
            interleaved = InterleavedWeights.kernels(type, vnni: features.hasAVX512VNNI)
            panels = PanelGEMM.kernels(type, vnni: features.hasAVX512VNNI)
        }
        #endif
        let batchDot: RowDot? = type == .f16 ? { PortableDot.f16($0, $1, $2, batch: $2 % 16 == 0) } : nil
        return FormatKernels(type: type, activationType: activationType, dequantize: dequantize, referenceDot: reference,
                             dot: dot, fourRows: fourRows, manyRows: manyRows, fourTokens: fourTokens, interleaved: interleaved, panels: panels,
                             floatTiles: type == .f16, wideFloatTiles: type == .f16 && features.hasAVX512VNNI,
                             batchDot: batchDot, batchesTokenByToken: type == .q8_0)
    }

    /// llama.cpp's CPU backend pairing of weight and activation formats.
    static func activationFormat(_ type: TensorType) -> TensorType? {
        switch type {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q4_0, .q5_0, .q8_0, .iq4_nl: .q8_0
        case .q4_1, .q5_1: .q8_1
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs,
             .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: .q8_K
        default: nil
        }
    }

    /// Dequantization (also of the activation-only formats Q8_1 and Q8_K, which tests read back).
    static func dequantizer(_ type: TensorType) -> ((UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void)? {
        let perBlock: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void
        switch type {
        case .f32: return { source, destination, count in for i in 0..<count { destination[i] = source.float(4 * i) } }
        case .f16: return { source, destination, count in for i in 0..<count { destination[i] = source.half(2 * i) } }
        case .bf16: return { source, destination, count in for i in 0..<count { destination[i] = source.brainFloat(2 * i) } }
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
            return { source, destination, count in IQuants.dequantize(type, source, destination, blocks: count / 256) }
        default: return nil
        }
        let size = type.blockSize, bytes = type.blockBytes
        return { source, destination, count in
            for b in 0..<(count / size) { perBlock(source + b * bytes, destination + b * size) }
        }
    }

    /// The scalar definitions (ReferenceDot, IQuants).
    static func referenceKernel(_ type: TensorType) -> RowDot? {
        let size = type.blockSize
        switch type {
        case .f32: return ReferenceDot.f32
        case .f16: return ReferenceDot.f16
        case .bf16: return ReferenceDot.bf16
        case .q4_0: return { ReferenceDot.q4_0($0, $1, $2 / size) }
        case .q4_1: return { ReferenceDot.q4_1($0, $1, $2 / size) }
        case .q5_0: return { ReferenceDot.q5_0($0, $1, $2 / size) }
        case .q5_1: return { ReferenceDot.q5_1($0, $1, $2 / size) }
        case .q8_0: return { ReferenceDot.q8_0($0, $1, $2 / size) }
        case .iq4_nl: return { ReferenceDot.iq4_nl($0, $1, $2 / size) }
        case .q2_K: return { ReferenceDot.q2_K($0, $1, $2 / size) }
        case .q3_K: return { ReferenceDot.q3_K($0, $1, $2 / size) }
        case .q4_K: return { ReferenceDot.q4_K($0, $1, $2 / size) }
        case .q5_K: return { ReferenceDot.q5_K($0, $1, $2 / size) }
        case .q6_K: return { ReferenceDot.q6_K($0, $1, $2 / size) }
        case .iq4_xs: return { ReferenceDot.iq4_xs($0, $1, $2 / size) }
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s:
            return { IQuants.referenceDot(type, $0, $1, blocks: $2 / size) }
        default: return nil
        }
    }

    /// Without AVX2 (arm64, old x86, SWIFTFILE_KERNELS=scalar): PortableDot where it has the format, else the
    /// reference (the grid I-quants are decoded to integers one super-block at a time there).
    static func portableKernel(_ type: TensorType) -> RowDot? {
        switch type {
        case .f16: return { PortableDot.f16($0, $1, $2, batch: false) }
        case .q4_0: return { PortableDot.q4_0($0, $1, $2 / 32) }
        case .q8_0: return { PortableDot.q8_0($0, $1, $2 / 32) }
        case .q4_1: return { PortableDot.q4_1($0, $1, $2 / 32) }
        case .q2_K: return { PortableDot.q2_K($0, $1, $2 / 256) }
        case .q3_K: return { PortableDot.q3_K($0, $1, $2 / 256) }
        case .q4_K: return { PortableDot.q4_K($0, $1, $2 / 256) }
        case .q5_K: return { PortableDot.q5_K($0, $1, $2 / 256) }
        case .q6_K: return { PortableDot.q6_K($0, $1, $2 / 256) }
        default: return nil
        }
    }
}

#if arch(x86_64)
/// The AVX2 row kernels of each format (TensorsAVX2), taking element counts. Block sizes are written as
/// constants: the count → blocks division runs once per row, a shift by a constant, not an integer divide.
enum AVX2Kernels {
    static func dot(_ type: TensorType) -> FormatKernels.RowDot? {
        switch type {
        case .f32: return AVX2Dot.f32
        case .f16: return AVX2Dot.f16
        case .bf16: return AVX2Dot.bf16
        case .q4_0: return { AVX2Dot.q4_0($0, $1, $2 / 32) }
        case .q4_1: return { AVX2Dot.q4_1($0, $1, $2 / 32) }
        case .q5_0: return { AVX2Dot.q5_0($0, $1, $2 / 32) }
        case .q5_1: return { AVX2Dot.q5_1($0, $1, $2 / 32) }
        case .q8_0: return { AVX2Dot.q8_0($0, $1, $2 / 32) }
        case .iq4_nl: return { AVX2Dot.iq4_nl($0, $1, $2 / 32) }
        case .q2_K: return { AVX2Dot.q2_K($0, $1, $2 / 256) }
        case .q3_K: return { AVX2Dot.q3_K($0, $1, $2 / 256) }
        case .q4_K: return { AVX2Dot.q4_K($0, $1, $2 / 256) }
        case .q5_K: return { AVX2Dot.q5_K($0, $1, $2 / 256) }
        case .q6_K: return { AVX2Dot.q6_K($0, $1, $2 / 256) }
        case .iq4_xs: return { AVX2Dot.iq4_xs($0, $1, $2 / 256) }
        default:
            guard let format = PanelGEMM.superBlockFormat(type), format.isGrid else { return nil }
            return { AVX2Dot.gridIQuant(format, $0, $1, $2 / 256) }
        }
    }

    /// Q4_0 and Q8_0 share each activation block's loads and per-block work across four rows. (A four-row
    /// Q4_K kernel halved decode speed on a Zen 4 host: four weight streams a row apart defeat its
    /// prefetching; one row at a time ran 1B Q4_K_M at 24 instead of 10 tokens/s on one thread.)
    static func fourRows(_ type: TensorType) -> FormatKernels.FourRows? {
        switch type {
        case .q4_0: return { AVX2Dot.q4_0Rows4($0, rowStride: $1, $2, $3 / 32, $4, resultStride: $5) }
        case .q8_0: return { AVX2Dot.q8_0Rows4($0, rowStride: $1, $2, $3 / 32, $4, resultStride: $5) }
        default: return nil
        }
    }

    /// The grid I-quants, on AVX-512 VNNI from the kernels compiled for it (about 5 % faster on a Zen 4).
    static func manyRows(_ type: TensorType, vnni: Bool) -> FormatKernels.ManyRows? {
        guard let format = PanelGEMM.superBlockFormat(type), format.isGrid else { return nil }
        if vnni {
            return { VNNIKernels.gridIQuantRows(format, $0, rowStride: $1, rows: $2, $3, $4 / 256, $5, resultStride: $6) }
        }
        return { AVX2Dot.gridIQuantRows(format, $0, rowStride: $1, rows: $2, $3, $4 / 256, $5, resultStride: $6) }
    }

    static func fourTokens(_ type: TensorType) -> FormatKernels.FourTokens? {
        switch type {
        case .f16: return { AVX2Dot.f16x4($0, $1, activationStride: $2, $3, $4, resultStride: $5) }
        case .q4_0: return { AVX2Dot.q4_0x4($0, $1, activationStride: $2, $3 / 32, $4, resultStride: $5) }
        case .q4_1: return { AVX2Dot.q4_1x4($0, $1, activationStride: $2, $3 / 32, $4, resultStride: $5) }
        case .q8_0: return { AVX2Dot.q8_0x4($0, $1, activationStride: $2, $3 / 32, $4, resultStride: $5) }
        case .q4_K: return { AVX2Dot.q4_Kx4($0, $1, activationStride: $2, $3 / 256, $4, resultStride: $5) }
        case .q6_K: return { AVX2Dot.q6_Kx4($0, $1, activationStride: $2, $3 / 256, $4, resultStride: $5) }
        default: return nil
        }
    }
}
#endif
