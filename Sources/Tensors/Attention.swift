import TensorsAVX2

/// Attention pieces over an F16 cache, dispatched to AVX2 when present (head dimensions that are a
/// multiple of 8), otherwise plain loops with the same summation order for the weighted sum.
public enum Attention {
    /// scores[t] = scale · (query · key_t) for t in 0..<length, key_t = keys + t·stride, summed in 16 chains.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafePointer<Float16>, stride: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        if CPUFeatures.current.hasAVX2, headDim % 16 == 0 {
            AVX2Attention.scores(query, UnsafeRawPointer(keys), stride: stride, length: length, headDim: headDim,
                                 scale: scale, into: scores)
            return
        }
        var chains = Chains()
        for t in 0..<length {
            let key = keys + t * stride
            chains.clear()
            for d in 0..<headDim { chains.add(query[d] * Float(key[d]), to: d) }
            scores[t] = chains.sum * scale
        }
    }

    /// out[d] = Σ_t weights[t] · value_t[d], value_t = values + t·stride, summed over t in 16 chains.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float16>, stride: Int,
                                   length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        if CPUFeatures.current.hasAVX2, headDim % 8 == 0 {
            AVX2Attention.weightedSum(weights, UnsafeRawPointer(values), stride: stride, length: length,
                                      headDim: headDim, into: out)
            return
        }
        var chains = Chains()
        for d in 0..<headDim {
            chains.clear()
            for t in 0..<length { chains.add(weights[t] * Float(values[t * stride + d]), to: t) }
            out[d] = chains.sum
        }
    }

    /// The summation order of the F16 attention products, llama.cpp's on AVX-512 (tinyBLAS with 16-lane
    /// registers, which recorded our golden logits): element i goes to chain i % 16, each chain sums in
    /// order, then chain k + chain k+8, then pairs 4 apart, 2 apart, 1 apart. The queries and softmax
    /// weights are F16 values, so every product is exact in f32 and only this order decides the rounding.
    struct Chains {
        var c: (Float, Float, Float, Float, Float, Float, Float, Float,
                Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        mutating func clear() { c = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }
        @inline(__always) mutating func add(_ x: Float, to i: Int) {
            withUnsafeMutableBytes(of: &c) { $0.bindMemory(to: Float.self)[i & 15] += x }
        }
        var sum: Float {
            withUnsafeBytes(of: c) { raw in
                let v = raw.bindMemory(to: Float.self)
                let a = (0..<8).map { v[$0] + v[$0 + 8] }
                let b0 = a[0] + a[4], b1 = a[1] + a[5], b2 = a[2] + a[6], b3 = a[3] + a[7]
                return (b0 + b2) + (b1 + b3)
            }
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
