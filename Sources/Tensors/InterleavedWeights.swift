import GGUF
#if arch(x86_64)
import TensorsAVX2
#endif
#if arch(x86_64)
import TensorsAVX512
#endif

/// Q4_0, Q4_1, Q8_0 and IQ4_NL matrices interleaved 8 rows at a time at load (layout in
/// Sources/Tensors/AVX2/InterleavedKernels.swift): the same bytes as the file, rearranged so that one
/// instruction serves 8 rows. Used for decode and prefill when AVX2 is present.
public enum InterleavedWeights {
    public static func supports(_ type: TensorType, rows: Int, columns: Int) -> Bool {
        #if arch(x86_64)
        guard CPUFeatures.current.hasAVX2 else { return false }
        return (type == .q4_0 || type == .q4_1 || type == .q8_0 || type == .iq4_nl) && rows % 8 == 0 && columns % 32 == 0 && rows > 0 && columns > 0
        #else
        return false
        #endif
    }

    /// Bytes of the interleaved copy (equal to the original's).
    public static func byteCount(_ type: TensorType, rows: Int, columns: Int) -> Int {
        #if arch(x86_64)
        (rows / 8) * panelBytes(type, columns: columns)
        #else
        return 0
        #endif
    }

    static func panelBytes(_ type: TensorType, columns: Int) -> Int {
        #if arch(x86_64)
        (columns / 32) * (type == .q8_0 ? InterleavedByteLayout.blockBytes : InterleavedLayout.blockBytes(isQ4_1: type == .q4_1))
        #else
        return 0
        #endif
    }

    /// Writes the interleaved copy of panels `panels` (8 rows each) of a supported matrix.
    public static func interleave(_ type: TensorType, _ data: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                  panels: Range<Int>, into out: UnsafeMutableRawPointer) {
        #if arch(x86_64)
        let blocks = columns / 32, isQ4_1 = type == .q4_1
        let panelBytes = panelBytes(type, columns: columns)
        for p in panels {
            if type == .q8_0 {
                AVX2GEMM.interleaveBytes(data + 8 * p * rowBytes, rowStride: rowBytes, blocks: blocks, into: out + p * panelBytes)
                continue
            }
            AVX2GEMM.interleaveNibbles(data + 8 * p * rowBytes, rowStride: rowBytes, blocks: blocks, isQ4_1: isQ4_1,
                                       into: out + p * panelBytes)
        }
        #else
        x86KernelUnreachable()
        #endif
    }

    /// Scratch bytes `prepare` needs.
    public static func preparedBytes(tokens: Int, columns: Int) -> Int { tokens * (columns / 32) * 4 }

    /// Per-batch work on the quantized activations (Q4_0: each block's 8·Σa).
    public static func prepare(_ type: TensorType, activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                               columns: Int, prepared: UnsafeMutableRawPointer) {
        #if arch(x86_64)
        guard type == .q4_0 else { return }
        AVX2GEMM.nibbleCorrections(activations, activationStride: activationStride, tokens: tokens, blocks: columns / 32,
                                   into: prepared.assumingMemoryBound(to: Int32.self))
        #else
        x86KernelUnreachable()
        #endif
    }

    /// results[t · resultStride + r] for rows r of panels `panels` (row 8·p + i at results + 8·p + i).
    public static func multiply(_ type: TensorType, _ interleaved: UnsafeRawPointer, columns: Int, panels: Range<Int>,
                                activations: UnsafeRawPointer, activationStride: Int, prepared: UnsafeRawPointer,
                                tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        #if arch(x86_64)
        let blocks = columns / 32, isQ4_1 = type == .q4_1
        let panelBytes = panelBytes(type, columns: columns)
        if type == .iq4_nl {
            let w = interleaved + panels.lowerBound * panelBytes, out = results + 8 * panels.lowerBound
            if CPUFeatures.current.hasAVX512VNNI {
                VNNIKernels.interleavedLevels(w, panels: panels.count, blocks: blocks, activations: activations,
                                              activationStride: activationStride, tokens: tokens, results: out, resultStride: resultStride)
            } else {
                AVX2GEMM.interleavedLevels(w, panels: panels.count, blocks: blocks, activations: activations,
                                           activationStride: activationStride, tokens: tokens, results: out, resultStride: resultStride)
            }
            return
        }
        if CPUFeatures.current.hasAVX512VNNI {
            let w = interleaved + panels.lowerBound * panelBytes, out = results + 8 * panels.lowerBound
            if type == .q8_0 {
                VNNIKernels.interleavedBytes(w, panels: panels.count, blocks: blocks, activations: activations,
                                             activationStride: activationStride, tokens: tokens, results: out, resultStride: resultStride)
            } else {
                VNNIKernels.interleavedNibbles(w, panels: panels.count, blocks: blocks, isQ4_1: isQ4_1, activations: activations,
                                               activationStride: activationStride,
                                               corrections: prepared.assumingMemoryBound(to: Int32.self), tokens: tokens,
                                               results: out, resultStride: resultStride)
            }
            return
        }
        if type == .q8_0 {
            AVX2GEMM.interleavedBytes(interleaved + panels.lowerBound * panelBytes, panels: panels.count, blocks: blocks,
                                      activations: activations, activationStride: activationStride, tokens: tokens,
                                      results: results + 8 * panels.lowerBound, resultStride: resultStride)
            return
        }
        AVX2GEMM.interleavedNibbles(interleaved + panels.lowerBound * panelBytes, panels: panels.count, blocks: blocks,
                                    isQ4_1: isQ4_1, activations: activations, activationStride: activationStride,
                                    corrections: prepared.assumingMemoryBound(to: Int32.self), tokens: tokens,
                                    results: results + 8 * panels.lowerBound, resultStride: resultStride)
        #else
        x86KernelUnreachable()
        #endif
    }
}
