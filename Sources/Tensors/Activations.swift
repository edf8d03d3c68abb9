#if arch(x86_64)
import TensorsAVX2
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exponentials of SiLU and softmax, computed as llama.cpp's CPU backend computes them on AVX-512
/// (the build that recorded our golden logits): a range-reduced polynomial, 2^n · p(b) (the construction
/// of Arm's optimized-routines expf, max error about 1.5 ulp), not libm's correctly rounded expf, and
/// softmax sums formed 16 values at a time. On an 8-bit model one ulp in an activation can flip the
/// rounding of a quantized value; with libm's expf our greedy logits sat up to 0.03 from the goldens,
/// with this they are bit-identical. Every path (AVX2 or the scalar loops) gives the same bits.
public enum Activations {
    /// e^x with the float operations of that algorithm, fused multiply-adds where it fuses. The result
    /// is p·2^n rounded once; |n| > 192 (x beyond about ±133) saturates to 0 or +inf.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let shifter: Float = 0x1.8p23
        // z holds round(x/ln2) in its low mantissa bits; n is that integer as a float.
        let z = shifter.addingProduct(x, 0x1.715476p+0)
        let n = z - shifter
        // b = x − n·ln2, ln2 split in a high and a low part.
        let b = x.addingProduct(-n, 0x1.62e4p-1).addingProduct(-n, 0x1.7f7d1cp-20)
        let u = b * b
        let high = Float(0x1.573e2ep-5).addingProduct(0x1.0e4020p-7, b)
        let low = Float(0x1.fffdb6p-2).addingProduct(0x1.555e66p-3, b)
        let p = Float(1).addingProduct(0x1.ffffecp-1, b).addingProduct(low.addingProduct(high, u), u)
        if n.isNaN { return n }
        if Swift.abs(n) > 192 { return n <= 0 ? 0 : .infinity }
        // p·2^n rounded once: 2^n is a normal float up to |n| = 126; beyond, scale exactly by 2^(n∓100)
        // first and round on the multiply by 2^±100. (Float(sign:exponent:significand:) can round twice.)
        let k = Int(n)
        if Swift.abs(k) <= 126 { return p * Float(sign: .plus, exponent: k, significand: 1) }
        let adjust = k < 0 ? 100 : -100
        return p * Float(sign: .plus, exponent: k + adjust, significand: 1) * Float(sign: .plus, exponent: -adjust, significand: 1)
    }

    /// x / (1 + e^−x) with `exp` above.
    @inline(__always)
    public static func silu(_ x: Float) -> Float {
        x / (1 + exp(0 - x))
    }

    /// gate[r·width + i] = silu(gate[…]) · up[…] for `rows` rows of `width`. Within a row, groups of 16 use
    /// `exp`; a row's last width % 16 elements use libm's expf, as llama.cpp's row loop does.
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, width: Int, rows: Int,
                              vectorized: Bool = CPUFeatures.current.hasAVX2) {
        let vectorWidth = width - width % 16
        for r in 0..<rows {
            let g = gate + r * width, v = up + r * width
            #if arch(x86_64)
            if vectorized {
                AVX2Activations.swiGLU(gate: g, up: v, count: vectorWidth)
            } else {
                for i in 0..<vectorWidth { g[i] = silu(g[i]) * v[i] }
            }
            #else
            for i in 0..<vectorWidth { g[i] = silu(g[i]) * v[i] }
            #endif
            for i in vectorWidth..<width {
                let x = g[i]
                g[i] = x / (1 + expf(-x)) * v[i]
            }
        }
    }

    /// GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))).
    public static func geluTanh(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.79788456080286535587989211986876 * x * (1 + 0.044715 * x * x)))
    }

    /// GELU of every F16 value, rounded to F16: ggml's CPU GELU is this lookup (input rounded to F16), so the
    /// same table gives the same activations.
    static let geluHalfTable: [Float] = (0..<65536).map { bits in
        Float(Float16(geluTanh(Float(Float16(bitPattern: UInt16(bits))))))
    }

    /// gate[i] = gelu(gate[i]) · up[i] (GeGLU): GELU from the F16 table inside ±10, 0 below, x above.
    public static func geGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, width: Int, rows: Int) {
        geluHalfTable.withUnsafeBufferPointer { table in
            for i in 0..<(rows * width) {
                let x = gate[i]
                if x <= -10 {
                    gate[i] = 0
                } else if x >= 10 {
                    gate[i] = x * up[i]
                } else {
                    gate[i] = table[Int(Float16(x).bitPattern)] * up[i]
                }
            }
        }
    }

    /// weights[t] = e^(weights[t] − maximum) for t < count; returns their sum, formed as llama.cpp forms it:
    /// per group of 16 (positions past `count` count as the zeros its masked cells give) a float sum —
    /// element k plus k+8, then pairs 4 apart, 2 apart, 1 apart — each added to a double.
    public static func softmaxExp(_ weights: UnsafeMutablePointer<Float>, count: Int, maximum: Float,
                                  vectorized: Bool = CPUFeatures.current.hasAVX2) -> Double {
        #if arch(x86_64)
        if vectorized {
            return AVX2Activations.softmaxExp(weights, count: count, maximum: maximum)
        }
        #endif
        var sum: Double = 0
        var t = 0
        while t < count {
            @inline(__always) func pair(_ k: Int) -> Float {
                @inline(__always) func value(_ i: Int) -> Float {
                    guard t + i < count else { return 0 }
                    let p = exp(weights[t + i] - maximum)
                    weights[t + i] = p
                    return p
                }
                return value(k) + value(k + 8)
            }
            let a0 = pair(0), a1 = pair(1), a2 = pair(2), a3 = pair(3)
            let a4 = pair(4), a5 = pair(5), a6 = pair(6), a7 = pair(7)
            let b0 = a0 + a4, b1 = a1 + a5, b2 = a2 + a6, b3 = a3 + a7
            sum += Double((b0 + b2) + (b1 + b3))
            t += 16
        }
        return sum
    }
}
