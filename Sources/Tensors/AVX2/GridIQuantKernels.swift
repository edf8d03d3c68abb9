#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsGrids

// The grid I-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) in AVX2.
//
// Each 32-value chunk of a super-block is decoded into two registers: magnitudes (unsigned bytes: grid
// values, or |8·g ± 1| for IQ1) and signs (bytes whose sign is the value's, never zero), plus the two
// 16-value scales and the super-block's d' — the integer form of IQuants.decode (BlockLayouts.swift has
// the layouts). The row dot multiplies magnitudes by activations carrying the signs (maddubs wants one
// unsigned operand), as the IQ4_XS kernel does; the super-block panels store magnitude · sign and reuse the
// signed-format kernels. Grid entries are loaded 8 (or 4) values at a time by index.

/// The grids as raw pointers, copied once from IQuantGrids (process lifetime).
struct GridTables: @unchecked Sendable {
    let iq2xxs: UnsafePointer<UInt64>, iq2xs: UnsafePointer<UInt64>, iq2s: UnsafePointer<UInt64>
    let iq1s: UnsafePointer<UInt64>, iq3xxs: UnsafePointer<UInt32>, iq3s: UnsafePointer<UInt32>

    static let shared = GridTables()

    private init() {
        func copy<T>(_ array: [T]) -> UnsafePointer<T> {
            let pointer = UnsafeMutablePointer<T>.allocate(capacity: array.count)
            pointer.initialize(from: array, count: array.count)
            return UnsafePointer(pointer)
        }
        iq2xxs = copy(IQuantGrids.iq2xxs); iq2xs = copy(IQuantGrids.iq2xs); iq2s = copy(IQuantGrids.iq2s)
        iq1s = copy(IQuantGrids.iq1s); iq3xxs = copy(IQuantGrids.iq3xxs); iq3s = copy(IQuantGrids.iq3s)
    }
}

extension SuperBlockFormat {
    public var isGrid: Bool {
        switch self {
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: true
        default: false
        }
    }
}

/// Four 7-bit sign indices (bits 0, 7, 14, 21 of `word`) as four bytes of 8 sign bits, the eighth bit of
/// each making its count of ones even (IQ2_XXS, IQ2_XS, IQ3_XXS).
@inline(__always)
func evenSignBytes(_ word: UInt32) -> UInt32 {
    let x = (word & 0x7F) | (word >> 7 & 0x7F) << 8 | (word >> 14 & 0x7F) << 16 | (word >> 21 & 0x7F) << 24
    var parity = x ^ (x >> 4)  // bit 0 of each byte ends up the parity of that byte's low 7 bits
    parity ^= parity >> 2
    parity ^= parity >> 1
    return x | (parity & 0x0101_0101) << 7
}

/// ±1 per byte: −1 where the bit (bit i → byte i) is set.
@inline(__always)
func signsFromBits(_ bits: UInt32) -> __m256i {
    _mm256_or_si256(bytesFromBits(bits), _mm256_set1_epi8(1))
}

@inline(__always)
func gridEntries(_ grid: UnsafePointer<UInt64>, _ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> __m256i {
    _mm256_set_epi64x(Int64(bitPattern: grid[i3]), Int64(bitPattern: grid[i2]),
                      Int64(bitPattern: grid[i1]), Int64(bitPattern: grid[i0]))
}

@inline(__always)
func gridEntries(_ grid: UnsafePointer<UInt32>, _ index: (Int) -> Int) -> __m256i {
    @inline(__always) func e(_ k: Int) -> Int32 { Int32(bitPattern: grid[index(k)]) }
    return _mm256_set_epi32(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0))
}

/// IQ1: 8·g + shift as bytes (g ∈ {−1, 0, 1} from the grid, shift ±1 per byte).
@inline(__always)
func iq1Values(_ entries: __m256i, _ shifts: __m256i) -> __m256i {
    _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), entries), shifts)
}

/// One decoded 32-value chunk.
struct GridChunk {
    var magnitudes: __m256i
    var signs: __m256i
    var scaleLow: Int16   // values 0-15
    var scaleHigh: Int16  // values 16-31
}

extension AVX2GEMM {
    /// The super-block's d' (see IQuants.decode).
    @inline(__always)
    static func gridScale(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer) -> Float {
        switch format {
        case .iq2_xxs, .iq2_xs, .iq2_s, .iq1_s: return half(xb, 0) * 0.125
        case .iq3_xxs: return half(xb, 0) * 0.25
        case .iq3_s: return half(xb, 0)
        case .iq1_m:
            let words = xb.loadUnaligned(fromByteOffset: 48, as: UInt64.self)
            let w0 = UInt16(truncatingIfNeeded: words), w1 = UInt16(truncatingIfNeeded: words >> 16)
            let w2 = UInt16(truncatingIfNeeded: words >> 32), w3 = UInt16(truncatingIfNeeded: words >> 48)
            let bits = w0 >> 12 | (w1 >> 8) & 0x00F0 | (w2 >> 4) & 0x0F00 | w3 & 0xF000
            return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(Int32(bits)))) * 0.125
        default: return .nan
        }
    }

    /// Chunk `sub` (values 32·sub ..< 32·sub + 32) of a grid I-quant super-block.
    @inline(__always)
    static func gridChunk(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ sub: Int, _ t: GridTables) -> GridChunk {
        @inline(__always) func byte(_ offset: Int) -> Int { Int(xb.load(fromByteOffset: offset, as: UInt8.self)) }
        @inline(__always) func word(_ offset: Int) -> UInt32 { xb.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        switch format {
        case .iq2_xxs:
            let indices = Int(word(2 + 8 * sub)), signWord = word(6 + 8 * sub)
            let entries = gridEntries(t.iq2xxs, indices & 255, indices >> 8 & 255, indices >> 16 & 255, indices >> 24 & 255)
            let scale = Int16(2 * (signWord >> 28) + 1)
            return GridChunk(magnitudes: entries, signs: signsFromBits(evenSignBytes(signWord)), scaleLow: scale, scaleHigh: scale)
        case .iq2_xs:
            let q = xb.loadUnaligned(fromByteOffset: 2 + 8 * sub, as: UInt64.self)
            let q0 = Int(q & 0xFFFF), q1 = Int(q >> 16 & 0xFFFF), q2 = Int(q >> 32 & 0xFFFF), q3 = Int(q >> 48)
            let entries = gridEntries(t.iq2xs, q0 & 511, q1 & 511, q2 & 511, q3 & 511)
            let packed = UInt32(q0 >> 9) | UInt32(q1 >> 9) << 7 | UInt32(q2 >> 9) << 14 | UInt32(q3 >> 9) << 21
            let scales = byte(66 + sub)
            return GridChunk(magnitudes: entries, signs: signsFromBits(evenSignBytes(packed)),
                             scaleLow: Int16(2 * (scales & 15) + 1), scaleHigh: Int16(2 * (scales >> 4) + 1))
        case .iq2_s:
            let high = byte(66 + sub), base = 2 + 4 * sub
            let entries = gridEntries(t.iq2s, byte(base) | (high << 8 & 0x300), byte(base + 1) | (high << 6 & 0x300),
                                      byte(base + 2) | (high << 4 & 0x300), byte(base + 3) | (high << 2 & 0x300))
            let scales = byte(74 + sub)
            return GridChunk(magnitudes: entries, signs: signsFromBits(word(34 + 4 * sub)),
                             scaleLow: Int16(2 * (scales & 15) + 1), scaleHigh: Int16(2 * (scales >> 4) + 1))
        case .iq3_xxs:
            let base = 2 + 8 * sub, signWord = word(66 + 4 * sub)
            let entries = gridEntries(t.iq3xxs) { byte(base + $0) }
            let scale = Int16(2 * (signWord >> 28) + 1)
            return GridChunk(magnitudes: entries, signs: signsFromBits(evenSignBytes(signWord)), scaleLow: scale, scaleHigh: scale)
        case .iq3_s:
            let high = byte(66 + sub), base = 2 + 8 * sub
            let entries = gridEntries(t.iq3s) { byte(base + $0) | (high << (8 - $0) & 0x100) }
            let scale = Int16(2 * (byte(106 + sub / 2) >> (4 * (sub % 2)) & 15) + 1)
            return GridChunk(magnitudes: entries, signs: signsFromBits(word(74 + 4 * sub)), scaleLow: scale, scaleHigh: scale)
        case .iq1_s:
            let high = Int(xb.loadUnaligned(fromByteOffset: 34 + 2 * sub, as: UInt16.self)), base = 2 + 4 * sub
            let entries = gridEntries(t.iq1s, byte(base) | (high << 8 & 0x700), byte(base + 1) | (high << 5 & 0x700),
                                      byte(base + 2) | (high << 2 & 0x700), byte(base + 3) | (high >> 1 & 0x700))
            let values = iq1Values(entries, _mm256_set1_epi8(high & 0x8000 != 0 ? -1 : 1))
            let scale = Int16(2 * (high >> 12 & 7) + 1)
            return GridChunk(magnitudes: _mm256_abs_epi8(values), signs: values, scaleLow: scale, scaleHigh: scale)
        case .iq1_m:
            let h0 = byte(32 + 2 * sub), h1 = byte(33 + 2 * sub), base = 4 * sub
            let entries = gridEntries(t.iq1s, byte(base) | (h0 << 8 & 0x700), byte(base + 1) | (h0 << 4 & 0x700),
                                      byte(base + 2) | (h1 << 8 & 0x700), byte(base + 3) | (h1 << 4 & 0x700))
            @inline(__always) func shift(_ bit: Bool) -> Int64 { bit ? -1 : 0x0101_0101_0101_0101 }
            let shifts = _mm256_set_epi64x(shift(h1 & 0x80 != 0), shift(h1 & 0x08 != 0), shift(h0 & 0x80 != 0), shift(h0 & 0x08 != 0))
            let values = iq1Values(entries, shifts)
            let scaleWord = Int(xb.loadUnaligned(fromByteOffset: 48 + 2 * (sub / 2), as: UInt16.self)) >> (6 * (sub % 2))
            return GridChunk(magnitudes: _mm256_abs_epi8(values), signs: values,
                             scaleLow: Int16(2 * (scaleWord & 7) + 1), scaleHigh: Int16(2 * (scaleWord >> 3 & 7) + 1))
        default:
            return GridChunk(magnitudes: _mm256_setzero_si256(), signs: _mm256_set1_epi8(1), scaleLow: 0, scaleHigh: 0)
        }
    }

    /// A grid I-quant super-block into the panels' stored form (values with their signs, scales per 16
    /// values, no offsets); returns (d', 0).
    @inline(__always)
    static func unpackGrid(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ values: UnsafeMutableRawPointer,
                           _ scales: UnsafeMutablePointer<Int16>, _ offsets: UnsafeMutablePointer<Int16>) -> (Float, Float) {
        let tables = GridTables.shared
        var sub = 0
        while sub < 8 {
            let chunk = gridChunk(format, xb, sub, tables)
            (values + 32 * sub).storeBytes(of: _mm256_sign_epi8(chunk.magnitudes, chunk.signs), as: __m256i.self)
            scales[2 * sub] = chunk.scaleLow
            scales[2 * sub + 1] = chunk.scaleHigh
            offsets[2 * sub] = 0
            offsets[2 * sub + 1] = 0
            sub += 1
        }
        return (gridScale(format, xb), 0)
    }
}

extension AVX2Dot {
    /// A grid I-quant row · Q8_K.
    public static func gridIQuant(_ format: SuperBlockFormat, _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        switch format {
        case .iq1_s: gridRow(IQ1SPanel.self, x, y, blocks)
        case .iq1_m: gridRow(IQ1MPanel.self, x, y, blocks)
        case .iq2_xxs: gridRow(IQ2XXSPanel.self, x, y, blocks)
        case .iq2_xs: gridRow(IQ2XSPanel.self, x, y, blocks)
        case .iq2_s: gridRow(IQ2SPanel.self, x, y, blocks)
        case .iq3_xxs: gridRow(IQ3XXSPanel.self, x, y, blocks)
        case .iq3_s: gridRow(IQ3SPanel.self, x, y, blocks)
        default: .nan
        }
    }

    @inline(__always)
    private static func gridRow<K: SuperBlockKind>(_ kind: K.Type, _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let format = K.format, tables = GridTables.shared
        var acc = _mm256_setzero_ps()
        var b = 0
        while b < blocks {
            let xb = x + format.blockBytes * b, yb = y + 292 * b
            var sums = _mm256_setzero_si256()
            var sub = 0
            while sub < 8 {
                let chunk = AVX2GEMM.gridChunk(format, xb, sub, tables)
                let products = _mm256_maddubs_epi16(chunk.magnitudes, _mm256_sign_epi8(load256(yb + 4 + 32 * sub), chunk.signs))
                let scales = _mm256_set_m128i(_mm_set1_epi16(chunk.scaleHigh), _mm_set1_epi16(chunk.scaleLow))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(products, scales))
                sub += 1
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * AVX2GEMM.gridScale(format, xb)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }
}
#endif
