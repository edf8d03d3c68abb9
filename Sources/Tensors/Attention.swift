import TensorsAVX2

/// Attention pieces over an F16 cache, dispatched to AVX2 when present (head dimensions that are a
/// multiple of 8), otherwise plain loops with the same summation order for the weighted sum.
public enum Attention {
    /// scores[t] = scale · (query · key_t) for t in 0..<length, key_t = keys + t·stride.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafePointer<Float16>, stride: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        if CPUFeatures.current.hasAVX2, headDim % 8 == 0 {
            AVX2Attention.scores(query, UnsafeRawPointer(keys), stride: stride, length: length, headDim: headDim,
                                 scale: scale, into: scores)
            return
        }
        for t in 0..<length {
            let key = keys + t * stride
            var dot: Float = 0
            for d in 0..<headDim { dot += query[d] * Float(key[d]) }
            scores[t] = dot * scale
        }
    }

    /// out = Σ_t weights[t] · value_t (in t order), value_t = values + t·stride.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float16>, stride: Int,
                                   length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        if CPUFeatures.current.hasAVX2, headDim % 8 == 0 {
            AVX2Attention.weightedSum(weights, UnsafeRawPointer(values), stride: stride, length: length,
                                      headDim: headDim, into: out)
            return
        }
        for d in 0..<headDim { out[d] = 0 }
        for t in 0..<length {
            let p = weights[t], value = values + t * stride
            for d in 0..<headDim { out[d] += p * Float(value[d]) }
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

    /// x rounded to the nearest F16 value (ties to even), returned as a float: what a float → F16 →
    /// float round trip gives, without the software conversion call Swift emits on x86-64.
    @inline(__always)
    public static func roundedToHalf(_ x: Float) -> Float {
        let magnitude = abs(x)
        if !(magnitude < 65520) { return magnitude.isNaN ? x : Float(sign: x.sign, exponent: 0, significand: .infinity) }
        if magnitude < 6.103515625e-05 {
            // F16 subnormals are multiples of 2⁻²⁴: adding 0.5 (whose float ulp is 2⁻²⁴) rounds to one.
            return Float(sign: x.sign, exponent: 0, significand: (magnitude + 0.5) - 0.5)
        }
        var bits = magnitude.bitPattern
        bits = (bits &+ 0xFFF &+ ((bits >> 13) & 1)) & ~0x1FFF
        return Float(sign: x.sign, exponent: 0, significand: Float(bitPattern: bits))
    }
}
