// Runs the portable kernels (what arm64 executes: PortableDot, the reference dots, Attention's scalar sums,
// the scalar exp) on fixed pseudo-random blocks and prints every result's bit pattern, one per line. Built
// twice by Tools/arm64-check/run.sh — for aarch64 (run under qemu-aarch64) and for x86-64 — from the same
// sources; the two outputs must be identical, bit for bit, or the golden logits would differ on arm64.
// (F16 compares two implementations: PortableDot's NEON code on aarch64, the scalar definition on x86-64.)
// Embedded Swift (no runtime library needed), so it needs no arm64 Swift SDK.

/// xorshift64*: the same stream on every machine.
struct Stream {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 32) }
    /// A finite half in ±[2^-10, 2^10).
    mutating func half() -> UInt16 {
        let r = next()
        let exponent = UInt16(5 + (r >> 40) % 20)  // biased 5..24
        return UInt16(truncatingIfNeeded: r >> 63) << 15 | exponent << 10 | UInt16(truncatingIfNeeded: r) & 0x3FF
    }
    /// A float in [-8, 8) with 24 random bits.
    mutating func float() -> Float { Float(Int32(truncatingIfNeeded: next() >> 40) - 1 << 23) * 0x1p-20 }
    /// A finite bfloat16: the high half of such a float.
    mutating func brainFloat() -> UInt16 { UInt16(truncatingIfNeeded: float().bitPattern >> 16) }
}

/// `blocks` blocks of `size` random bytes, with the half-precision fields at `halves` set to finite
/// values and the f32 fields at `floats` to finite floats.
func blocks(_ count: Int, size: Int, halves: [Int] = [], floats: [Int] = [], brainFloats: [Int] = [],
            _ s: inout Stream) -> UnsafeMutableRawPointer {
    let p = UnsafeMutableRawPointer.allocate(byteCount: count * size + 64, alignment: 64)
    for i in 0..<(count * size + 64) { p.storeBytes(of: s.byte(), toByteOffset: i, as: UInt8.self) }
    for b in 0..<count {
        for h in halves { p.storeBytes(of: s.half(), toByteOffset: b * size + h, as: UInt16.self) }
        for f in floats { p.storeBytes(of: s.float(), toByteOffset: b * size + f, as: Float.self) }
        for h in brainFloats { p.storeBytes(of: s.brainFloat(), toByteOffset: b * size + h, as: UInt16.self) }
    }
    return p
}

func hex(_ v: UInt32) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    var s = ""
    for k in stride(from: 28, through: 0, by: -4) { s.append(digits[Int((v >> UInt32(k)) & 15)]) }
    return s
}

func emit(_ name: String, _ n: Int, _ value: Float) { print(name + " " + String(n) + " " + hex(value.bitPattern)) }
func emit(_ name: String, _ n: Int, _ value: Double) {
    let bits = value.bitPattern
    print(name + " " + String(n) + " " + hex(UInt32(truncatingIfNeeded: bits >> 32)) + hex(UInt32(truncatingIfNeeded: bits)))
}

@main
struct Harness {
    static func main() {
        var s = Stream()
        // Legacy 32-element formats against Q8_0 / Q8_1 activations, 1…96 blocks.
        for n in [1, 2, 3, 7, 8, 64, 96] {
            let q8 = UnsafeRawPointer(blocks(n, size: 34, halves: [0], &s))
            let q81 = UnsafeRawPointer(blocks(n, size: 40, floats: [0, 4], &s))
            emit("portable.q8_0", n, PortableDot.q8_0(UnsafeRawPointer(blocks(n, size: 34, halves: [0], &s)), q8, n))
            emit("portable.q4_0", n, PortableDot.q4_0(UnsafeRawPointer(blocks(n, size: 18, halves: [0], &s)), q8, n))
            emit("reference.q8_0", n, ReferenceDot.q8_0(UnsafeRawPointer(blocks(n, size: 34, halves: [0], &s)), q8, n))
            emit("reference.q4_0", n, ReferenceDot.q4_0(UnsafeRawPointer(blocks(n, size: 18, halves: [0], &s)), q8, n))
            let q41 = UnsafeRawPointer(blocks(n, size: 20, halves: [0, 2], &s))
            emit("reference.q4_1", n, ReferenceDot.q4_1(q41, q81, n))
            emit("portable.q4_1", n, PortableDot.q4_1(q41, q81, n))
            emit("reference.q5_0", n, ReferenceDot.q5_0(UnsafeRawPointer(blocks(n, size: 22, halves: [0], &s)), q8, n))
            emit("reference.q5_1", n, ReferenceDot.q5_1(UnsafeRawPointer(blocks(n, size: 24, halves: [0, 2], &s)), q81, n))
            emit("reference.iq4_nl", n, ReferenceDot.iq4_nl(UnsafeRawPointer(blocks(n, size: 18, halves: [0], &s)), q8, n))
        }
        // K-quants against Q8_K, 1…8 super-blocks.
        for n in [1, 2, 3, 8] {
            let q8K = UnsafeRawPointer(blocks(n, size: 292, floats: [0], &s))
            let q2K = UnsafeRawPointer(blocks(n, size: 84, halves: [80, 82], &s))
            emit("reference.q2_K", n, ReferenceDot.q2_K(q2K, q8K, n))
            emit("portable.q2_K", n, PortableDot.q2_K(q2K, q8K, n))
            let q3K = UnsafeRawPointer(blocks(n, size: 110, halves: [108], &s))
            emit("reference.q3_K", n, ReferenceDot.q3_K(q3K, q8K, n))
            emit("portable.q3_K", n, PortableDot.q3_K(q3K, q8K, n))
            let q4K = UnsafeRawPointer(blocks(n, size: 144, halves: [0, 2], &s))
            emit("reference.q4_K", n, ReferenceDot.q4_K(q4K, q8K, n))
            emit("portable.q4_K", n, PortableDot.q4_K(q4K, q8K, n))
            let q5K = UnsafeRawPointer(blocks(n, size: 176, halves: [0, 2], &s))
            emit("reference.q5_K", n, ReferenceDot.q5_K(q5K, q8K, n))
            emit("portable.q5_K", n, PortableDot.q5_K(q5K, q8K, n))
            let q6K = UnsafeRawPointer(blocks(n, size: 210, halves: [208], &s))
            emit("reference.q6_K", n, ReferenceDot.q6_K(q6K, q8K, n))
            emit("portable.q6_K", n, PortableDot.q6_K(q6K, q8K, n))
            emit("reference.iq4_xs", n, ReferenceDot.iq4_xs(UnsafeRawPointer(blocks(n, size: 136, halves: [0], &s)), q8K, n))
        }
        // Float formats: F16 in both summation orders, lengths around the 16- and 64-element boundaries.
        for n in [1, 15, 16, 17, 63, 64, 65, 128, 200, 2048] {
            let x = UnsafeRawPointer(blocks(n, size: 2, halves: [0], &s)), y = UnsafeRawPointer(blocks(n, size: 2, halves: [0], &s))
            emit("portable.f16.single", n, PortableDot.f16(x, y, n, batch: false))
            emit("portable.f16.batch", n, PortableDot.f16(x, y, n, batch: true))
            emit("reference.f16", n, ReferenceDot.f16(x, y, n))
            let a = UnsafeRawPointer(blocks(n, size: 4, floats: [0], &s)), b = UnsafeRawPointer(blocks(n, size: 4, floats: [0], &s))
            emit("reference.f32", n, ReferenceDot.f32(a, b, n))
            emit("reference.bf16", n, ReferenceDot.bf16(UnsafeRawPointer(blocks(n, size: 2, brainFloats: [0], &s)),
                                                       UnsafeRawPointer(blocks(n, size: 2, brainFloats: [0], &s)), n))
        }
        // Attention over an F16 cache: scores and weighted sums in both orders (the scalar loops).
        let headDim = 64, length = 77
        let query = UnsafeMutablePointer<Float>.allocate(capacity: headDim)
        for d in 0..<headDim { query[d] = Attention.roundedToHalf(s.float() * 0.25) }
        let cache = blocks(length * headDim, size: 2, &s).assumingMemoryBound(to: UInt16.self)
        for i in 0..<(length * headDim) { cache[i] = Float16(s.float() * 0.25).bitPattern }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: length)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: headDim)
        for (name, order) in [("chains16", Attention.SummationOrder.chains16), ("blocks64", .singleToken(headDim))] {
            Attention.scores(query, UnsafeRawPointer(cache).assumingMemoryBound(to: Float16.self), stride: headDim, length: length, headDim: headDim, order: order, scale: 0.125, into: scores)
            for t in 0..<length { emit("attention.scores." + name, t, scores[t]) }
            var maximum = -Float.infinity
            for t in 0..<length { maximum = max(maximum, scores[t]) }
            let total = Activations.softmaxExp(scores, count: length, maximum: maximum, vectorized: false)
            emit("softmax.sum." + name, length, total)
            for t in 0..<length { emit("softmax.exp." + name, t, scores[t]) }
            Attention.weightedSum(scores, UnsafeRawPointer(cache).assumingMemoryBound(to: Float16.self), stride: headDim, length: length, headDim: headDim,
                                  order: name == "chains16" ? order : .singleToken(length), into: out)
            for d in 0..<headDim { emit("attention.sum." + name, d, out[d]) }
        }
        // SiLU · up over a row with a tail (the vector groups and the libm tail).
        let width = 90
        let gate = UnsafeMutablePointer<Float>.allocate(capacity: width), up = UnsafeMutablePointer<Float>.allocate(capacity: width)
        for i in 0..<width { gate[i] = s.float() * 8; up[i] = s.float() }
        Activations.swiGLU(gate: gate, up: up, width: width, rows: 1, vectorized: false)
        for i in 0..<width { emit("swiglu", i, gate[i]) }
        // GELU(gate) · up from the F16 table (libm tanhf builds the table; the saturated ends included).
        for i in 0..<width { gate[i] = s.float() * 24; up[i] = s.float() }
        Activations.geGLU(gate: gate, up: up, width: width, rows: 1)
        for i in 0..<width { emit("geglu", i, gate[i]) }
    }
}
