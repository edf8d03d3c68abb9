import GGUF

// Activation quantizers matching what llama.cpp's x86 CPU backend computes (its AVX2 quantize_row_q8_0/q8_1:
// multiply by 127/amax and round half to even — not the `_ref` roundf(x/d), which flips an occasional .5 and
// moved golden logits by ~0.01), so that our dot products see the same integers.

enum QuantizeActivations {
    /// Q8_0: d = amax/127, q = round-half-even(x · (127/amax)).
    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let inverse: Float = amax != 0 ? 127 / amax : 0
        y.storeBytes(of: Float16(d).bitPattern, toByteOffset: 0, as: UInt16.self)
        for j in 0..<32 {
            y.storeBytes(of: saturatingInt8((x[j] * inverse).rounded(.toNearestOrEven)), toByteOffset: 2 + j, as: Int8.self)
        }
    }

    /// Q8_1: as Q8_0 plus s = d · Σq (with the unrounded d); d and s are kept f16-rounded.
    static func q8_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let inverse: Float = amax != 0 ? 127 / amax : 0
        var sum: Int32 = 0
        for j in 0..<32 {
            let q = saturatingInt8((x[j] * inverse).rounded(.toNearestOrEven))
            sum += Int32(q)
            y.storeBytes(of: q, toByteOffset: 8 + j, as: Int8.self)
        }
        y.storeBytes(of: Float(Float16(d)), toByteOffset: 0, as: Float.self)
        y.storeBytes(of: Float(Float16(Float(sum) * d)), toByteOffset: 4, as: Float.self)
    }

    /// Q8_K: scale by −127/max where max is the signed value of largest magnitude (so that value
    /// becomes exactly −127 and nothing reaches −128), round to nearest even, clamp at 127;
    /// d = 1/scale in f32; bsums hold the sum of each 16 quants.
    static func q8_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0, extreme: Float = 0
        for j in 0..<256 {
            let magnitude = abs(x[j])
            if magnitude > amax { amax = magnitude; extreme = x[j] }
        }
        if amax == 0 {
            y.initializeMemory(as: UInt8.self, repeating: 0, count: TensorType.q8_K.blockBytes)
            return
        }
        let scale = -127 / extreme
        for group in 0..<16 {
            var sum: Int16 = 0
            for l in 0..<16 {
                let j = 16 * group + l
                let q = saturatingInt8(min(127, (scale * x[j]).rounded(.toNearestOrEven)))
                sum += Int16(q)
                y.storeBytes(of: q, toByteOffset: 4 + j, as: Int8.self)
            }
            y.storeBytes(of: sum, toByteOffset: 260 + 2 * group, as: Int16.self)
        }
        y.storeBytes(of: 1 / scale, toByteOffset: 0, as: Float.self)
    }

    /// Q4_0 (KV cache rows), as llama.cpp's reference quantizer: m = the value of largest magnitude (its sign
    /// kept), d = m / −8, q = min(15, trunc(x/d + 8.5)).
    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0, extreme: Float = 0
        for j in 0..<32 where abs(x[j]) > amax {
            amax = abs(x[j]); extreme = x[j]
        }
        let d = extreme / -8
        let inverse: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: Float16(d).bitPattern, toByteOffset: 0, as: UInt16.self)
        // NaN (a diverged activation) stores as 8, i.e. zero, rather than trapping in the conversion.
        func nibble(_ v: Float) -> UInt8 { v.isNaN ? 8 : UInt8(min(15, max(0, v))) }
        for j in 0..<16 {
            let low = nibble(x[j] * inverse + 8.5), high = nibble(x[j + 16] * inverse + 8.5)
            y.storeBytes(of: low | high << 4, toByteOffset: 2 + j, as: UInt8.self)
        }
    }
}
