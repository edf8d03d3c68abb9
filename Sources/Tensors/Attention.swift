#if arch(x86_64)
import TensorsAVX2
#endif

/// Attention pieces over an F16 cache, dispatched to AVX2 when present (head dimensions that are a
/// multiple of 8), otherwise plain loops with the same summation order for the weighted sum.
public enum Attention {
    /// How llama.cpp (the AVX-512 build that recorded our goldens) sums an F16 dot product. The queries and
    /// softmax weights are F16 values, so every product is exact in f32 and only this order decides the
    /// rounding.
    public enum SummationOrder: Sendable {
        /// Batches (tinyBLAS, 16-lane registers): element i in chain i % 16, each chain in order, then the
        /// 16-lane tree — chain k plus k+8, then pairs 4 apart, 2 apart, 1 apart.
        case chains16
        /// Single tokens (ggml's vec_dot): elements below `whole` (a multiple of 64) in chain i % 64; chains
        /// l, l+32, l+16, l+48 fold as (l + l+32) + (l+16 + l+48) into 16 lanes, then the same tree; the
        /// elements from `whole` on are added one by one in double.
        case blocks64(whole: Int)

        /// The single-token order over n elements: vec_dot's whole 64-element blocks.
        public static func singleToken(_ n: Int) -> SummationOrder { .blocks64(whole: n & ~63) }

        var whole: Int { if case .blocks64(let w) = self { w } else { -1 } }
    }

    /// scores[t] = scale · (query · key_t) for t in 0..<length, key_t = keys + t·stride, summed over the head
    /// dimension in `order`.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafePointer<Float16>, stride: Int,
                              length: Int, headDim: Int, order: SummationOrder, scale: Float,
                              into scores: UnsafeMutablePointer<Float>) {
        let whole = order.whole
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2 {
            if whole < 0, headDim % 16 == 0 {
                AVX2Attention.scores(query, UnsafeRawPointer(keys), stride: stride, length: length, headDim: headDim,
                                     scale: scale, into: scores)
                return
            }
            if whole == headDim & ~63 {
                // vec_dot's order is the F16 decode rows' (keys are F16 rows, the query rounded activations).
                AVX2Dot.f16RowsF32(UnsafeRawPointer(keys), rowStride: 2 * stride, rows: length, query, headDim, scores, resultStride: 1)
                for t in 0..<length { scores[t] *= scale }
                return
            }
        }
        #endif
        for t in 0..<length {
            let key = keys + t * stride
            scores[t] = Self.sum(headDim, order) { query[$0] * Float(key[$0]) } * scale
        }
    }

    /// out[d] = Σ_t weights[t] · value_t[d], value_t = values + t·stride, summed over t in `order`.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float16>, stride: Int,
                                   length: Int, headDim: Int, order: SummationOrder, into out: UnsafeMutablePointer<Float>) {
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, headDim % 8 == 0, order.whole % 64 == 0 || order.whole < 0 {
            AVX2Attention.weightedSum(weights, UnsafeRawPointer(values), stride: stride, length: length,
                                      headDim: headDim, whole: order.whole, into: out)
            return
        }
        #endif
        for d in 0..<headDim {
            out[d] = Self.sum(length, order) { weights[$0] * Float(values[$0 * stride + d]) }
        }
    }

    /// A batch's scores for several queries over the same F16 keys (one KV head, positions from 0), each as
    /// `scores(order: .chains16)` computes it: rows[q · rowStride + t] for t < lengths[q]. With AVX2 and
    /// heads a multiple of 64 wide, each key is widened once for all the queries.
    public static func scores(_ queries: UnsafePointer<UnsafePointer<Float>>, lengths: UnsafePointer<Int>, count: Int,
                              _ keys: UnsafePointer<Float16>, stride: Int, headDim: Int, scale: Float,
                              into rows: UnsafeMutablePointer<Float>, rowStride: Int) {
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, headDim % 64 == 0 {
            AVX2Attention.scoresShared(queries, lengths: lengths, count: count, UnsafeRawPointer(keys), stride: stride,
                                       headDim: headDim, scale: scale, into: rows, rowStride: rowStride)
            return
        }
        #endif
        for q in 0..<count {
            scores(queries[q], keys, stride: stride, length: lengths[q], headDim: headDim, order: .chains16, scale: scale,
                   into: rows + q * rowStride)
        }
    }

    /// A batch's weighted sums for several queries over the same F16 value rows (one KV head, positions
    /// from 0), in the batch order: bit for bit `weightedSum(order: .chains16)` per query, the value rows
    /// shared by all of them. Weight rows are `weightStride` apart and hold zeros from each query's length
    /// to the next multiple of 16; every value row below the largest length must be written.
    public static func weightedSums(_ weights: UnsafePointer<Float>, weightStride: Int, lengths: UnsafePointer<Int>,
                                    queries: Int, _ values: UnsafePointer<Float16>, stride: Int, headDim: Int,
                                    outputs: UnsafePointer<UnsafeMutablePointer<Float>>) {
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2, headDim % 8 == 0 {
            AVX2Attention.weightedSums(weights, weightStride: weightStride, lengths: lengths, queries: queries,
                                       UnsafeRawPointer(values), stride: stride, headDim: headDim, outputs: outputs)
            return
        }
        #endif
        for q in 0..<queries {
            weightedSum(weights + q * weightStride, values, stride: stride, length: lengths[q], headDim: headDim,
                        order: .chains16, into: outputs[q])
        }
    }

    /// Σ term(i) for i in 0..<n in `order` (the scalar definition the AVX2 kernels reproduce).
    @inline(__always)
    static func sum(_ n: Int, _ order: SummationOrder, _ term: (Int) -> Float) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { c in
            c.initialize(repeating: 0)
            let whole = order.whole
            let chained = whole < 0 ? n : min(whole, n)
            let mask = whole < 0 ? 15 : 63
            for i in 0..<chained { c[i & mask] += term(i) }
            if whole >= 0 {
                for l in 0..<16 { c[l] = (c[l] + c[l + 32]) + (c[l + 16] + c[l + 48]) }
            }
            let b0 = (c[0] + c[8]) + (c[4] + c[12]), b1 = (c[1] + c[9]) + (c[5] + c[13])
            let b2 = (c[2] + c[10]) + (c[6] + c[14]), b3 = (c[3] + c[11]) + (c[7] + c[15])
            let total = (b0 + b2) + (b1 + b3)
            guard chained < n else { return total }
            var wide = Double(total)
            for i in chained..<n { wide += Double(term(i)) }
            return Float(wide)
        }
    }

    /// F32 cache: scores[t] = scale · (query · key_t), summed in order.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, stride: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        for t in 0..<length {
            let key = keys + t * stride
            var dot: Float = 0
            for d in 0..<headDim { dot += query[d] * key[d] }
            scores[t] = dot * scale
        }
    }

    /// F32 cache: out = Σ_t weights[t] · value_t (in t order).
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float>, stride: Int,
                                   length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        for d in 0..<headDim { out[d] = 0 }
        for t in 0..<length {
            let p = weights[t], value = values + t * stride
            for d in 0..<headDim { out[d] += p * value[d] }
        }
    }

    /// values[i] · scale rounded to the nearest F16 value (ties to even), in place: the softmax weights as
    /// llama.cpp's F16 products see them. Vectorised (one scalar call per weight was a tenth of a long prompt's
    /// time at depth 4096).
    public static func scaleRoundedToHalf(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        for i in 0..<count { values[i] *= scale }
        #if arch(x86_64)
        if CPUFeatures.current.hasAVX2 {
            AVX2Quantize.roundToHalf(values, values, count: count)
            return
        }
        #endif
        for i in 0..<count { values[i] = roundedToHalf(values[i]) }
    }

    /// x rounded to the nearest F16 value (ties to even), returned as a float: what a float → F16 →
    /// float round trip gives, without the software conversion call Swift emits on x86-64.
    @inline(__always)
    public static func roundedToHalf(_ x: Float) -> Float {
        // Sign and magnitude handled as bits (Float(sign:exponent:significand:) is a library call).
        let sign = x.bitPattern & 0x8000_0000
        let magnitude = abs(x)
        if !(magnitude < 65520) { return magnitude.isNaN ? x : Float(bitPattern: sign | 0x7F80_0000) }
        if magnitude < 6.103515625e-05 {
            // F16 subnormals are multiples of 2⁻²⁴: adding 0.5 (whose float ulp is 2⁻²⁴) rounds to one.
            return Float(bitPattern: sign | ((magnitude + 0.5) - 0.5).bitPattern)
        }
        var bits = magnitude.bitPattern
        bits = (bits &+ 0xFFF &+ ((bits >> 13) & 1)) & ~0x1FFF
        return Float(bitPattern: sign | bits)
    }
}
