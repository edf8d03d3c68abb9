#if arch(x86_64)
import _Builtin_intrinsics.intel

// Prompt batches for the 256-element super-block formats (Q2_K … Q6_K, IQ4_XS) with Q8_K activations.
//
// Every such format is, per super-block of one row: integers w (a few bits each), one integer scale s_j
// per 16 columns, a float d, and for some an offset term m_j per 16 columns with its own float dm:
//     row · a = dy · (d · Σ_j s_j · Σ_{i∈j} w_i a_i  −  dm · Σ_j m_j · Σ_{i∈j} a_i)
// (Σ_{i∈j} a_i is Q8_K's bsum_j). So eight rows are unpacked once per batch into one common panel form
// — w as bytes, 4 columns × 8 rows per 256-bit register (lanes = rows), the scales as int16 lane pairs —
// and a single kernel multiplies every format's panels with every token: one broadcast of 4 activation
// bytes feeds 8 rows, the integer sums of a super-block come out one row per lane, and the float work
// (two multiply-adds) is paid once per 8 rows instead of once per row.
//
// maddubs needs one unsigned operand. Formats whose values are small and unsigned (Q2_K 0…3, Q4_K 0…15,
// Q5_K 0…31) are stored as they are; Q3_K (−4…3) and Q6_K (−32…31) are stored plus their offset o, whose
// product goes into the offset term (m_j = o·s_j, dm = d, subtracted in integers). IQ4_XS's levels
// (−127…113) do not fit that way: their panel keeps |w| and w, and each broadcast takes w's sign first.
// Bounds: Q8_K activations lie in −127…127, so a maddubs pair is at most 2·63·127 = 16002 for the unsigned
// forms (2 pairs of Q6_K, 4 of the ≤ 31 formats still fit in 16 bits before the scale multiply-add) and
// 2·127·127 = 32258 for IQ4_XS (scaled one at a time); a super-block's int32 sum stays below 2^28.

/// The formats with a super-block panel.
public enum SuperBlockFormat: Sendable {
    case q2_K, q3_K, q4_K, q5_K, q6_K, iq4_xs
    /// The grid I-quants (GridIQuantKernels.swift): signed values up to 62 in magnitude, one scale per 16.
    case iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s

    @inlinable var blockBytes: Int {
        switch self {
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .iq4_xs: 136
        case .iq1_s: 50
        case .iq1_m: 56
        case .iq2_xxs: 66
        case .iq2_xs: 74
        case .iq2_s: 82
        case .iq3_xxs: 98
        case .iq3_s: 110
        }
    }

    /// Weights stored with their sign (IQ4_XS and the grid I-quants); the others as unsigned bytes.
    @inlinable public var isSigned: Bool { self == .iq4_xs || isGrid }
    /// Offset term with its own float (the "min" of Q2_K/Q4_K/Q5_K), not folded into d.
    @inlinable public var hasSeparateOffsetScale: Bool { self == .q2_K || self == .q4_K || self == .q5_K }
    /// Any offset term at all.
    @inlinable public var hasOffsets: Bool { !isSigned }
    /// Pairs of 16-column scales that are always equal (one scale per 32 columns in the format).
    public var scalesPer32: Bool {
        switch self {
        case .q4_K, .q5_K, .iq4_xs, .iq2_xxs, .iq3_xxs, .iq3_s, .iq1_s: true
        default: false
        }
    }
    /// maddubs results added in 16 bits before one scale multiply-add (see the bounds above: 2 groups of
    /// values ≤ 62 give 4·62·127 = 31496, 4 groups of values ≤ 15 give 15240).
    var groupsPerScale: Int {
        switch self {
        case .q6_K, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs: 2
        case .iq4_xs: 1
        default: 4
        }
    }
}

/// A format as a type: the kernels are generic over it, so each format gets its own specialised loops with
/// the format's branches decided at compile time (a format passed as a value stayed a run-time test in the
/// inner loop).
public protocol SuperBlockKind { static var format: SuperBlockFormat { get } }
public enum Q2KPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .q2_K } }
public enum Q3KPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .q3_K } }
public enum Q4KPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .q4_K } }
public enum Q5KPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .q5_K } }
public enum Q6KPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .q6_K } }
public enum IQ4XSPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq4_xs } }
public enum IQ1SPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq1_s } }
public enum IQ1MPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq1_m } }
public enum IQ2XXSPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq2_xxs } }
public enum IQ2XSPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq2_xs } }
public enum IQ2SPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq2_s } }
public enum IQ3XXSPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq3_xxs } }
public enum IQ3SPanel: SuperBlockKind { @inlinable @inline(__always) public static var format: SuperBlockFormat { .iq3_s } }

/// Byte layout of one panel super-block (8 rows × 256 columns).
public enum SuperBlockPanelLayout {
    /// Group g (columns 4g…4g+3) at 32·g, row r's 4 bytes at 4·r; signed formats put w itself (the sign
    /// source) 2048 bytes on. Then per sub-block of 16 the scale pairs (int16 lanes 2r, 2r+1 = s_r), per
    /// two sub-blocks the offset pairs (lanes 2r, 2r+1 = m_r of the two), then d and dm as 8 floats.
    public static func scalesOffset(_ f: SuperBlockFormat) -> Int { f.isSigned ? 4096 : 2048 }
    public static func offsetsOffset(_ f: SuperBlockFormat) -> Int { scalesOffset(f) + 512 }
    public static func dOffset(_ f: SuperBlockFormat) -> Int { offsetsOffset(f) + 256 }
    public static func dmOffset(_ f: SuperBlockFormat) -> Int { dOffset(f) + 32 }
    public static func blockBytes(_ f: SuperBlockFormat) -> Int { dmOffset(f) + 32 }
    /// The largest `blockBytes`.
    public static let maxBlockBytes = 4096 + 512 + 256 + 64
}

extension AVX2GEMM {
    /// Repacks rows r (0..<rowCount ≤ 8, missing rows zero) of `format` into a panel of `superBlocks`
    /// super-blocks. `scratch`: 8 · 256 + 8 · 64 bytes. `half` 0 or 1: the panel is one half of a 16-row panel
    /// (the AVX-512 kernel's), whose 64-byte units hold the 32-byte unit of rows 0-7 then that of rows 8-15 —
    /// every field at twice its offset, this half's rows at +32 · half.
    public static func packSuperBlocks(_ format: SuperBlockFormat, _ rows: UnsafeRawPointer, rowStride: Int,
                                       rowCount: Int, superBlocks: Int, scratch: UnsafeMutableRawPointer,
                                       into panel: UnsafeMutableRawPointer, half: Int? = nil) {
        let spread = half.map { (unit: 64, base: 32 * $0) } ?? (unit: 32, base: 0)
        switch format {
        case .q2_K: packSuperBlocks(Q2KPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .q3_K: packSuperBlocks(Q3KPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .q4_K: packSuperBlocks(Q4KPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .q5_K: packSuperBlocks(Q5KPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .q6_K: packSuperBlocks(Q6KPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq4_xs: packSuperBlocks(IQ4XSPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq1_s: packSuperBlocks(IQ1SPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq1_m: packSuperBlocks(IQ1MPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq2_xxs: packSuperBlocks(IQ2XXSPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq2_xs: packSuperBlocks(IQ2XSPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq2_s: packSuperBlocks(IQ2SPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq3_xxs: packSuperBlocks(IQ3XXSPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        case .iq3_s: packSuperBlocks(IQ3SPanel.self, rows, rowStride, rowCount, superBlocks, scratch, panel, spread)
        }
    }

    @inline(__always)
    private static func packSuperBlocks<K: SuperBlockKind>(_ kind: K.Type, _ rows: UnsafeRawPointer, _ rowStride: Int,
                                                           _ rowCount: Int, _ superBlocks: Int, _ scratch: UnsafeMutableRawPointer,
                                                           _ panel: UnsafeMutableRawPointer, _ spread: (unit: Int, base: Int)) {
        let format = K.format
        // Where a field's byte at `offset` of the 8-row layout goes.
        @inline(__always) func place(_ offset: Int) -> Int { offset / 32 &* spread.unit &+ spread.base &+ offset % 32 }
        let values = scratch                                   // 8 rows × 256 bytes
        let scales = (scratch + 2048).assumingMemoryBound(to: Int16.self)   // 8 rows × 16
        let offsets = (scratch + 2304).assumingMemoryBound(to: Int16.self)  // 8 rows × 16
        let blockBytes = SuperBlockPanelLayout.blockBytes(format)
        var b = 0
        while b < superBlocks {
            let out = panel + b * blockBytes / 32 * spread.unit
            var r = 0
            while r < 8 {
                var d: Float = 0, dm: Float = 0
                if r < rowCount {
                    (d, dm) = unpack(format, rows + r * rowStride + b * format.blockBytes, values + 256 * r,
                                     scales + 16 * r, offsets + 16 * r)
                } else {
                    (values + 256 * r).initializeMemory(as: UInt8.self, repeating: 0, count: 256)
                    (scales + 16 * r).initialize(repeating: 0, count: 16)
                    (offsets + 16 * r).initialize(repeating: 0, count: 16)
                }
                out.storeBytes(of: d, toByteOffset: place(SuperBlockPanelLayout.dOffset(format) + 4 * r), as: Float.self)
                out.storeBytes(of: dm, toByteOffset: place(SuperBlockPanelLayout.dmOffset(format) + 4 * r), as: Float.self)
                r += 1
            }
            // 32 columns at a time: the 8 rows' registers transposed into 8 groups of 4 columns. The rows and
            // groups are written out: a register of `Eight` picked by a variable index is a jump table.
            var chunk = 0
            while chunk < 8 {
                @inline(__always) func row(_ r: Int) -> __m256i { load256(values + 256 * r + 32 * chunk) }
                var w = Eight(repeating: _mm256_setzero_si256())
                (w.v0, w.v1, w.v2, w.v3, w.v4, w.v5, w.v6, w.v7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
                let groups = transpose(w)
                @inline(__always) func put(_ g: Int, _ group: __m256i) {
                    let at = 32 * (8 * chunk + g)
                    if format.isSigned {
                        (out + place(at)).storeBytes(of: _mm256_sign_epi8(group, group), as: __m256i.self)
                        (out + place(2048 + at)).storeBytes(of: group, as: __m256i.self)
                    } else {
                        (out + place(at)).storeBytes(of: group, as: __m256i.self)
                    }
                }
                put(0, groups.v0); put(1, groups.v1); put(2, groups.v2); put(3, groups.v3)
                put(4, groups.v4); put(5, groups.v5); put(6, groups.v6); put(7, groups.v7)
                chunk += 1
            }
            // Scales: row r's 16 int16 values widened to int32 lanes holding (s, s), then transposed so that
            // sub-block j's register has row r in lane r. Offsets: row r's pairs (m_2p, m_2p+1) already are
            // int32 lanes, so one transpose puts pair p of every row in one register.
            var low = Eight(repeating: _mm256_setzero_si256()), high = low, pairs = low
            @inline(__always) func doubled(_ half: __m128i) -> __m256i {
                let wide = _mm256_cvtepu16_epi32(half)
                return _mm256_or_si256(wide, _mm256_slli_epi32(wide, 16))
            }
            @inline(__always) func lowScales(_ r: Int) -> __m256i { doubled(load128(UnsafeRawPointer(scales + 16 * r))) }
            @inline(__always) func highScales(_ r: Int) -> __m256i { doubled(load128(UnsafeRawPointer(scales + 16 * r + 8))) }
            @inline(__always) func offsetPairs(_ r: Int) -> __m256i { load256(UnsafeRawPointer(offsets + 16 * r)) }
            (low.v0, low.v1, low.v2, low.v3, low.v4, low.v5, low.v6, low.v7) =
                (lowScales(0), lowScales(1), lowScales(2), lowScales(3), lowScales(4), lowScales(5), lowScales(6), lowScales(7))
            (high.v0, high.v1, high.v2, high.v3, high.v4, high.v5, high.v6, high.v7) =
                (highScales(0), highScales(1), highScales(2), highScales(3), highScales(4), highScales(5), highScales(6), highScales(7))
            (pairs.v0, pairs.v1, pairs.v2, pairs.v3, pairs.v4, pairs.v5, pairs.v6, pairs.v7) =
                (offsetPairs(0), offsetPairs(1), offsetPairs(2), offsetPairs(3), offsetPairs(4), offsetPairs(5), offsetPairs(6), offsetPairs(7))
            let scalesLow = transpose(low), scalesHigh = transpose(high), transposedPairs = transpose(pairs)
            let scalesAt = SuperBlockPanelLayout.scalesOffset(format), offsetsAt = SuperBlockPanelLayout.offsetsOffset(format)
            @inline(__always) func put(_ j: Int, _ scaleLow: __m256i, _ scaleHigh: __m256i, _ pair: __m256i) {
                (out + place(scalesAt + 32 * j)).storeBytes(of: scaleLow, as: __m256i.self)
                (out + place(scalesAt + 32 * (j + 8))).storeBytes(of: scaleHigh, as: __m256i.self)
                (out + place(offsetsAt + 32 * j)).storeBytes(of: pair, as: __m256i.self)
            }
            put(0, scalesLow.v0, scalesHigh.v0, transposedPairs.v0); put(1, scalesLow.v1, scalesHigh.v1, transposedPairs.v1)
            put(2, scalesLow.v2, scalesHigh.v2, transposedPairs.v2); put(3, scalesLow.v3, scalesHigh.v3, transposedPairs.v3)
            put(4, scalesLow.v4, scalesHigh.v4, transposedPairs.v4); put(5, scalesLow.v5, scalesHigh.v5, transposedPairs.v5)
            put(6, scalesLow.v6, scalesHigh.v6, transposedPairs.v6); put(7, scalesLow.v7, scalesHigh.v7, transposedPairs.v7)
            if format.isSigned {
                // No offsets; in their place, per row, 128 · Σ_j s_j · Σ_{i∈j} w_i: what multiplying by
                // activations a + 128 (the VNNI kernel's unsigned operand) adds to the sum.
                let ones = _mm256_set1_epi8(1)
                var row = 0
                while row < 8 {
                    var total = _mm256_setzero_si256()
                    @inline(__always) func add(_ chunk: Int) {
                        let pairSums = _mm256_maddubs_epi16(ones, load256(values + 256 * row + 32 * chunk))
                        let scale = _mm256_set_m128i(_mm_set1_epi16(scales[16 * row + 2 * chunk + 1]),
                                                     _mm_set1_epi16(scales[16 * row + 2 * chunk]))
                        total = _mm256_add_epi32(total, _mm256_madd_epi16(pairSums, scale))
                    }
                    add(0); add(1); add(2); add(3); add(4); add(5); add(6); add(7)
                    out.storeBytes(of: 128 &* horizontalSumInt(total), toByteOffset: place(offsetsAt + 4 * row), as: Int32.self)
                    row += 1
                }
            }
            b += 1
        }
    }

    /// Q8_K rows' value bytes + 128 (as unsigned bytes), `tokens` rows of 256 · superBlocks, back to back.
    public static func flippedBytes(_ activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                    superBlocks: Int, into out: UnsafeMutableRawPointer) {
        let flip = _mm256_set1_epi8(-128)
        var t = 0
        while t < tokens {
            var b = 0
            while b < superBlocks {
                let source = activations + t * activationStride + 292 * b + 4
                let target = out + (t * superBlocks + b) * 256
                var i = 0
                while i < 8 {
                    (target + 32 * i).storeBytes(of: _mm256_xor_si256(load256(source + 32 * i), flip), as: __m256i.self)
                    i += 1
                }
                b += 1
            }
            t += 1
        }
    }

    /// One row's super-block into the stored form: 256 value bytes, 16 scales and 16 offsets (per 16
    /// columns); returns (d, dm).
    @inline(__always)
    private static func unpack(_ format: SuperBlockFormat, _ xb: UnsafeRawPointer, _ values: UnsafeMutableRawPointer,
                               _ scales: UnsafeMutablePointer<Int16>, _ offsets: UnsafeMutablePointer<Int16>) -> (Float, Float) {
        let lowMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3), bit = _mm256_set1_epi8(1)
        @inline(__always) func store(_ k: Int, _ v: __m256i) { (values + 32 * k).storeBytes(of: v, as: __m256i.self) }
        switch format {
        case .q4_K, .q5_K:
            let isQ5 = format == .q5_K
            let quantOffset = isQ5 ? 48 : 16
            let highBits = isQ5 ? load256(xb + 16) : _mm256_setzero_si256()
            var chunk = 0
            while chunk < 4 {
                let q = load256(xb + quantOffset + 32 * chunk)
                var low = _mm256_and_si256(q, lowMask)
                var high = _mm256_and_si256(_mm256_srli_epi16(q, 4), lowMask)
                if isQ5 {
                    let shifted = _mm256_srli_epi16(highBits, Int32(2 * chunk))
                    low = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(shifted, bit), 4))
                    high = _mm256_or_si256(high, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(shifted, 1), bit), 4))
                }
                store(2 * chunk, low)
                store(2 * chunk + 1, high)
                chunk += 1
            }
            let (s, m) = unpackScalesAndMins(xb + 4)
            // Sub-blocks of 32 → two of 16 with the same scale and offset.
            let duplicate = _mm_setr_epi8(0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7)
            let duplicateHigh = _mm_setr_epi8(8, 9, 8, 9, 10, 11, 10, 11, 12, 13, 12, 13, 14, 15, 14, 15)
            UnsafeMutableRawPointer(scales).storeBytes(of: _mm256_set_m128i(_mm_shuffle_epi8(s, duplicateHigh), _mm_shuffle_epi8(s, duplicate)), as: __m256i.self)
            UnsafeMutableRawPointer(offsets).storeBytes(of: _mm256_set_m128i(_mm_shuffle_epi8(m, duplicateHigh), _mm_shuffle_epi8(m, duplicate)), as: __m256i.self)
            return (half(xb, 0), half(xb, 2))
        case .q6_K:
            var part = 0
            while part < 2 {
                let ql0 = load256(xb + 64 * part), ql1 = load256(xb + 64 * part + 32)
                let qh = load256(xb + 128 + 32 * part)
                var quarter = 0
                while quarter < 4 {
                    let source = quarter % 2 == 0 ? ql0 : ql1
                    let nibble = quarter < 2 ? _mm256_and_si256(source, lowMask)
                                             : _mm256_and_si256(_mm256_srli_epi16(source, 4), lowMask)
                    let top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 * quarter)), twoBits), 4)
                    store(4 * part + quarter, _mm256_or_si256(nibble, top))  // w + 32
                    quarter += 1
                }
                part += 1
            }
            let s = _mm256_cvtepi8_epi16(load128(xb + 192))
            UnsafeMutableRawPointer(scales).storeBytes(of: s, as: __m256i.self)
            UnsafeMutableRawPointer(offsets).storeBytes(of: _mm256_slli_epi16(s, 5), as: __m256i.self)
            let d = half(xb, 208)
            return (d, d)
        case .q3_K:
            let mask = load256(xb)
            var part = 0
            while part < 2 {
                let q = load256(xb + 32 + 32 * part)
                var shift = 0
                while shift < 4 {
                    let k = 4 * part + shift
                    let low = _mm256_and_si256(_mm256_srli_epi16(q, Int32(2 * shift)), twoBits)
                    let high = _mm256_and_si256(_mm256_srli_epi16(mask, Int32(k)), bit)
                    store(k, _mm256_or_si256(low, _mm256_slli_epi16(high, 2)))  // w + 4
                    shift += 1
                }
                part += 1
            }
            let s = unpackScalesQ3K(xb + 96)
            UnsafeMutableRawPointer(scales).storeBytes(of: s, as: __m256i.self)
            UnsafeMutableRawPointer(offsets).storeBytes(of: _mm256_slli_epi16(s, 2), as: __m256i.self)
            let d = half(xb, 108)
            return (d, d)
        case .q2_K:
            var part = 0
            while part < 2 {
                let q = load256(xb + 16 + 32 * part)
                var shift = 0
                while shift < 4 {
                    store(4 * part + shift, _mm256_and_si256(_mm256_srli_epi16(q, Int32(2 * shift)), twoBits))
                    shift += 1
                }
                part += 1
            }
            let packed = load128(xb)
            let low = _mm_and_si128(packed, _mm_set1_epi8(0x0F))
            let high = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F))
            UnsafeMutableRawPointer(scales).storeBytes(of: _mm256_cvtepu8_epi16(low), as: __m256i.self)
            UnsafeMutableRawPointer(offsets).storeBytes(of: _mm256_cvtepu8_epi16(high), as: __m256i.self)
            return (half(xb, 80), half(xb, 82))
        case .iq4_xs:
            let levels = iq4LevelTable()
            let scalesHigh = xb.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
            var sub = 0
            while sub < 8 {
                store(sub, _mm256_shuffle_epi8(levels, nibbles(xb + 8 + 16 * sub)))
                let low = (xb.load(fromByteOffset: 4 + sub / 2, as: UInt8.self) >> (4 * UInt8(sub % 2))) & 0x0F
                let high = UInt8(truncatingIfNeeded: scalesHigh >> (2 * UInt16(sub))) & 3
                let scale = Int16(low | (high << 4)) - 32
                scales[2 * sub] = scale
                scales[2 * sub + 1] = scale
                offsets[2 * sub] = 0
                offsets[2 * sub + 1] = 0
                sub += 1
            }
            return (half(xb, 0), 0)
        case .iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s:
            return unpackGrid(format, xb, values, scales, offsets)
        }
    }

    /// results[t · resultStride + r] for the panel's rows r < rowCount and tokens t in 0..<tokens: Q8_K
    /// activation rows `activationStride` bytes apart.
    public static func superBlockPanel(_ format: SuperBlockFormat, _ panel: UnsafeRawPointer, superBlocks: Int,
                                       activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                       results: UnsafeMutablePointer<Float>, resultStride: Int, rowCount: Int) {
        switch format {
        case .q2_K: superBlockPanel(Q2KPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .q3_K: superBlockPanel(Q3KPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .q4_K: superBlockPanel(Q4KPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .q5_K: superBlockPanel(Q5KPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .q6_K: superBlockPanel(Q6KPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq4_xs: superBlockPanel(IQ4XSPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq1_s: superBlockPanel(IQ1SPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq1_m: superBlockPanel(IQ1MPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq2_xxs: superBlockPanel(IQ2XXSPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq2_xs: superBlockPanel(IQ2XSPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq2_s: superBlockPanel(IQ2SPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq3_xxs: superBlockPanel(IQ3XXSPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        case .iq3_s: superBlockPanel(IQ3SPanel.self, panel, superBlocks, activations, activationStride, tokens, results, resultStride, rowCount)
        }
    }

    @inline(__always)
    private static func superBlockPanel<K: SuperBlockKind>(_ kind: K.Type, _ panel: UnsafeRawPointer, _ superBlocks: Int,
                                                           _ activations: UnsafeRawPointer, _ activationStride: Int, _ tokens: Int,
                                                           _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int) {
        let format = K.format
        let blockBytes = SuperBlockPanelLayout.blockBytes(format)
        let scalesOffset = SuperBlockPanelLayout.scalesOffset(format)
        let offsetsOffset = SuperBlockPanelLayout.offsetsOffset(format)
        let perScale = format.groupsPerScale
        var t = 0
        while t < tokens {
            // A short last tile repeats its last token (computed, not stored).
            let y0 = activations + t * activationStride
            let y1 = activations + min(t + 1, tokens - 1) * activationStride
            let y2 = activations + min(t + 2, tokens - 1) * activationStride
            let y3 = activations + min(t + 3, tokens - 1) * activationStride
            var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
            var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
            var b = 0
            while b < superBlocks {
                let pb = panel + b * blockBytes
                let ya = 292 * b
                var i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256()
                var i2 = _mm256_setzero_si256(), i3 = _mm256_setzero_si256()
                var j = 0
                while j < 16 {
                    let scale = load256(pb + scalesOffset + 32 * j)
                    var p0 = _mm256_setzero_si256(), p1 = _mm256_setzero_si256()
                    var p2 = _mm256_setzero_si256(), p3 = _mm256_setzero_si256()
                    var k = 0
                    while k < 4 {
                        let g = 4 * j + k
                        let w = load256(pb + 32 * g)
                        let sign = format.isSigned ? load256(pb + 2048 + 32 * g) : w
                        @inline(__always) func product(_ y: UnsafeRawPointer) -> __m256i {
                            let a = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: ya + 4 + 4 * g, as: Int32.self))
                            return _mm256_maddubs_epi16(w, format.isSigned ? _mm256_sign_epi8(a, sign) : a)
                        }
                        p0 = _mm256_add_epi16(p0, product(y0))
                        p1 = _mm256_add_epi16(p1, product(y1))
                        p2 = _mm256_add_epi16(p2, product(y2))
                        p3 = _mm256_add_epi16(p3, product(y3))
                        if (k + 1) % perScale == 0 {
                            i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(p0, scale))
                            i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(p1, scale))
                            i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(p2, scale))
                            i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(p3, scale))
                            p0 = _mm256_setzero_si256(); p1 = _mm256_setzero_si256()
                            p2 = _mm256_setzero_si256(); p3 = _mm256_setzero_si256()
                        }
                        k += 1
                    }
                    j += 1
                }
                let d = pb.loadUnaligned(fromByteOffset: SuperBlockPanelLayout.dOffset(format), as: __m256.self)
                let dm = pb.loadUnaligned(fromByteOffset: SuperBlockPanelLayout.dmOffset(format), as: __m256.self)
                @inline(__always) func finish(_ y: UnsafeRawPointer, _ sums: __m256i, _ acc: __m256) -> __m256 {
                    let dy = _mm256_set1_ps(y.loadUnaligned(fromByteOffset: ya, as: Float.self))
                    guard format.hasOffsets else {
                        return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sums), acc)
                    }
                    var offsetSums = _mm256_setzero_si256()
                    var p = 0
                    while p < 8 {
                        let bsums = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: ya + 260 + 4 * p, as: Int32.self))
                        offsetSums = _mm256_add_epi32(offsetSums, _mm256_madd_epi16(load256(pb + offsetsOffset + 32 * p), bsums))
                        p += 1
                    }
                    if format.hasSeparateOffsetScale {
                        let scaled = _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sums), acc)
                        return _mm256_fnmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(offsetSums), scaled)
                    }
                    return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, offsetSums)), acc)
                }
                acc0 = finish(y0, i0, acc0)
                acc1 = finish(y1, i1, acc1)
                acc2 = finish(y2, i2, acc2)
                acc3 = finish(y3, i3, acc3)
                b += 1
            }
            storeTile(acc0, acc1, acc2, acc3, t, tokens, results, resultStride, rowCount)
            t += 4
        }
    }
}
#endif
