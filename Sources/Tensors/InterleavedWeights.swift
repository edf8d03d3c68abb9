import GGUF
#if arch(x86_64)
import TensorsAVX2
import TensorsAVX512
#endif

/// Q4_0, Q4_1, Q8_0, IQ4_NL and Q4_K matrices interleaved 8 rows at a time at load (layouts in
/// Sources/Tensors/AVX2/InterleavedKernels.swift, InterleavedSuperBlocks.swift): the same bytes as the file,
/// rearranged so that one instruction serves 8 rows. Used for decode and prefill when AVX2 is present (Q4_K's
/// prompt batches unpack the copy into the super-block panels). The kernels are the
/// format's `FormatKernels.interleaved`; these are the matrix-level steps around them.
public enum InterleavedWeights {
    public static func supports(_ type: TensorType, rows: Int, columns: Int) -> Bool {
        FormatKernels.of(type)?.interleaved != nil && rows % 8 == 0 && columns % 32 == 0 && rows > 0 && columns > 0
    }

    /// Bytes of the interleaved copy (equal to the original's).
    public static func byteCount(_ type: TensorType, rows: Int, columns: Int) -> Int {
        (rows / 8) * (FormatKernels.of(type)?.interleaved?.panelBytes(columns) ?? 0)
    }

    /// Writes the interleaved copy of panels `panels` (8 rows each) of a supported matrix.
    public static func interleave(_ type: TensorType, _ data: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                  panels: Range<Int>, into out: UnsafeMutableRawPointer) {
        guard let kernels = FormatKernels.of(type)?.interleaved else { return }
        let panelBytes = kernels.panelBytes(columns)
        for p in panels {
            kernels.interleave(data + 8 * p * rowBytes, rowBytes, columns, out + p * panelBytes)
        }
    }

    /// Scratch bytes `prepare` needs.
    public static func preparedBytes(tokens: Int, columns: Int) -> Int { InterleavedKernels.preparedBytes(tokens: tokens, columns: columns) }

    /// Per-batch work on the quantized activations (Q4_0, and IQ4_NL on VNNI: each block's 8·Σa).
    public static func prepare(_ type: TensorType, activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                               columns: Int, prepared: UnsafeMutableRawPointer) {
        FormatKernels.of(type)?.interleaved?.prepare?(activations, activationStride, tokens, columns, prepared)
    }

    /// results[t · resultStride + r] for rows r of panels `panels` (row 8·p + i at results + 8·p + i).
    public static func multiply(_ type: TensorType, _ interleaved: UnsafeRawPointer, columns: Int, panels: Range<Int>,
                                activations: UnsafeRawPointer, activationStride: Int, prepared: UnsafeRawPointer,
                                tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        guard let kernels = FormatKernels.of(type)?.interleaved else { return }
        kernels.multiply(interleaved + panels.lowerBound * kernels.panelBytes(columns), panels.count, columns, activations,
                         activationStride, prepared, tokens, results + 8 * panels.lowerBound, resultStride)
    }

    /// The interleaved kernels of `type` (nil: none), AVX-512 VNNI's where `vnni` (FormatKernels' table).
    static func kernels(_ type: TensorType, vnni: Bool) -> InterleavedKernels? {
        #if arch(x86_64)
        switch type {
        case .q4_0, .q4_1, .iq4_nl:
            let isQ4_1 = type == .q4_1
            let blockBytes = InterleavedLayout.blockBytes(isQ4_1: isQ4_1)
            var prepare: ((UnsafeRawPointer, Int, Int, Int, UnsafeMutableRawPointer) -> Void)? = nil
            if type == .q4_0 || (type == .iq4_nl && vnni) {
                prepare = { AVX2GEMM.nibbleCorrections($0, activationStride: $1, tokens: $2, blocks: $3 / 32,
                                                       into: $4.assumingMemoryBound(to: Int32.self)) }
            }
            let multiply: (UnsafeRawPointer, Int, Int, UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
            switch (type, vnni) {
            case (.iq4_nl, true):
                multiply = { VNNIKernels.interleavedLevels($0, panels: $1, blocks: $2 / 32, activations: $3, activationStride: $4,
                                                           corrections: $5.assumingMemoryBound(to: Int32.self), tokens: $6,
                                                           results: $7, resultStride: $8) }
            case (.iq4_nl, false):
                multiply = { AVX2GEMM.interleavedLevels($0, panels: $1, blocks: $2 / 32, activations: $3, activationStride: $4,
                                                        tokens: $6, results: $7, resultStride: $8) }
            case (_, true):
                multiply = { VNNIKernels.interleavedNibbles($0, panels: $1, blocks: $2 / 32, isQ4_1: isQ4_1, activations: $3,
                                                            activationStride: $4, corrections: $5.assumingMemoryBound(to: Int32.self),
                                                            tokens: $6, results: $7, resultStride: $8) }
            case (_, false):
                multiply = { AVX2GEMM.interleavedNibbles($0, panels: $1, blocks: $2 / 32, isQ4_1: isQ4_1, activations: $3,
                                                         activationStride: $4, corrections: $5.assumingMemoryBound(to: Int32.self),
                                                         tokens: $6, results: $7, resultStride: $8) }
            }
            return InterleavedKernels(panelBytes: { ($0 / 32) * blockBytes },
                                      interleave: { AVX2GEMM.interleaveNibbles($0, rowStride: $1, blocks: $2 / 32, isQ4_1: isQ4_1, into: $3) },
                                      prepare: prepare, multiply: multiply)
        case .q8_0:
            let multiply: (UnsafeRawPointer, Int, Int, UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
            if vnni {
                multiply = { VNNIKernels.interleavedBytes($0, panels: $1, blocks: $2 / 32, activations: $3, activationStride: $4,
                                                          tokens: $6, results: $7, resultStride: $8) }
            } else {
                multiply = { AVX2GEMM.interleavedBytes($0, panels: $1, blocks: $2 / 32, activations: $3, activationStride: $4,
                                                       tokens: $6, results: $7, resultStride: $8) }
            }
            return InterleavedKernels(panelBytes: { ($0 / 32) * InterleavedByteLayout.blockBytes },
                                      interleave: { AVX2GEMM.interleaveBytes($0, rowStride: $1, blocks: $2 / 32, into: $3) },
                                      prepare: nil, multiply: multiply)
        case .q4_K:
            let multiply: (UnsafeRawPointer, Int, Int, UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafeMutablePointer<Float>, Int) -> Void
            if vnni {
                multiply = { VNNIKernels.interleavedQ4K($0, panels: $1, superBlocks: $2 / 256, activations: $3, activationStride: $4,
                                                        tokens: $6, results: $7, resultStride: $8) }
            } else {
                multiply = { AVX2GEMM.interleavedQ4K($0, panels: $1, superBlocks: $2 / 256, activations: $3, activationStride: $4,
                                                     tokens: $6, results: $7, resultStride: $8) }
            }
            return InterleavedKernels(panelBytes: { ($0 / 256) * InterleavedSuperBlockLayout.q4KBlockBytes },
                                      interleave: { AVX2GEMM.interleaveQ4K($0, rowStride: $1, superBlocks: $2 / 256, into: $3) },
                                      prepare: nil, multiply: multiply, panels: PanelGEMM.interleavedKernels(type, vnni: vnni))
        default:
            return nil
        }
        #else
        return nil
        #endif
    }
}
