import GGUF
#if arch(x86_64)
import TensorsAVX2
#endif

/// Prompt batches as matrix × matrix work for Q4_0 and Q4_1 (AVX2): eight weight rows are repacked
/// once into a panel (see Sources/Tensors/AVX2/PanelGEMM.swift) and multiplied with every token.
/// Callers: `prepare` once per batch, then `multiply` per group of 8 rows (any thread, own panel buffer).
public enum PanelGEMM {
    public static func supports(_ type: TensorType) -> Bool {
        #if arch(x86_64)
        guard CPUFeatures.current.hasAVX2 else { return false }
        return type == .q4_0 || type == .q4_1
        #else
        return false
        #endif
    }

    /// Bytes of one panel (8 rows) of `columns` columns.
    public static func panelBytes(_ type: TensorType, columns: Int) -> Int {
        #if arch(x86_64)
        (columns / 32) * PanelLayout.nibbleBlockBytes
        #else
        return 0
        #endif
    }

    /// Bytes `prepare` needs for `tokens` rows of `columns` activations.
    public static func preparedBytes(columns: Int, tokens: Int) -> Int {
        tokens * columns + 3 * tokens * (columns / 32) * 4 + 64
    }

    /// Converts quantized activations (Q8_0 rows for Q4_0, Q8_1 rows for Q4_1) into the 4-bit panels' input
    /// form in `prepared`. (Q8_0 weights have no panel path: see the Q8_0 branch of Model's matmul.)
    public static func prepare(_ type: TensorType, activations: UnsafeRawPointer, activationStride: Int,
                               tokens: Int, columns: Int, prepared: UnsafeMutableRawPointer) {
        #if arch(x86_64)
        let blocks = columns / 32
        let p = Prepared(prepared, tokens: tokens, columns: columns)
        AVX2GEMM.unsignedActivations(activations, activationStride: activationStride, q8_1: type == .q4_1,
                                     tokens: tokens, blocks: blocks, bytes: p.bytes, byteStride: columns,
                                     scales: p.scales, sums: p.sums, offsets: p.offsets)
        #else
        x86KernelUnreachable()
        #endif
    }

    /// results[t · resultStride + r] = row r · token t for the `rowCount` (≤ 8) rows starting at `rows`.
    public static func multiply(_ type: TensorType, rows: UnsafeRawPointer, rowStride: Int, rowCount: Int,
                                columns: Int, panel: UnsafeMutableRawPointer, activations: UnsafeRawPointer,
                                activationStride: Int, prepared: UnsafeMutableRawPointer, tokens: Int,
                                results: UnsafeMutablePointer<Float>, resultStride: Int) {
        #if arch(x86_64)
        let blocks = columns / 32
        let isQ4_1 = type == .q4_1
        let p = Prepared(prepared, tokens: tokens, columns: columns)
        AVX2GEMM.packNibbles(rows, rowStride: rowStride, rowCount: rowCount, blocks: blocks, isQ4_1: isQ4_1, into: panel)
        AVX2GEMM.nibblePanel(panel, blocks: blocks, isQ4_1: isQ4_1, bytes: p.bytes, byteStride: columns,
                             scales: p.scales, sums: p.sums, offsets: p.offsets, tokens: tokens,
                             results: results, resultStride: resultStride, rowCount: rowCount)
        #else
        x86KernelUnreachable()
        #endif
    }

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
