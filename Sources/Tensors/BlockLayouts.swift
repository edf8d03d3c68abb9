// Block layouts of the ggml formats, as byte offsets inside one block (facts from ggml-common.h;
// the code is ours). "f16" = IEEE half, all little-endian. Element i of a block is y[i].
//
// Q4_0  (32 el, 18 B): d f16 @0 | qs[16] @2.  y[j] = d·(lo(qs[j]) − 8), y[j+16] = d·(hi(qs[j]) − 8).
// Q4_1  (32 el, 20 B): d f16 @0 | m f16 @2 | qs[16] @4.  y = d·q + m with q as Q4_0 without the −8.
// Q5_0  (32 el, 22 B): d f16 @0 | qh u32 @2 | qs[16] @6.  The 5th bit of y[j] is bit j of qh,
//                      of y[j+16] bit j+16.  y = d·(q − 16).
// Q5_1  (32 el, 24 B): d f16 @0 | m f16 @2 | qh u32 @4 | qs[16] @8.  y = d·q + m.
// Q8_0  (32 el, 34 B): d f16 @0 | qs[32] i8 @2.  y = d·q.
// Q8_1  (32 el, 40 B, activations only): d f32 @0 | s f32 @4 | qs[32] i8 @8.  y = d·q, s = d·Σq.
//                      ggml now keeps d and s as halves (36 B); we keep the 40-byte layout of the
//                      gguf tables but store the f16-rounded values, so the numerics are the same.
// IQ4_NL (32 el, 18 B): d f16 @0 | qs[16] @2.  y[j] = d·K[lo(qs[j])], y[j+16] = d·K[hi(qs[j])],
//                      K = the non-linear table below.
//
// Super-blocks of 256 elements (K-quants):
// Q2_K (84 B):  scales[16] @0 (lo nibble scale, hi nibble min, one per 16 el) | qs[64] @16 |
//               d f16 @80 | dmin f16 @82.  qs byte l of 32-byte half n holds 2-bit values of
//               elements n·128 + 32·s + l at bit shift 2·s, s = 0..3.  y = d·sc·q − dmin·m.
// Q3_K (110 B): hmask[32] @0 | qs[64] @32 | scales[12] @96 | d f16 @108.  Low 2 bits as Q2_K;
//               bit g of hmask[l] (g = 32-element group 0..7) set means +0, clear means −4.
//               16 six-bit scales (minus 32): low 4 bits from scales[j] (j < 8, lo nibble) or
//               scales[j − 8] (hi nibble), high 2 bits from scales[8 + j % 4] >> 2·(j / 4).
// Q4_K (144 B): d f16 @0 | dmin f16 @2 | scales[12] @4 | qs[128] @16.  8 six-bit (scale, min) pairs
//               (see scaleAndMinK4); 64-element chunk c uses qs[32c ..< 32c+32], low nibbles for
//               sub-block 2c, high nibbles for 2c+1.  y = d·sc·q − dmin·m.
// Q5_K (176 B): d f16 @0 | dmin f16 @2 | scales[12] @4 | qh[32] @16 | qs[128] @48.  As Q4_K plus a
//               5th bit: bit k of qh[l] for element l of sub-block k.
// Q6_K (210 B): ql[128] @0 | qh[64] @128 | scales[16] i8 @192 | d f16 @208.  Per 128-element half
//               n (ql += 64, qh += 32, sc += 8), for l < 32:
//                 y[l]    = d·sc[l/16 + 0]·((lo(ql[l])    | (qh[l] >> 0 & 3) << 4) − 32)
//                 y[l+32] = d·sc[l/16 + 2]·((lo(ql[l+32]) | (qh[l] >> 2 & 3) << 4) − 32)
//                 y[l+64] = d·sc[l/16 + 4]·((hi(ql[l])    | (qh[l] >> 4 & 3) << 4) − 32)
//                 y[l+96] = d·sc[l/16 + 6]·((hi(ql[l+32]) | (qh[l] >> 6 & 3) << 4) − 32)
// Q8_K (292 B, activations only): d f32 @0 | qs[256] i8 @4 | bsums[16] i16 @260 (Σ of each 16).
// IQ4_XS (136 B): d f16 @0 | scales_h u16 @2 | scales_l[4] @4 | qs[128] @8.  Sub-block b of 32:
//               scale = (lo/hi nibble b%2 of scales_l[b/2] | (scales_h >> 2b & 3) << 4) − 32,
//               values as IQ4_NL from qs[16b ..< 16b+16].
//
// Grid I-quants (256 el; sub-block b of 32 values; "grid" = IQuantGrids, entries of 8 or 4 values; a set
// sign bit negates; "even signs" of a 7-bit index i = i plus an 8th bit making the count of ones even):
// IQ2_XXS (66 B): d f16 @0 | 8 × (4 grid indices u8, then u32 w) @2.  w bits 7l…7l+6 = even-sign index of
//               entry l, bits 28…31 = s.  y = d·(s + ½)/4 · ±grid[idx].
// IQ2_XS (74 B): d f16 @0 | qs u16[32] @2 | scales[8] @66.  q: grid index q & 511, even signs q >> 9;
//               16-value group 2b (2b+1) scaled by the low (high) nibble s of scales[b]: d·(s + ½)/4.
// IQ2_S (82 B): d f16 @0 | qs[32] @2 | signs[32] @34 | qh[8] @66 | scales[8] @74.  Entry 4b+l: index
//               qs[4b+l] | (qh[b] >> 2l & 3) << 8, signs byte 4b+l; scales as IQ2_XS.
// IQ3_XXS (98 B): d f16 @0 | qs[64] @2 (4-value entries) | u32 w[8] @66.  Sub-block b: entries qs[8b…8b+7],
//               w's 4 even-sign indices cover 8 values each, s = w >> 28: d·(s + ½)/2.
// IQ3_S (110 B): d f16 @0 | qs[64] @2 | qh[8] @66 | signs[32] @74 | scales[4] @106.  Entry 8b+k: index
//               qs[8b+k] | (qh[b] >> k & 1) << 8; sign bits in order; s = nibble b of scales: d·(2s + 1).
// IQ1_S (50 B): d f16 @0 | qs[32] @2 | qh u16[8] @34.  Entry 4b+l (values −1/0/1): index
//               qs[4b+l] | (qh[b] >> 3l & 7) << 8; s = qh[b] >> 12 & 7; y = d·(2s + 1)·(g ± ⅛), − where
//               bit 15 of qh[b] is set.
// IQ1_M (56 B): qs[32] @0 | qh[16] @32 | sc u16[4] @48.  Entry q: nibble n = qh[q/2] >> 4(q%2): index
//               qs[q] | (n & 7) << 8, shift − where n & 8; 3-bit s per 16 values: sc[i/4] >> 3(i%4) & 7;
//               d (f16) = the top nibbles of sc[0…3], sc[0]'s lowest.  y = d·(2s + 1)·(g ± ⅛).

/// The 16 non-linear levels of IQ4_NL and IQ4_XS.
let iq4Levels: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// Q4_K / Q5_K: the 6-bit scale and min of sub-block `index` (0..7) from the 12 packed bytes at
/// `scales`. Sub-blocks 0-3 keep them in the low 6 bits of bytes 0-3 / 4-7; sub-blocks 4-7 take
/// 4 low bits from bytes 8-11 and their top 2 bits from the spare bits of bytes 0-7.
@inline(__always)
func scaleAndMinK4(_ scales: UnsafeRawPointer, _ index: Int) -> (scale: Int32, min: Int32) {
    if index < 4 {
        return (Int32(scales.byte(index) & 63), Int32(scales.byte(index + 4) & 63))
    }
    let scale = (scales.byte(index + 4) & 0x0F) | ((scales.byte(index - 4) >> 6) << 4)
    let min = (scales.byte(index + 4) >> 4) | ((scales.byte(index) >> 6) << 4)
    return (Int32(scale), Int32(min))
}

/// Q3_K: the signed scale (already minus 32) of 16-element group `index` (0..15).
@inline(__always)
func scaleQ3K(_ scales: UnsafeRawPointer, _ index: Int) -> Int32 {
    let low = index < 8 ? scales.byte(index) & 0x0F : scales.byte(index - 8) >> 4
    let high = (scales.byte(8 + index % 4) >> (2 * (index / 4))) & 3
    return Int32(low | (high << 4)) - 32
}

/// IQ4_XS: the signed scale (already minus 32) of 32-element sub-block `index` (0..7).
@inline(__always)
func scaleIQ4XS(_ block: UnsafeRawPointer, _ index: Int) -> Int32 {
    let low = (block.byte(4 + index / 2) >> (4 * UInt8(index % 2))) & 0x0F
    let high = UInt8(truncatingIfNeeded: block.uint16(2) >> (2 * UInt16(index))) & 3
    return Int32(low | (high << 4)) - 32
}
