import GGUF

/// Dot products for CPUs without our AVX2 kernels (arm64, old x86), in the summation orders of the fast
/// kernels — llama.cpp's, which recorded our golden logits — so the golden models give the same bits on
/// every machine: Q8_0 keeps 8 chains per token (one per 4-column group; each block adds d·dy·(group
/// sum) with a fused multiply-add), Q4_0 and Q4_1 one fused chain of d·dy·(exact block sum) (Q4_1: m·s in
/// a second chain), F16 sums as Attention.SummationOrder says (single tokens in 64-column blocks, batches
/// in 16 chains); the K-quants sum exactly in integers per block, as ReferenceDot does. Written with the standard library's SIMD types, which compile to NEON on
/// arm64 and SSE2 on baseline x86-64 (F16 there: scalar, no cheap widening); Tools/arm64-check checks the
/// arm64 code for vector instructions and its results against x86-64, bit for bit. ReferenceDot keeps the
/// index-order definitions the tests measure against.
public enum PortableDot {
    /// Q8_0 weights · Q8_0 activations over `blocks` blocks.
    public static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var chains = SIMD8<Float>()
        for b in 0..<blocks {
            let xb = x + 34 * b, yb = y + 34 * b
            let (even, odd) = signedBytes(xb, 2)
            chains = chains.addingProduct(SIMD8(repeating: xb.half(0) * yb.half(0)), groupSums(even, odd, yb))
        }
        return fold(chains)
    }

    /// Q4_0 weights · Q8_0 activations: column j < 16 is the low nibble of byte j, j ≥ 16 the high nibble
    /// of byte j − 16, each minus 8. One fused chain of d·dy·(exact block sum), as the AVX2 kernels.
    public static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            // 16-bit lane k of the packed bytes holds columns 2k, 2k+1 (low nibbles) and 16+2k, 17+2k (high).
            let packed = unsafeBitCast(xb.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt16>.self), to: SIMD8<Int16>.self)
            let even = joined(packed & 0xF, (packed &>> 4) & 0xF) &- 8
            let odd = joined((packed &>> 8) & 0xF, (packed &>> 12) & 0xF) &- 8
            // The lanes hold integers below 2¹⁵: their float sum is exact.
            sum = sum.addingProduct(xb.half(0) * yb.half(0), groupSums(even, odd, yb).sum())
        }
        return sum
    }

    /// Q4_1 weights · Q8_1 activations (40-byte blocks: d, s as f32, 32 bytes): each block's integer sum is
    /// exact; d·dy·Σ in one fused chain, m·s in another, then their sum (the AVX2 kernels' order).
    public static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0, offsets: Float = 0
        for b in 0..<blocks {
            let xb = x + 20 * b, yb = y + 40 * b
            let packed = unsafeBitCast(xb.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self), to: SIMD8<Int16>.self)
            let even = joined(packed & 0xF, (packed &>> 4) & 0xF), odd = joined((packed &>> 8) & 0xF, (packed &>> 12) & 0xF)
            let (yEven, yOdd) = signedBytes(yb, 8)
            let integer = pairSums(even &* yEven &+ odd &* yOdd).wrappedSum()  // |q·y| ≤ 15·128: two fit in 16 bits
            sum = sum.addingProduct(xb.half(0) * yb.float(0), Float(integer))
            offsets = offsets.addingProduct(xb.half(2), yb.float(4))
        }
        return sum + offsets
    }

    /// Q2_K weights · Q8_K activations, ReferenceDot.q2_K's result bit for bit (exact integer sums). Per
    /// 128-element half and 2-bit position s, the same 32 bytes hold groups 8·half + 2s and the next one.
    public static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 84 * b, yb = y + 292 * b
            var integer = SIMD8<Int32>(), mins: Int32 = 0
            for half in 0..<2 {
                let words = xb.loadUnaligned(fromByteOffset: 16 + 32 * half, as: SIMD16<Int16>.self)
                for position in 0..<4 {
                    let group = 8 * half + 2 * position, shift = Int16(2 * position)
                    let (yEven, yOdd) = signedBytes(yb, 4 + 16 * group)
                    // |q·y| ≤ 3·128; lanes 0…3 are the first group's 16 elements, 4…7 the second's.
                    let products = pairSums(((words &>> shift) & 3) &* yEven &+ ((words &>> (8 + shift)) & 3) &* yOdd)
                    let first = xb.byte(group), second = xb.byte(group + 1)
                    integer &+= products &* groupPair(Int32(first & 0x0F), Int32(second & 0x0F))
                    mins += Int32(first >> 4) * Int32(yb.int16(260 + 2 * group)) + Int32(second >> 4) * Int32(yb.int16(262 + 2 * group))
                }
            }
            let d = yb.float(0) * xb.half(80), dmin = yb.float(0) * xb.half(82)
            sum += d * Float(integer.wrappedSum()) - dmin * Float(mins)
        }
        return sum
    }

    /// Q3_K weights · Q8_K activations, ReferenceDot.q3_K's result bit for bit: Q2_K's low bits, minus 4
    /// where the group's hmask bit is clear, signed 6-bit scales.
    public static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 110 * b, yb = y + 292 * b
            let mask = xb.loadUnaligned(fromByteOffset: 0, as: SIMD16<Int16>.self)
            var integer = SIMD8<Int32>()
            for half in 0..<2 {
                let words = xb.loadUnaligned(fromByteOffset: 32 + 32 * half, as: SIMD16<Int16>.self)
                for position in 0..<4 {
                    let group = 8 * half + 2 * position, shift = Int16(2 * position), bit = Int16(group / 2)
                    let qEven = ((words &>> shift) & 3) &+ (((mask &>> bit) & 1) &<< 2) &- 4
                    let qOdd = ((words &>> (8 + shift)) & 3) &+ (((mask &>> (8 + bit)) & 1) &<< 2) &- 4
                    let (yEven, yOdd) = signedBytes(yb, 4 + 16 * group)
                    let products = pairSums(qEven &* yEven &+ qOdd &* yOdd)  // |q·y| ≤ 4·128
                    integer &+= products &* groupPair(scaleQ3K(xb + 96, group), scaleQ3K(xb + 96, group + 1))
                }
            }
            sum += (xb.half(108) * yb.float(0)) * Float(integer.wrappedSum())
        }
        return sum
    }

    /// Lanes 0…3 `first`, 4…7 `second`: the scales of two 16-element groups against pairSums' lanes.
    @inline(__always)
    static func groupPair(_ first: Int32, _ second: Int32) -> SIMD8<Int32> {
        SIMD8(first, first, first, first, second, second, second, second)
    }

    /// Q4_K weights · Q8_K activations. Each super-block's integer sums are exact, so the result is
    /// ReferenceDot.q4_K's, bit for bit: the same float operations on the same integers.
    public static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        kQuant4or5(x, y, blocks, fifthBit: false)
    }

    /// Q5_K weights · Q8_K activations: Q4_K plus a fifth bit (bit `sub` of qh[l] for element l of
    /// sub-block `sub`); ReferenceDot.q5_K's result bit for bit.
    public static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        kQuant4or5(x, y, blocks, fifthBit: true)
    }

    /// Q4_K (144-byte blocks, quants @16) or Q5_K (176 bytes, qh @16, quants @48).
    @inline(__always)
    static func kQuant4or5(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int, fifthBit: Bool) -> Float {
        let blockBytes = fifthBit ? 176 : 144, quants = fifthBit ? 48 : 16
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + blockBytes * b, yb = y + 292 * b
            let highWords = fifthBit ? xb.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int16>.self) : SIMD16()
            var integer = SIMD8<Int32>(), mins: Int32 = 0
            for chunk in 0..<4 {
                // Sub-blocks 2·chunk (low nibbles) and 2·chunk + 1 (high nibbles) of the same 32 bytes.
                let words = xb.loadUnaligned(fromByteOffset: quants + 32 * chunk, as: SIMD16<Int16>.self)
                let (low, lowMin) = scaleAndMinK4(xb + 4, 2 * chunk), (high, highMin) = scaleAndMinK4(xb + 4, 2 * chunk + 1)
                let (y0Even, y0Odd) = signedBytes(yb, 4 + 64 * chunk), (y1Even, y1Odd) = signedBytes(yb, 36 + 64 * chunk)
                let bit0 = Int16(2 * chunk), bit1 = Int16(2 * chunk + 1)
                @inline(__always) func fifth(_ shift: Int16) -> SIMD16<Int16> {
                    fifthBit ? ((highWords &>> shift) & 1) &<< 4 : SIMD16()
                }
                // |q·y| ≤ 31·128, two of them fit in 16 bits.
                let lowProducts = ((words & 0xF) | fifth(bit0)) &* y0Even &+ (((words &>> 8) & 0xF) | fifth(8 + bit0)) &* y0Odd
                let highProducts = (((words &>> 4) & 0xF) | fifth(bit1)) &* y1Even
                    &+ (((words &>> 12) & 0xF) | fifth(8 + bit1)) &* y1Odd
                integer &+= SIMD8(repeating: low) &* pairSums(lowProducts) &+ SIMD8(repeating: high) &* pairSums(highProducts)
                mins += lowMin * (Int32(yb.int16(260 + 8 * chunk)) + Int32(yb.int16(262 + 8 * chunk)))
                mins += highMin * (Int32(yb.int16(264 + 8 * chunk)) + Int32(yb.int16(266 + 8 * chunk)))
            }
            let d = yb.float(0) * xb.half(0), dmin = yb.float(0) * xb.half(2)
            sum += d * Float(integer.wrappedSum()) - dmin * Float(mins)
        }
        return sum
    }

    /// Q6_K weights · Q8_K activations, ReferenceDot.q6_K's result bit for bit (exact integer sums).
    public static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0..<blocks {
            let xb = x + 210 * b, yb = y + 292 * b
            var integer = SIMD8<Int32>()
            for half in 0..<2 {
                let ql = 64 * half, qh = 128 + 32 * half, sc = 192 + 8 * half, out = 4 + 128 * half
                let highWords = xb.loadUnaligned(fromByteOffset: qh, as: SIMD16<Int16>.self)
                for quarter in 0..<4 {
                    // Elements l of this quarter: a nibble of ql[l] or ql[l+32], bits 2·quarter… of qh[l].
                    let lowWords = xb.loadUnaligned(fromByteOffset: ql + 32 * (quarter % 2), as: SIMD16<Int16>.self)
                    let nibble = Int16(4 * (quarter / 2)), bits = Int16(2 * quarter)
                    let qEven = (((lowWords &>> nibble) & 0xF) | (((highWords &>> bits) & 3) &<< 4)) &- 32
                    let qOdd = (((lowWords &>> (8 + nibble)) & 0xF) | (((highWords &>> (8 + bits)) & 3) &<< 4)) &- 32
                    let (yEven, yOdd) = signedBytes(yb, out + 32 * quarter)
                    // |q·y| ≤ 32·128, two of them fit in 16 bits. Lanes 0…3 are elements 0…15 (scale
                    // 2·quarter), lanes 4…7 elements 16…31 (the next scale).
                    let products = pairSums(qEven &* yEven &+ qOdd &* yOdd)
                    integer &+= products &* groupPair(Int32(xb.signedByte(sc + 2 * quarter)), Int32(xb.signedByte(sc + 2 * quarter + 1)))
                }
            }
            sum += (xb.half(208) * yb.float(0)) * Float(integer.wrappedSum())
        }
        return sum
    }

    /// 32-bit lane g of the sums of 16-bit lanes 2g and 2g+1 (sign-extended by arithmetic shifts).
    @inline(__always)
    static func pairSums(_ p: SIMD16<Int16>) -> SIMD8<Int32> {
        let lanes = unsafeBitCast(p, to: SIMD8<Int32>.self)
        return ((lanes &<< 16) &>> 16) &+ (lanes &>> 16)
    }

    /// The 32 signed bytes at `offset` as 16-bit lanes: columns 2k (even) and 2k+1 (odd). Shifts and
    /// 16-bit multiplies only, which SSE2 and NEON both have: the generic SIMD widening conversions
    /// become per-lane loops on baseline x86-64 and out-of-line calls on arm64.
    @inline(__always)
    static func signedBytes(_ p: UnsafeRawPointer, _ offset: Int) -> (even: SIMD16<Int16>, odd: SIMD16<Int16>) {
        let words = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int16>.self)
        return ((words &<< 8) &>> 8, words &>> 8)  // arithmetic shifts sign-extend
    }

    /// Two 8-lane halves as one 16-lane vector (the standard library's lowHalf/highHalf initialiser is a
    /// per-lane loop on x86-64).
    @inline(__always)
    static func joined(_ low: SIMD8<Int16>, _ high: SIMD8<Int16>) -> SIMD16<Int16> {
        unsafeBitCast((low, high), to: SIMD16<Int16>.self)
    }

    /// Σ x[j]·y[j] over each group of 4 columns of one block, y the Q8_0 block at `y`, as floats (exact:
    /// |sum| ≤ 4·128²).
    @inline(__always)
    static func groupSums(_ xEven: SIMD16<Int16>, _ xOdd: SIMD16<Int16>, _ y: UnsafeRawPointer) -> SIMD8<Float> {
        let (yEven, yOdd) = signedBytes(y, 2)
        // 32-bit lane g: the products of columns 4g and 4g+2 (even) or 4g+1 and 4g+3 (odd).
        return SIMD8<Float>(pairSums(xEven &* yEven) &+ pairSums(xOdd &* yOdd))
    }

    /// ((g0 + g4) + (g2 + g6)) + ((g1 + g5) + (g3 + g7)).
    @inline(__always)
    static func fold(_ c: SIMD8<Float>) -> Float {
        let quad = c.lowHalf + c.highHalf, pair = quad.lowHalf + quad.highHalf
        return pair[0] + pair[1]
    }

    /// F16 weights · F16 activations over `count` elements, in the single-token order (`batch` false) or the
    /// batch order. Products of two F16 values are exact in f32, so plain multiply-adds round as fused ones.
    public static func f16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int, batch: Bool) -> Float {
        #if arch(arm64)
        @inline(__always) func product(_ i: Int) -> SIMD16<Float> { halves(x, 2 * i) * halves(y, 2 * i) }
        if batch {
            // Element i in chain i % 16.
            var c = SIMD16<Float>()
            let whole = count & ~15
            for i in stride(from: 0, to: whole, by: 16) { c += product(i) }
            for i in whole..<count { c[i - whole] += x.half(2 * i) * y.half(2 * i) }
            return tree(c)
        }
        // Element i < whole in chain i % 64; the rest one by one in double.
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        let whole = count & ~63
        for i in stride(from: 0, to: whole, by: 64) {
            c0 += product(i); c1 += product(i + 16); c2 += product(i + 32); c3 += product(i + 48)
        }
        let total = tree((c0 + c2) + (c1 + c3))
        guard whole < count else { return total }
        var wide = Double(total)
        for i in whole..<count { wide += Double(x.half(2 * i) * y.half(2 * i)) }
        return Float(wide)
        #else
        // Without F16C (x86-64 before AVX2) a vector of halves has no cheap widening: the scalar definition.
        return Attention.sum(count, batch ? .chains16 : .singleToken(count)) { x.half(2 * $0) * y.half(2 * $0) }
        #endif
    }

    #if arch(arm64)
    /// The 16-lane tree of Attention.SummationOrder: k plus k+8, then 4 apart, 2 apart, 1 apart.
    @inline(__always)
    static func tree(_ c: SIMD16<Float>) -> Float {
        let eight = c.lowHalf + c.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// 16 IEEE halves at `offset`, widened exactly by the hardware (fcvtl) — lane by lane: the generic
    /// SIMD16 conversion stays an out-of-line call.
    @inline(__always)
    static func halves(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Float> {
        let h = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float16>.self)
        @inline(__always) func quad(_ i: Int) -> SIMD4<Float> {
            SIMD4(Float(h[i]), Float(h[i + 1]), Float(h[i + 2]), Float(h[i + 3]))
        }
        return SIMD16(lowHalf: SIMD8(lowHalf: quad(0), highHalf: quad(4)), highHalf: SIMD8(lowHalf: quad(8), highHalf: quad(12)))
    }
    #endif
}
