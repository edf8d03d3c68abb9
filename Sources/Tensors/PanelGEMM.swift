import GGUF
#if arch(x86_64)
import TensorsAVX2
import TensorsAVX512
#endif

/// Prompt batches as matrix × matrix work (AVX2): eight weight rows are repacked once into a panel and
/// multiplied with every token — Q4_0 and Q4_1 as 4-bit panels (Sources/Tensors/AVX2/PanelGEMM.swift),
/// Q5_0 and IQ4_NL as signed byte panels (AVX2/BlockPanels.swift), the super-block formats Q2_K … Q6_K and
/// IQ4_XS in one common form (AVX2/SuperBlockPanels.swift).
/// Callers: `prepare` once per batch, then `multiply` per group of 8 rows (any thread, own panel buffer).
public enum PanelGEMM {
    public static func supports(_ type: TensorType) -> Bool {
        FormatKernels.of(type)?.panels != nil
    }

    /// The panel kernels of `type` (nil: none), with AVX-512 VNNI's where `vnni` (FormatKernels' table).
    static func kernels(_ type: TensorType, vnni: Bool) -> PanelKernels? {
        #if arch(x86_64)
        if let format = superBlockFormat(type) {
            return PanelKernels(rowsPerMultiply: vnni ? 16 : 8, panelBytes: { panelBytes(type, columns: $0) },
                                prepare: { activations, stride, tokens, columns, prepared in
                                    if vnni && format.isSigned { flipActivations(activations, stride, tokens, columns, prepared) }
                                },
                                multiply: { multiplySuperBlocks(format, vnni: vnni, interleaved: false, rows: $0, rowStride: $1,
                                                                rowCount: $2, columns: $3,
                                                                panel: $4, activations: $5, activationStride: $6, prepared: $7,
                                                                tokens: $8, results: $9, resultStride: $10) })
        }
        if let format = blockFormat(type) {
            return PanelKernels(rowsPerMultiply: 8, panelBytes: { panelBytes(type, columns: $0) },
                                prepare: { prepareBytes(q8_1: false, $0, $1, $2, $3, $4) },
                                multiply: { multiplyBlocks(format, vnni: vnni, rows: $0, rowStride: $1, rowCount: $2, columns: $3,
                                                           panel: $4, activations: $5, activationStride: $6, prepared: $7,
                                                           tokens: $8, results: $9, resultStride: $10) })
        }
        if type == .q4_0 || type == .q4_1 {
            let isQ4_1 = type == .q4_1
            return PanelKernels(rowsPerMultiply: 8, panelBytes: { panelBytes(type, columns: $0) },
                                prepare: { prepareBytes(q8_1: isQ4_1, $0, $1, $2, $3, $4) },
                                multiply: { multiplyNibbles(isQ4_1: isQ4_1, rows: $0, rowStride: $1, rowCount: $2, columns: $3,
                                                            panel: $4, activations: $5, activationStride: $6, prepared: $7,
                                                            tokens: $8, results: $9, resultStride: $10) })
        }
        #endif
        return nil
    }

    /// Prompt panels unpacked from the interleaved copy of `type` (Q4_K): `rows` is the copy's 8-row panel of
    /// the first row, `rowStride` the bytes of one such panel, `rowCount` a multiple of 8.
    static func interleavedKernels(_ type: TensorType, vnni: Bool) -> PanelKernels? {
        #if arch(x86_64)
        guard type == .q4_K, let format = superBlockFormat(type) else { return nil }
        return PanelKernels(rowsPerMultiply: vnni ? 16 : 8, panelBytes: { panelBytes(type, columns: $0) },
                            prepare: { _, _, _, _, _ in },
                            multiply: { multiplySuperBlocks(format, vnni: vnni, interleaved: true, rows: $0, rowStride: $1,
                                                            rowCount: $2, columns: $3, panel: $4, activations: $5,
                                                            activationStride: $6, prepared: $7, tokens: $8, results: $9,
                                                            resultStride: $10) })
        #else
        return nil
        #endif
    }

    #if arch(x86_64)
    static func superBlockFormat(_ type: TensorType) -> SuperBlockFormat? {
        switch type {
        case .q2_K: .q2_K
        case .q3_K: .q3_K
        case .q4_K: .q4_K
        case .q5_K: .q5_K
        case .q6_K: .q6_K
        case .iq4_xs: .iq4_xs
        case .iq1_s: .iq1_s
        case .iq1_m: .iq1_m
        case .iq2_xxs: .iq2_xxs
        case .iq2_xs: .iq2_xs
        case .iq2_s: .iq2_s
        case .iq3_xxs: .iq3_xxs
        case .iq3_s: .iq3_s
        default: nil
        }
    }

    static func blockFormat(_ type: TensorType) -> BlockPanelFormat? {
        switch type {
        case .q5_0: .q5_0
        case .iq4_nl: .iq4_nl
        default: nil
        }
    }

    /// Unpacking scratch at the end of a super-block panel buffer: 8 rows × 256 bytes, 8 × 16 scales and offsets.
    static let superBlockScratchBytes = 2048 + 512
    #endif

    /// Rows one `multiply` call takes at most: 16 for the super-block formats on AVX-512 VNNI (one 16-row
    /// panel on 512-bit registers), else 8.
    public static func rowsPerMultiply(_ type: TensorType) -> Int {
        FormatKernels.of(type)?.panels?.rowsPerMultiply ?? 8
    }

    /// Bytes of the panels one `multiply` call fills for `columns` columns, and the scratch it uses beside them.
    public static func panelBytes(_ type: TensorType, columns: Int) -> Int {
        #if arch(x86_64)
        if let format = superBlockFormat(type) {
            return 2 * (columns / 256) * SuperBlockPanelLayout.blockBytes(format) + superBlockScratchBytes
        }
        if blockFormat(type) != nil { return (columns / 32) * BlockPanelLayout.blockBytes }
        return (columns / 32) * PanelLayout.nibbleBlockBytes
        #else
        return 0
        #endif
    }

    /// The largest `panelBytes` of any format for `columns` columns.
    public static func maxPanelBytes(columns: Int) -> Int {
        #if arch(x86_64)
        max((columns / 32) * max(PanelLayout.nibbleBlockBytes, BlockPanelLayout.blockBytes),
            2 * (columns / 256) * SuperBlockPanelLayout.maxBlockBytes + superBlockScratchBytes)
        #else
        return 0
        #endif
    }

    /// Bytes `prepare` needs for `tokens` rows of `columns` activations.
    public static func preparedBytes(columns: Int, tokens: Int) -> Int {
        tokens * columns + 3 * tokens * (columns / 32) * 4 + 64
    }

    /// Converts quantized activations (Q8_0 rows for Q4_0, Q5_0 and IQ4_NL, Q8_1 rows for Q4_1) into the
    /// panels' input form in `prepared`; the super-block panels read Q8_K rows as they are (IQ4_XS on VNNI:
    /// also flipped to unsigned bytes). (Q8_0 weights have no panel path: see FormatKernels.batchesTokenByToken.)
    public static func prepare(_ type: TensorType, activations: UnsafeRawPointer, activationStride: Int,
                               tokens: Int, columns: Int, prepared: UnsafeMutableRawPointer) {
        FormatKernels.of(type)?.panels?.prepare(activations, activationStride, tokens, columns, prepared)
    }

    /// results[t · resultStride + r] = row r · token t for the `rowCount` (≤ rowsPerMultiply) rows starting at `rows`.
    /// `vnni`: the AVX-512 VNNI kernel where it has one (the default where the CPU has it; false for comparisons).
    public static func multiply(_ type: TensorType, rows: UnsafeRawPointer, rowStride: Int, rowCount: Int,
                                columns: Int, panel: UnsafeMutableRawPointer, activations: UnsafeRawPointer,
                                activationStride: Int, prepared: UnsafeMutableRawPointer, tokens: Int,
                                results: UnsafeMutablePointer<Float>, resultStride: Int,
                                vnni: Bool = CPUFeatures.current.hasAVX512VNNI) {
        guard let kernels = kernels(type, vnni: vnni && CPUFeatures.current.hasAVX512VNNI) else { return }
        kernels.multiply(rows, rowStride, rowCount, columns, panel, activations, activationStride, prepared, tokens,
                         results, resultStride)
    }

    #if arch(x86_64)
    /// IQ4_XS on VNNI: the activation bytes + 128, tokens × columns (the kernel's unsigned operand).
    private static func flipActivations(_ activations: UnsafeRawPointer, _ activationStride: Int, _ tokens: Int,
                                        _ columns: Int, _ prepared: UnsafeMutableRawPointer) {
        AVX2GEMM.flippedBytes(activations, activationStride: activationStride, tokens: tokens,
                              superBlocks: columns / 256, into: prepared)
    }

    /// The byte and block panels' input: unsigned activation bytes, scales, sums and offsets (`Prepared`).
    private static func prepareBytes(q8_1: Bool, _ activations: UnsafeRawPointer, _ activationStride: Int, _ tokens: Int,
                                     _ columns: Int, _ prepared: UnsafeMutableRawPointer) {
        let p = Prepared(prepared, tokens: tokens, columns: columns)
        AVX2GEMM.unsignedActivations(activations, activationStride: activationStride, q8_1: q8_1,
                                     tokens: tokens, blocks: columns / 32, bytes: p.bytes, byteStride: columns,
                                     scales: p.scales, sums: p.sums, offsets: p.offsets)
    }

    /// Q2_K … Q6_K, IQ4_XS and the grid I-quants. VNNI: one 16-row panel, rows 0-7 and 8-15 in alternate
    /// 32-byte units (rows 8-15 zero where there are fewer). AVX2: rows 0-7 in the first 8-row panel, 8-15
    /// (when there are more than 8) in a second one right after it. `interleaved`: `rows` is an interleaved
    /// copy's 8-row panel and `rowStride` the bytes of one (interleavedKernels).
    private static func multiplySuperBlocks(_ format: SuperBlockFormat, vnni: Bool, interleaved: Bool, rows: UnsafeRawPointer,
                                            rowStride: Int, rowCount: Int, columns: Int, panel: UnsafeMutableRawPointer,
                                            activations: UnsafeRawPointer, activationStride: Int,
                                            prepared: UnsafeMutableRawPointer, tokens: Int,
                                            results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let superBlocks = columns / 256
        let second = panel + superBlocks * SuperBlockPanelLayout.blockBytes(format)
        let scratch = second + superBlocks * SuperBlockPanelLayout.blockBytes(format)
        /// Rows first…first+count−1 (first 0 or 8, count ≤ 8) into `into` (or its `half` of a 16-row panel).
        @inline(__always) func pack(_ first: Int, _ count: Int, into: UnsafeMutableRawPointer, half: Int?) {
            if interleaved && count > 0 {
                AVX2GEMM.packInterleavedQ4K(rows + first / 8 * rowStride, superBlocks: superBlocks, into: into, half: half)
            } else {
                AVX2GEMM.packSuperBlocks(format, rows + first * rowStride, rowStride: rowStride, rowCount: count,
                                         superBlocks: superBlocks, scratch: scratch, into: into, half: half)
            }
        }
        if vnni {
            // One 16-row panel (rows 8-15 zero where there are fewer), 512-bit registers.
            pack(0, min(rowCount, 8), into: panel, half: 0)
            pack(8, max(0, rowCount - 8), into: panel, half: 1)
            VNNIKernels.superBlockPanel16(format, panel, superBlocks: superBlocks, activations: activations,
                                          activationStride: activationStride, flipped: prepared, flippedStride: columns,
                                          tokens: tokens, results: results, resultStride: resultStride, rowCount: rowCount)
            return
        }
        pack(0, min(rowCount, 8), into: panel, half: nil)
        if rowCount > 8 { pack(8, rowCount - 8, into: second, half: nil) }
        AVX2GEMM.superBlockPanel(format, panel, superBlocks: superBlocks, activations: activations,
                                 activationStride: activationStride, tokens: tokens, results: results,
                                 resultStride: resultStride, rowCount: min(rowCount, 8))
        if rowCount > 8 {
            AVX2GEMM.superBlockPanel(format, second, superBlocks: superBlocks, activations: activations,
                                     activationStride: activationStride, tokens: tokens, results: results + 8,
                                     resultStride: resultStride, rowCount: rowCount - 8)
        }
    }

    /// Q5_0 and IQ4_NL as signed byte panels.
    private static func multiplyBlocks(_ format: BlockPanelFormat, vnni: Bool, rows: UnsafeRawPointer, rowStride: Int,
                                       rowCount: Int, columns: Int, panel: UnsafeMutableRawPointer,
                                       activations: UnsafeRawPointer, activationStride: Int,
                                       prepared: UnsafeMutableRawPointer, tokens: Int,
                                       results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let blocks = columns / 32
        let p = Prepared(prepared, tokens: tokens, columns: columns)
        AVX2GEMM.packBlocks(format, rows, rowStride: rowStride, rowCount: rowCount, blocks: blocks, into: panel)
        if vnni {
            VNNIKernels.blockPanel(panel, blocks: blocks, flipped: p.bytes, flippedStride: columns, scales: p.scales,
                                   tokens: tokens, results: results, resultStride: resultStride, rowCount: rowCount)
        } else {
            AVX2GEMM.blockPanel(format, panel, blocks: blocks, activations: activations, activationStride: activationStride,
                                scales: p.scales, tokens: tokens, results: results, resultStride: resultStride, rowCount: rowCount)
        }
    }

    /// Q4_0 and Q4_1 as 4-bit panels.
    private static func multiplyNibbles(isQ4_1: Bool, rows: UnsafeRawPointer, rowStride: Int, rowCount: Int, columns: Int,
                                        panel: UnsafeMutableRawPointer, activations: UnsafeRawPointer, activationStride: Int,
                                        prepared: UnsafeMutableRawPointer, tokens: Int,
                                        results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let blocks = columns / 32
        let p = Prepared(prepared, tokens: tokens, columns: columns)
        AVX2GEMM.packNibbles(rows, rowStride: rowStride, rowCount: rowCount, blocks: blocks, isQ4_1: isQ4_1, into: panel)
        AVX2GEMM.nibblePanel(panel, blocks: blocks, isQ4_1: isQ4_1, bytes: p.bytes, byteStride: columns,
                             scales: p.scales, sums: p.sums, offsets: p.offsets, tokens: tokens,
                             results: results, resultStride: resultStride, rowCount: rowCount)
    }
    #endif

    /// Where `prepare` puts each part: bytes (tokens × columns), then three 4-byte arrays of tokens × blocks
    /// (scales, integer sums, offsets).
    private struct Prepared {
        let bytes: UnsafeMutableRawPointer
        let scales, offsets: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Int32>
        init(_ base: UnsafeMutableRawPointer, tokens: Int, columns: Int) {
            let n = tokens * (columns / 32)
            bytes = base
            let arrays = base + (tokens * columns + 63) / 64 * 64
            scales = arrays.bindMemory(to: Float.self, capacity: n)
            sums = (arrays + 4 * n).bindMemory(to: Int32.self, capacity: n)
            offsets = (arrays + 8 * n).bindMemory(to: Float.self, capacity: n)
        }
    }
}
