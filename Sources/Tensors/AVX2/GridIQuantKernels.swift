#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsGrids
import CPrefetch

// The grid I-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) in AVX2.
//
// Each 32-value chunk of a super-block is decoded into two registers: magnitudes (unsigned bytes: grid
// values, or |8·g ± 1| for IQ1) and signs (bytes whose sign is the value's, never zero), plus the two
// 16-value scales and the super-block's d' — the integer form of IQuants.decode (BlockLayouts.swift has
// the layouts). The row dot multiplies magnitudes by activations carrying the signs (maddubs wants one
// unsigned operand), as the IQ4_XS kernel does; the super-block panels store magnitude · sign and reuse the
// signed-format kernels. Grid entries are loaded 8 (or 4) values at a time by index.

/// The grids as raw pointers, copied once from IQuantGrids (process lifetime), and the 128 "even sign"
/// patterns as ±1 bytes (a 7-bit index plus the bit that makes its count of ones even; −1 where set).
@usableFromInline struct GridTables: @unchecked Sendable {
    @usableFromInline let iq2xxs: UnsafePointer<UInt64>, iq2xs: UnsafePointer<UInt64>, iq2s: UnsafePointer<UInt64>
    @usableFromInline let iq1s: UnsafePointer<UInt64>, iq3xxs: UnsafePointer<UInt32>, iq3s: UnsafePointer<UInt32>
    /// The IQ1 grid as 8·(g + 1) bytes (0, 8, 16): what the IQ1 row dots multiply, unsigned, with the activations.
    @usableFromInline let iq1sEightfold: UnsafePointer<UInt64>
    @usableFromInline let evenSigns: UnsafePointer<UInt64>
    /// Chunk c's shuffle of a prepass's scale bytes: int16 lanes 0-7 ← byte 2c, lanes 8-15 ← byte 2c + 1.
    @usableFromInline let scaleControls: UnsafePointer<UInt8>

    @usableFromInline static let shared = GridTables()

    private init() {
        func copy<T>(_ array: [T]) -> UnsafePointer<T> {
            let pointer = UnsafeMutablePointer<T>.allocate(capacity: array.count)
            pointer.initialize(from: array, count: array.count)
            return UnsafePointer(pointer)
        }
        iq2xxs = copy(IQuantGrids.iq2xxs); iq2xs = copy(IQuantGrids.iq2xs); iq2s = copy(IQuantGrids.iq2s)
        iq1s = copy(IQuantGrids.iq1s); iq3xxs = copy(IQuantGrids.iq3xxs); iq3s = copy(IQuantGrids.iq3s)
        iq1sEightfold = copy(IQuantGrids.iq1s.map { (entry: UInt64) -> UInt64 in
            (0..<8).reduce(0) { $0 | UInt64(8 * (Int(Int8(truncatingIfNeeded: entry >> (8 * $1))) + 1)) << (8 * $1) }
        })
        evenSigns = copy((0..<128).map { (index: UInt64) -> UInt64 in
            let bits = index | UInt64(index.nonzeroBitCount & 1) << 7
            return (0..<8).reduce(0) { $0 | (bits >> $1 & 1 != 0 ? 0xFF : 0x01) << (8 * $1) }
        })
        scaleControls = copy((0..<256).map { (i: Int) -> UInt8 in
            let chunk = i / 32, lane = i % 32 / 16, byte = i % 2
            return byte == 0 ? UInt8(2 * chunk + lane) : 0x80
        })
    }

    /// ±1 bytes for four 7-bit sign indices (one per 8 values, lowest first).
    @inlinable @inline(__always)
    func signs(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> __m256i {
        _mm256_set_epi64x(Int64(bitPattern: evenSigns[i3]), Int64(bitPattern: evenSigns[i2]),
                          Int64(bitPattern: evenSigns[i1]), Int64(bitPattern: evenSigns[i0]))
    }

    /// The same for the four 7-bit fields at bits 0, 7, 14, 21 of `word`.
    @inlinable @inline(__always)
    func signs(_ word: UInt32) -> __m256i {
        let w = Int(word)
        return signs(w & 127, w >> 7 & 127, w >> 14 & 127, w >> 21 & 127)
    }
}

extension SuperBlockFormat {
    @inlinable public var isGrid: Bool {
        switch self {
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s: true
        default: false
        }
    }
}

/// ±1 per byte: −1 where the bit (bit i → byte i) is set.
@inlinable @inline(__always)
func signsFromBits(_ bits: UInt32) -> __m256i {
    _mm256_or_si256(bytesFromBits(bits), _mm256_set1_epi8(1))
}

@inlinable @inline(__always)
func gridEntries(_ grid: UnsafePointer<UInt64>, _ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> __m256i {
    _mm256_set_epi64x(Int64(bitPattern: grid[i3]), Int64(bitPattern: grid[i2]),
                      Int64(bitPattern: grid[i1]), Int64(bitPattern: grid[i0]))
}

@inlinable @inline(__always)
func gridEntries(_ grid: UnsafePointer<UInt32>, _ index: (Int) -> Int) -> __m256i {
    @inline(__always) func e(_ k: Int) -> Int32 { Int32(bitPattern: grid[index(k)]) }
    return _mm256_set_epi32(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0))
}

/// IQ1: 8·g + shift as bytes (g ∈ {−1, 0, 1} from the grid, shift ±1 per byte).
@inlinable @inline(__always)
func iq1Values(_ entries: __m256i, _ shifts: __m256i) -> __m256i {
    _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), entries), shifts)
}

/// One decoded 32-value chunk.
@usableFromInline struct GridChunk {
    @usableFromInline var magnitudes: __m256i
    @usableFromInline var signs: __m256i
    /// int16 lanes 0-7: the scale of values 0-15, lanes 8-15: of values 16-31 (what madd pairs with maddubs).
    @usableFromInline var scales: __m256i

    @inlinable init(magnitudes: __m256i, signs: __m256i, scales: __m256i) {
        self.magnitudes = magnitudes
        self.signs = signs
        self.scales = scales
    }
}

/// What a super-block's prepass leaves for its chunks: grid indices as UInt16, computed for all entries at once
/// with vector operations; a byte per entry or chunk in `signIndices` (IQ2_XS: each entry's 8 sign bits, IQ1_M:
/// each entry's ±1 shift, IQ1_S: each chunk's); and the 16 scales as bytes in both 128-bit lanes (`scales`;
/// chunk c shuffles out its two).
@usableFromInline struct GridPrepass {
    @usableFromInline var indices: UnsafeMutablePointer<UInt16>
    @usableFromInline var signIndices: UnsafeMutablePointer<UInt16>  // 32 bytes (see above)
    @usableFromInline var scales: __m256i

    @inlinable init(indices: UnsafeMutablePointer<UInt16>, signIndices: UnsafeMutablePointer<UInt16>, scales: __m256i) {
        self.indices = indices
        self.signIndices = signIndices
        self.scales = scales
    }
}

extension AVX2GEMM {
    /// The super-block's d' (see IQuants.decode).
    @inlinable @inline(__always)
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
    @inlinable @inline(__always)
    static func gridChunk(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ sub: Int, _ t: GridTables,
                          _ p: GridPrepass) -> GridChunk {
        @inline(__always) func byte(_ offset: Int) -> Int { Int(xb.load(fromByteOffset: offset, as: UInt8.self)) }
        @inline(__always) func word(_ offset: Int) -> UInt32 { xb.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        @inline(__always) func index(_ l: Int) -> Int { Int(p.indices[4 * sub + l]) }
        @inline(__always) func one(_ scale: Int) -> __m256i { _mm256_set1_epi16(Int16(truncatingIfNeeded: scale)) }
        @inline(__always) func pair() -> __m256i { _mm256_shuffle_epi8(p.scales, load256(t.scaleControls + 32 * sub)) }
        switch format {
        case .iq2_xxs:
            let indices = Int(word(2 + 8 * sub)), signWord = word(6 + 8 * sub)
            let entries = gridEntries(t.iq2xxs, indices & 255, indices >> 8 & 255, indices >> 16 & 255, indices >> 24 & 255)
            return GridChunk(magnitudes: entries, signs: t.signs(signWord), scales: one(Int(signWord >> 27) | 1))
        case .iq2_xs:
            let entries = gridEntries(t.iq2xs, index(0), index(1), index(2), index(3))
            let signBits = UnsafeRawPointer(p.signIndices).loadUnaligned(fromByteOffset: 4 * sub, as: UInt32.self)
            return GridChunk(magnitudes: entries, signs: signsFromBits(signBits), scales: pair())
        case .iq2_s:
            let entries = gridEntries(t.iq2s, index(0), index(1), index(2), index(3))
            return GridChunk(magnitudes: entries, signs: signsFromBits(word(34 + 4 * sub)), scales: pair())
        case .iq3_xxs:
            let base = 2 + 8 * sub, signWord = word(66 + 4 * sub)
            let entries = gridEntries(t.iq3xxs) { byte(base + $0) }
            return GridChunk(magnitudes: entries, signs: t.signs(signWord), scales: one(Int(signWord >> 27) | 1))
        case .iq3_s:
            let entries = gridEntries(t.iq3s) { Int(p.indices[8 * sub + $0]) }
            let scale = 2 * (byte(106 + sub / 2) >> (4 * (sub % 2)) & 15) + 1
            return GridChunk(magnitudes: entries, signs: signsFromBits(word(74 + 4 * sub)), scales: one(scale))
        case .iq1_s:
            let entries = gridEntries(t.iq1s, index(0), index(1), index(2), index(3))
            let shift = UnsafeRawPointer(p.signIndices).load(fromByteOffset: sub, as: Int8.self)
            let values = iq1Values(entries, _mm256_set1_epi8(shift))
            return GridChunk(magnitudes: _mm256_abs_epi8(values), signs: values, scales: pair())
        case .iq1_m:
            let entries = gridEntries(t.iq1s, index(0), index(1), index(2), index(3))
            // The prepass left each entry's shift (±1) as a byte: spread entry l's over its 8 values.
            let four = _mm256_set1_epi32(Int32(bitPattern: UnsafeRawPointer(p.signIndices).loadUnaligned(fromByteOffset: 4 * sub, as: UInt32.self)))
            let shifts = _mm256_shuffle_epi8(four, _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202,
                                                                     0x0101_0101_0101_0101, 0))
            let values = iq1Values(entries, shifts)
            return GridChunk(magnitudes: _mm256_abs_epi8(values), signs: values, scales: pair())
        default:
            return GridChunk(magnitudes: _mm256_setzero_si256(), signs: _mm256_set1_epi8(1), scales: _mm256_setzero_si256())
        }
    }

    /// The per-super-block work of IQ2_XS, IQ2_S, IQ1_S, IQ1_M and IQ3_S (see GridPrepass): their grid indices
    /// gather bits from two places, done here for 16 entries per vector instead of per entry in scalar code.
    /// `indices` holds 64 UInt16 (IQ3_S has 64 entries of 4 values), `signIndices` 32 bytes.
    @inlinable @inline(__always)
    static func gridPrepass(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ indices: UnsafeMutablePointer<UInt16>,
                            _ signIndices: UnsafeMutablePointer<UInt16>) -> GridPrepass {
        @inline(__always) func store(_ k: Int, _ v: __m256i) { UnsafeMutableRawPointer(indices + 16 * k).storeBytes(of: v, as: __m256i.self) }
        @inline(__always) func bytes16(_ offset: Int) -> __m256i { _mm256_cvtepu8_epi16(load128(xb + offset)) }
        @inline(__always) func broadcast(_ offset: Int, _ count: Int) -> __m256i {
            count == 8 ? _mm256_set1_epi64x(xb.loadUnaligned(fromByteOffset: offset, as: Int64.self))
                       : _mm256_broadcastsi128_si256(load128(xb + offset))
        }
        /// Lane i (16-bit) ← bits of `high` moved by a per-lane multiply, `width` bits, placed at bit 8.
        @inline(__always) func highBits(_ high: __m256i, _ control: __m256i, _ multipliers: __m256i, _ shift: Int32,
                                        _ mask: Int16) -> __m256i {
            let spread = _mm256_mullo_epi16(_mm256_shuffle_epi8(high, control), multipliers)
            return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(spread, shift), _mm256_set1_epi16(mask)), 8)
        }
        /// 8 packed nibble-pairs of 4-bit scales (IQ2_XS, IQ2_S) → 16 bytes 2s + 1 in both lanes.
        @inline(__always) func nibbleScales(_ offset: Int) -> __m256i {
            let v = _mm_cvtsi64_si128(xb.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            let s = _mm_unpacklo_epi8(_mm_and_si128(v, _mm_set1_epi8(15)), _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(15)))
            return _mm256_broadcastsi128_si256(_mm_add_epi8(_mm_add_epi8(s, s), _mm_set1_epi8(1)))
        }
        // vpshufb controls: lane i takes byte(s) of entry group i / 4 (or i / 2), zero-extended to 16 bits.
        let byQuarter = _mm256_setr_epi8(0, -128, 0, -128, 0, -128, 0, -128, 1, -128, 1, -128, 1, -128, 1, -128,
                                         2, -128, 2, -128, 2, -128, 2, -128, 3, -128, 3, -128, 3, -128, 3, -128)
        let wordsByQuarter = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3,
                                              4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7)
        let byHalf = _mm256_setr_epi8(0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128,
                                      4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128)
        let step4 = _mm256_set1_epi8(4), step8 = _mm256_set1_epi8(8)
        switch format {
        case .iq2_xs:
            let q0 = load256(xb + 2), q1 = load256(xb + 34), nine = _mm256_set1_epi16(511)
            store(0, _mm256_and_si256(q0, nine)); store(1, _mm256_and_si256(q1, nine))
            // The 8 sign bits of each entry: the 7 stored ones plus their parity (bit 7), as bytes in entry order.
            let parity = _mm256_setr_epi8(0, -128, -128, 0, -128, 0, 0, -128, -128, 0, 0, -128, 0, -128, -128, 0,
                                          0, -128, -128, 0, -128, 0, 0, -128, -128, 0, 0, -128, 0, -128, -128, 0)
            @inline(__always) func full(_ q: __m256i) -> __m256i {
                let seven = _mm256_srli_epi16(q, 9)
                let folded = _mm256_and_si256(_mm256_xor_si256(seven, _mm256_srli_epi16(seven, 4)), _mm256_set1_epi16(15))
                return _mm256_or_si256(seven, _mm256_and_si256(_mm256_shuffle_epi8(parity, folded), _mm256_set1_epi16(0xFF)))
            }
            let packed = _mm256_packus_epi16(full(q0), full(q1))  // 128-bit lanes interleave: put entries back in order
            let ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7))
            UnsafeMutableRawPointer(signIndices).storeBytes(of: ordered, as: __m256i.self)
            return GridPrepass(indices: indices, signIndices: signIndices, scales: nibbleScales(66))
        case .iq2_s:  // index = qs[i] | (qh[i / 4] >> 2(i % 4) & 3) << 8
            let high = broadcast(66, 8), m = _mm256_setr_epi16(64, 16, 4, 1, 64, 16, 4, 1, 64, 16, 4, 1, 64, 16, 4, 1)
            store(0, _mm256_or_si256(bytes16(2), highBits(high, byQuarter, m, 6, 3)))
            store(1, _mm256_or_si256(bytes16(18), highBits(high, _mm256_add_epi8(byQuarter, step4), m, 6, 3)))
            return GridPrepass(indices: indices, signIndices: signIndices, scales: nibbleScales(74))
        case .iq1_s:  // index = qs[i] | (qh[i / 4] >> 3(i % 4) & 7) << 8, qh 16-bit
            let high = broadcast(34, 16)
            let m = _mm256_setr_epi16(512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1)
            store(0, _mm256_or_si256(bytes16(2), highBits(high, wordsByQuarter, m, 9, 7)))
            store(1, _mm256_or_si256(bytes16(18), highBits(high, _mm256_add_epi8(wordsByQuarter, step8), m, 9, 7)))
            // Per 32 values: the shift (bit 15 of qh: −1, else +1) as a byte, and the scale twice (both halves).
            let qh = load128(xb + 34)
            let shifts = _mm_or_si128(_mm_srai_epi16(qh, 15), _mm_set1_epi16(1))
            UnsafeMutableRawPointer(signIndices).storeBytes(of: _mm_packs_epi16(shifts, shifts), as: __m128i.self)
            let field = _mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7))
            let odd = _mm_packus_epi16(_mm_add_epi16(_mm_add_epi16(field, field), _mm_set1_epi16(1)), field)
            return GridPrepass(indices: indices, signIndices: signIndices,
                               scales: _mm256_broadcastsi128_si256(_mm_unpacklo_epi8(odd, odd)))
        case .iq1_m:  // index = qs[i] | (qh[i / 2] >> 4(i % 2) & 7) << 8; 3-bit scale j = sc[j / 4] >> 3(j % 4) & 7
            let high = broadcast(32, 16)
            let m = _mm256_setr_epi16(16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1)
            store(0, _mm256_or_si256(bytes16(0), highBits(high, byHalf, m, 4, 7)))
            store(1, _mm256_or_si256(bytes16(16), highBits(high, _mm256_add_epi8(byHalf, step8), m, 4, 7)))
            // Each entry's shift, −1 where bit 3 of its nibble is set, else +1, as 32 bytes in entry order.
            let qh = load128(xb + 32), low = _mm_set1_epi8(15), eight = _mm_set1_epi8(8)
            let nibbleLow = _mm_and_si128(qh, low), nibbleHigh = _mm_and_si128(_mm_srli_epi16(qh, 4), low)
            @inline(__always) func shifts(_ nibbles: __m128i) -> __m128i {
                _mm_or_si128(_mm_cmpeq_epi8(_mm_and_si128(nibbles, eight), eight), _mm_set1_epi8(1))
            }
            UnsafeMutableRawPointer(signIndices).storeBytes(of: shifts(_mm_unpacklo_epi8(nibbleLow, nibbleHigh)), as: __m128i.self)
            UnsafeMutableRawPointer(signIndices + 8).storeBytes(of: shifts(_mm_unpackhi_epi8(nibbleLow, nibbleHigh)), as: __m128i.self)
            let words = _mm256_shuffle_epi8(broadcast(48, 8), wordsByQuarter)
            let fields = _mm256_mullo_epi16(words, _mm256_setr_epi16(512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1))
            let s = _mm256_and_si256(_mm256_srli_epi16(fields, 9), _mm256_set1_epi16(7))
            let odd = _mm256_add_epi16(_mm256_add_epi16(s, s), _mm256_set1_epi16(1))
            let packed = _mm_packus_epi16(_mm256_castsi256_si128(odd), _mm256_extracti128_si256_1(odd))  // s0 … s15
            return GridPrepass(indices: indices, signIndices: signIndices, scales: _mm256_broadcastsi128_si256(packed))
        case .iq3_s:  // 64 indices of 4-value entries: qs[i] | (qh[i / 8] >> (i % 8) & 1) << 8
            let high = broadcast(66, 8)
            let m = _mm256_setr_epi16(256, 128, 64, 32, 16, 8, 4, 2, 256, 128, 64, 32, 16, 8, 4, 2)
            let byEighth = _mm256_setr_epi8(0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128,
                                            1, -128, 1, -128, 1, -128, 1, -128, 1, -128, 1, -128, 1, -128, 1, -128)
            var k = 0
            while k < 4 {
                let control = _mm256_add_epi8(byEighth, _mm256_set1_epi8(Int8(2 * k)))
                let bit = _mm256_and_si256(_mm256_mullo_epi16(_mm256_shuffle_epi8(high, control), m), _mm256_set1_epi16(0x100))
                store(k, _mm256_or_si256(bytes16(2 + 16 * k), bit))
                k += 1
            }
            return GridPrepass(indices: indices, signIndices: signIndices, scales: _mm256_setzero_si256())
        default:
            return GridPrepass(indices: indices, signIndices: signIndices, scales: _mm256_setzero_si256())
        }
    }

    /// A grid I-quant super-block into the panels' stored form (values with their signs, scales per 16
    /// values, no offsets); returns (d', 0).
    @inline(__always)
    static func unpackGrid(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ values: UnsafeMutableRawPointer,
                           _ scales: UnsafeMutablePointer<Int16>, _ offsets: UnsafeMutablePointer<Int16>) -> (Float, Float) {
        let tables = GridTables.shared
        return withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 112) { buffer in
            let base = buffer.baseAddress!  // 64 indices, 32 bytes of signs or shifts, 16 scale lanes
            let prepass = gridPrepass(format, xb, base, base + 64)
            @inline(__always) func chunk(_ sub: Int) {  // the eight chunks written out, as in the row dot
                let chunk = gridChunk(format, xb, sub, tables, prepass)
                (values + 32 * sub).storeBytes(of: _mm256_sign_epi8(chunk.magnitudes, chunk.signs), as: __m256i.self)
                UnsafeMutableRawPointer(base + 96).storeBytes(of: chunk.scales, as: __m256i.self)
                scales[2 * sub] = Int16(bitPattern: base[96])
                scales[2 * sub + 1] = Int16(bitPattern: base[104])
                offsets[2 * sub] = 0
                offsets[2 * sub + 1] = 0
            }
            chunk(0); chunk(1); chunk(2); chunk(3); chunk(4); chunk(5); chunk(6); chunk(7)
            return (gridScale(format, xb), 0)
        }
    }
}

extension AVX2Dot {
    /// A grid I-quant row · Q8_K.
    public static func gridIQuant(_ format: SuperBlockFormat, _ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var result: Float = .nan
        gridIQuantRows(format, x, rowStride: 0, rows: 1, y, blocks, &result, resultStride: 1)
        return result
    }

    /// `rows` grid I-quant rows (rowStride apart) · one token's Q8_K activations, results resultStride apart. One
    /// call per matrix chunk: a 2048-column row is only 8 super-blocks, so a call, a dispatch on the format and the
    /// prepass buffer per row would cost several percent of decode.
    public static func gridIQuantRows(_ format: SuperBlockFormat, _ x: UnsafeRawPointer, rowStride: Int, rows: Int,
                                      _ y: UnsafeRawPointer, _ blocks: Int, _ results: UnsafeMutablePointer<Float>,
                                      resultStride: Int) {
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 96) { buffer in
            guard let indices = buffer.baseAddress else { return }
            gridIQuantRows(AVX2Products.self, format, x, rowStride: rowStride, rows: rows, y, blocks, results,
                           resultStride: resultStride, indices: indices)
        }
    }

    /// `gridIQuantRows` with the products of `P` (TensorsAVX512 specialises it: compiled for AVX-512, 32 vector
    /// registers and VNNI's fused scale multiply-add). `indices`: 96 UInt16 of scratch (64 indices, then 32 bytes
    /// of signs or shifts), given by the caller (a closure here would be compiled without its CPU features).
    @inlinable
    public static func gridIQuantRows<P: ByteProducts>(_ products: P.Type, _ format: SuperBlockFormat, _ x: UnsafeRawPointer,
                                                       rowStride: Int, rows: Int, _ y: UnsafeRawPointer, _ blocks: Int,
                                                       _ results: UnsafeMutablePointer<Float>, resultStride: Int,
                                                       indices: UnsafeMutablePointer<UInt16>) {
        switch format {
        case .iq1_s: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ1SPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq1_m: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ1MPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq2_xxs: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ2XXSPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq2_xs: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ2XSPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq2_s: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ2SPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq3_xxs: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ3XXSPanel.self, x + r * rowStride, y, blocks, indices) }
        case .iq3_s: for r in 0..<rows { results[r * resultStride] = gridRow(P.self, IQ3SPanel.self, x + r * rowStride, y, blocks, indices) }
        default: for r in 0..<rows { results[r * resultStride] = .nan }
        }
    }

    @inlinable @inline(__always)
    static func gridRow<P: ByteProducts, K: SuperBlockKind>(_ products: P.Type, _ kind: K.Type, _ x: UnsafeRawPointer,
                                                            _ y: UnsafeRawPointer, _ blocks: Int,
                                                            _ indices: UnsafeMutablePointer<UInt16>) -> Float {
        let format = K.format, tables = GridTables.shared
        var acc = _mm256_setzero_ps()
        var b = 0
        while b < blocks {
            let xb = x + format.blockBytes * b, yb = y + 292 * b
            // The grid indices feed table loads, so a late weight line stalls the whole chunk: ask for the
            // stream well ahead (the next row's start when this row ends, which the rows' order makes likely).
            swiftfile_prefetch(xb + 1024)
            let prepass = AVX2GEMM.gridPrepass(format, xb, indices, indices + 64)
            var sums = _mm256_setzero_si256(), other = _mm256_setzero_si256()
            if format == .iq1_s {
                // 8g ± 1 = 8(g + 1) + (±1 − 8): 8(g + 1) is unsigned (0, 8, 16: the eightfold grid), so maddubs
                // takes it with the activations as they are, and the rest is a per-32 constant times Σa — Q8_K's
                // bsums, as the K-quant mins: total = Σ_c s_c·Σ 8(g + 1)·a + Σ_c s_c·(±1 − 8)·Σa.
                @inline(__always) func step(_ sub: Int) {
                    let e0 = gridEntries(tables.iq1sEightfold, Int(indices[4 * sub]), Int(indices[4 * sub + 1]),
                                         Int(indices[4 * sub + 2]), Int(indices[4 * sub + 3]))
                    let e1 = gridEntries(tables.iq1sEightfold, Int(indices[4 * sub + 4]), Int(indices[4 * sub + 5]),
                                         Int(indices[4 * sub + 6]), Int(indices[4 * sub + 7]))
                    let s0 = _mm256_shuffle_epi8(prepass.scales, load256(tables.scaleControls + 32 * sub))
                    let s1 = _mm256_shuffle_epi8(prepass.scales, load256(tables.scaleControls + 32 * sub + 32))
                    sums = P.addScaledPairs(sums, _mm256_maddubs_epi16(e0, load256(yb + 4 + 32 * sub)), s0)
                    other = P.addScaledPairs(other, _mm256_maddubs_epi16(e1, load256(yb + 36 + 32 * sub)), s1)
                }
                step(0); step(2); step(4); step(6)
                let qh = load128(xb + 34)
                let scale = _mm_add_epi16(_mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7)), 1), _mm_set1_epi16(1))
                let shift = _mm_sub_epi16(_mm_or_si128(_mm_srai_epi16(qh, 15), _mm_set1_epi16(1)), _mm_set1_epi16(8))
                let perChunk = _mm_mullo_epi16(scale, shift)  // one per 32 values; each covers two bsums
                let perGroup = _mm256_set_m128i(_mm_unpackhi_epi16(perChunk, perChunk), _mm_unpacklo_epi16(perChunk, perChunk))
                let offsets = _mm256_madd_epi16(perGroup, load256(yb + 260))
                sums = _mm256_add_epi32(_mm256_add_epi32(sums, other), offsets)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * AVX2GEMM.gridScale(format, xb)), _mm256_cvtepi32_ps(sums), acc)
                b += 1
                continue
            }
            if format == .iq1_m {
                // Its ±1 shift is per 8 values, finer than the bsums: 8g ± 1 + 9 = 8(g + 1) + (1 ± 1) is unsigned
                // (0…18), so maddubs takes it with the activations as they are; then − 9·Σ_j s_j·Σa per 16.
                let one = _mm256_set1_epi8(1), spread = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202,
                                                                          0x0101_0101_0101_0101, 0)
                @inline(__always) func values(_ c: Int) -> __m256i {
                    let eightfold = gridEntries(tables.iq1sEightfold, Int(indices[4 * c]), Int(indices[4 * c + 1]),
                                                Int(indices[4 * c + 2]), Int(indices[4 * c + 3]))
                    let shifts = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: UnsafeRawPointer(indices + 64)
                        .loadUnaligned(fromByteOffset: 4 * c, as: UInt32.self))), spread)
                    return _mm256_add_epi8(eightfold, _mm256_add_epi8(shifts, one))
                }
                @inline(__always) func step(_ sub: Int) {
                    let s0 = _mm256_shuffle_epi8(prepass.scales, load256(tables.scaleControls + 32 * sub))
                    let s1 = _mm256_shuffle_epi8(prepass.scales, load256(tables.scaleControls + 32 * sub + 32))
                    sums = P.addScaledPairs(sums, _mm256_maddubs_epi16(values(sub), load256(yb + 4 + 32 * sub)), s0)
                    other = P.addScaledPairs(other, _mm256_maddubs_epi16(values(sub + 1), load256(yb + 36 + 32 * sub)), s1)
                }
                step(0); step(2); step(4); step(6)
                let scales16 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(prepass.scales))
                let offsets = _mm256_madd_epi16(_mm256_mullo_epi16(scales16, _mm256_set1_epi16(9)), load256(yb + 260))
                sums = _mm256_sub_epi32(_mm256_add_epi32(sums, other), offsets)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * AVX2GEMM.gridScale(format, xb)), _mm256_cvtepi32_ps(sums), acc)
                b += 1
                continue
            }
            // Two chunks per step (two independent chains), the four steps written out: constant offsets for every
            // load, no loop counter (the compiler keeps a loop of four otherwise).
            @inline(__always) func step(_ sub: Int) {
                let first = AVX2GEMM.gridChunk(format, xb, sub, tables, prepass)
                let second = AVX2GEMM.gridChunk(format, xb, sub + 1, tables, prepass)
                let p0 = _mm256_maddubs_epi16(first.magnitudes, _mm256_sign_epi8(load256(yb + 4 + 32 * sub), first.signs))
                let p1 = _mm256_maddubs_epi16(second.magnitudes, _mm256_sign_epi8(load256(yb + 36 + 32 * sub), second.signs))
                sums = P.addScaledPairs(sums, p0, first.scales)
                other = P.addScaledPairs(other, p1, second.scales)
            }
            step(0); step(2); step(4); step(6)
            sums = _mm256_add_epi32(sums, other)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * AVX2GEMM.gridScale(format, xb)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }
}
#endif
