import GGUF

/// Dot products for CPUs without our AVX2 kernels (arm64, old x86), in the summation orders of the fast
/// kernels — llama.cpp's, which recorded our golden logits — so the golden models give the same bits on
/// every machine: Q8_0 and Q4_0 keep 8 chains per token (one per 4-column group; each block adds
/// d·dy·(group sum) with a fused multiply-add), F16 sums as Attention.SummationOrder says (single tokens
/// in 64-column blocks, batches in 16 chains). (One exception: AVX2 Q4_0 prompt batches sum each block's
/// integers before scaling, a rounding-level difference.) Plain loops over small fixed-size chain arrays,
/// which the compiler can keep in vector registers. ReferenceDot keeps the index-order definitions the
/// tests measure against.
public enum PortableDot {
    /// Q8_0 weights · Q8_0 activations over `blocks` blocks.
    public static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        groupChains(blocks) { b, g in
            let xb = x + 34 * b, yb = y + 34 * b
            var sum: Int32 = 0
            for j in (4 * g)..<(4 * g + 4) { sum += Int32(xb.signedByte(2 + j)) * Int32(yb.signedByte(2 + j)) }
            return sum
        } scale: { b in x.half(34 * b) * y.half(34 * b) }
    }

    /// Q4_0 weights · Q8_0 activations: column j < 16 is the low nibble of byte j, j ≥ 16 the high nibble
    /// of byte j − 16, each minus 8.
    public static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        groupChains(blocks) { b, g in
            let xb = x + 18 * b, yb = y + 34 * b
            var sum: Int32 = 0
            for j in (4 * g)..<(4 * g + 4) {
                let byte = xb.byte(2 + (j & 15))
                let q = Int32(j < 16 ? byte & 0x0F : byte >> 4) - 8
                sum += q * Int32(yb.signedByte(2 + j))
            }
            return sum
        } scale: { b in x.half(18 * b) * y.half(34 * b) }
    }

    /// Σ over blocks of scale(b)·groupSum(b, g) into chain g (fused), then ((g0+g4)+(g2+g6)) + ((g1+g5)+(g3+g7)).
    @inline(__always)
    static func groupChains(_ blocks: Int, _ groupSum: (Int, Int) -> Int32, scale: (Int) -> Float) -> Float {
        var c: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
        for b in 0..<blocks {
            let d = scale(b)
            c.0 = c.0.addingProduct(d, Float(groupSum(b, 0))); c.1 = c.1.addingProduct(d, Float(groupSum(b, 1)))
            c.2 = c.2.addingProduct(d, Float(groupSum(b, 2))); c.3 = c.3.addingProduct(d, Float(groupSum(b, 3)))
            c.4 = c.4.addingProduct(d, Float(groupSum(b, 4))); c.5 = c.5.addingProduct(d, Float(groupSum(b, 5)))
            c.6 = c.6.addingProduct(d, Float(groupSum(b, 6))); c.7 = c.7.addingProduct(d, Float(groupSum(b, 7)))
        }
        return ((c.0 + c.4) + (c.2 + c.6)) + ((c.1 + c.5) + (c.3 + c.7))
    }

    /// F16 weights · F16 activations over `count` elements, in the single-token order (`batch` false) or the
    /// batch order. Products of two F16 values are exact in f32, so plain multiply-adds round as fused ones.
    public static func f16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int, batch: Bool) -> Float {
        Attention.sum(count, batch ? .chains16 : .singleToken(count)) { x.half(2 * $0) * y.half(2 * $0) }
    }
}
